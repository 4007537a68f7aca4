// The Arbitrage panel's last form, kept across reloads.
import { LANGUAGE_CODES } from '../../data/languages.ts';
import { STRATEGIES, type Strategy } from '../../arbitrage/arbitrage.ts';
import { loadPref, savePref } from '../common/localPref.ts';
import { DEFAULT_MIN_NEW_TOKENS } from '../../model/sample.ts';

export type PromptSourceChoice = 'train' | 'heldout' | 'jsonl';

export interface ArbitrageSettings {
  teacherIds: string[];
  source: PromptSourceChoice;
  languages: string[];
  perLanguage: number;
  strategy: Strategy;
  samplesPerTeacher: number;
  seed: number;
  maxNewTokens: number;
  /** HF's min_new_tokens: no `<eos>` before this many new tokens. */
  minNewTokens: number;
  temperature: number;
  single: string;
  routerRunId: string;
}

const KEY = 'aya.arbitrage.settings';

export const DEFAULT_ARBITRAGE_SETTINGS: ArbitrageSettings = {
  teacherIds: [],
  source: 'train',
  languages: ['fra', 'deu', 'rus', 'arb', 'jpn'],
  perLanguage: 2,
  strategy: 'reward',
  samplesPerTeacher: 1,
  seed: 1,
  maxNewTokens: 24,
  minNewTokens: DEFAULT_MIN_NEW_TOKENS,
  temperature: 0.8,
  single: '',
  routerRunId: '',
};

export function loadArbitrageSettings(): ArbitrageSettings {
  const s = loadPref<Partial<ArbitrageSettings>>(KEY, {});
  const d = DEFAULT_ARBITRAGE_SETTINGS;
  const num = (v: unknown, dflt: number) => (typeof v === 'number' && Number.isFinite(v) ? v : dflt);
  return {
    teacherIds: Array.isArray(s.teacherIds) ? s.teacherIds.filter((x) => typeof x === 'string') : d.teacherIds,
    source: s.source === 'heldout' || s.source === 'jsonl' ? s.source : 'train',
    languages: Array.isArray(s.languages) ? s.languages.filter((x) => LANGUAGE_CODES.includes(x)) : d.languages,
    perLanguage: num(s.perLanguage, d.perLanguage),
    strategy: STRATEGIES.includes(s.strategy as Strategy) ? (s.strategy as Strategy) : d.strategy,
    samplesPerTeacher: num(s.samplesPerTeacher, d.samplesPerTeacher),
    seed: num(s.seed, d.seed),
    maxNewTokens: num(s.maxNewTokens, d.maxNewTokens),
    minNewTokens: num(s.minNewTokens, d.minNewTokens),
    temperature: num(s.temperature, d.temperature),
    single: typeof s.single === 'string' ? s.single : '',
    routerRunId: typeof s.routerRunId === 'string' ? s.routerRunId : '',
  };
}

export function saveArbitrageSettings(s: ArbitrageSettings): string | null {
  return savePref(KEY, s);
}
