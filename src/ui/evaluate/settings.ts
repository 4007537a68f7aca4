// Evaluate's last form, kept across reloads (localStorage: small and synchronous, so the panel opens
// on the same settings). The imported JSONL itself is kept in IndexedDB by the panel.
import { LANGUAGE_CODES } from '../../data/languages.ts';
import { DEFAULT_BOOTSTRAP } from '../../eval/headToHead.ts';
import { DEFAULT_MIN_NEW_TOKENS } from '../../model/sample.ts';
import { loadPref, savePref } from '../common/localPref.ts';
import { JUDGE_CHOICES, type JudgeChoice } from '../../eval/llmJudge.ts';

export type SourceChoice = 'heldout' | 'train' | 'jsonl';

export interface EvalSettings {
  a: string;
  b: string;
  source: SourceChoice;
  /** For JSONL lines without a "language" field ('' = such lines are an error). */
  jsonlLanguage: string;
  languages: string[];
  perLanguage: number;
  samples: number;
  seed: number;
  maxNewTokens: number;
  /** `<eos>` is not sampled before this many new tokens (HF's min_new_tokens). */
  minNewTokens: number;
  temperature: number;
  topK: number;
  topP: number;
  bootstrap: number;
  /** Who judges: the Arbiter, an LLM judge, or both (the Arbiter headlines, the LLM judge beside it). */
  judge: JudgeChoice;
  /** The LLM judge's model: one of ours or a teacher id ('' = none chosen). */
  judgeModel: string;
  /** Constrain the judge's reply to a verdict (a grammar / response_format / our constrained decoding). */
  judgeConstrain: boolean;
  /** The judge's reply budget in tokens. */
  judgeMaxTokens: number;
}

/** DESIGN §11: at least 1000 resamples. */
export const MIN_BOOTSTRAP = 1000;

const KEY = 'aya.evaluate.settings';

export function defaultSettings(): EvalSettings {
  return {
    a: 'builtin:teacher-romance',
    b: 'builtin:base-student',
    source: 'heldout',
    jsonlLanguage: '',
    languages: [...LANGUAGE_CODES],
    perLanguage: 4,
    samples: 1,
    seed: 1,
    maxNewTokens: 32,
    minNewTokens: DEFAULT_MIN_NEW_TOKENS,
    temperature: 0.8,
    topK: 40,
    topP: 0.95,
    bootstrap: DEFAULT_BOOTSTRAP,
    judge: 'arbiter',
    judgeModel: '',
    judgeConstrain: true,
    judgeMaxTokens: 32,
  };
}

export function loadSettings(): EvalSettings {
  const d = defaultSettings();
  const s = loadPref<Partial<EvalSettings>>(KEY, {});
  const out = { ...d };
  // Anything missing or of the wrong type (an older version's settings) falls back to the default.
  for (const k of Object.keys(d) as Array<keyof EvalSettings>) {
    const v = s[k];
    if (typeof d[k] === 'number' && typeof v === 'number' && Number.isFinite(v)) (out as Record<string, unknown>)[k] = v;
    if (typeof d[k] === 'string' && typeof v === 'string') (out as Record<string, unknown>)[k] = v;
    if (typeof d[k] === 'boolean' && typeof v === 'boolean') (out as Record<string, unknown>)[k] = v;
  }
  if (!JUDGE_CHOICES.includes(out.judge)) out.judge = d.judge;
  if (!['heldout', 'train', 'jsonl'].includes(out.source)) out.source = d.source;
  if (out.jsonlLanguage && !LANGUAGE_CODES.includes(out.jsonlLanguage)) out.jsonlLanguage = '';
  if (Array.isArray(s.languages)) out.languages = LANGUAGE_CODES.filter((c) => s.languages!.includes(c));
  return out;
}

export function saveSettings(s: EvalSettings): string | null {
  return savePref(KEY, s);
}

/** What is wrong with a number field, by field; empty when the form can run. */
export function settingErrors(s: EvalSettings): Partial<Record<keyof EvalSettings, string>> {
  const e: Partial<Record<keyof EvalSettings, string>> = {};
  const posInt = (v: number) => Number.isInteger(v) && v >= 1;
  if (!posInt(s.perLanguage)) e.perLanguage = 'a whole number ≥ 1';
  if (!posInt(s.samples)) e.samples = 'a whole number ≥ 1';
  if (!Number.isInteger(s.seed)) e.seed = 'a whole number';
  if (!posInt(s.maxNewTokens)) e.maxNewTokens = 'a whole number ≥ 1';
  if (!(Number.isInteger(s.minNewTokens) && s.minNewTokens >= 0)) e.minNewTokens = 'a whole number ≥ 0';
  if (!(Number.isFinite(s.temperature) && s.temperature >= 0)) e.temperature = '≥ 0';
  if (!(Number.isInteger(s.topK) && s.topK >= 0)) e.topK = 'a whole number ≥ 0';
  if (!(s.topP > 0 && s.topP <= 1)) e.topP = 'in (0, 1]';
  if (!(Number.isInteger(s.bootstrap) && s.bootstrap >= MIN_BOOTSTRAP)) e.bootstrap = `a whole number ≥ ${MIN_BOOTSTRAP}`;
  if (s.judge !== 'arbiter' && !(Number.isInteger(s.judgeMaxTokens) && s.judgeMaxTokens >= 8 && s.judgeMaxTokens <= 8192)) e.judgeMaxTokens = 'a whole number from 8 to 8192';
  return e;
}
