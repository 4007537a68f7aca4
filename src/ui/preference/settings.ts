// The Preference form's settings, kept across reloads (localStorage), with defaults sized for a CPU
// adapter, and one place that says what is wrong with a setting before the engine is asked.
import { LANGUAGE_CODES } from '../../data/languages.ts';
import { DEFAULT_MIN_NEW_TOKENS } from '../../model/sample.ts';
import type { DpoRequest } from '../../engine/api.ts';
import type { ModelConfig } from '../../model/config.ts';
import { DPO_LOSSES, type DpoLossType } from '../../ops/dpo.ts';
import type { PreferenceMode } from '../../train/preference.ts';
import { loadPref, savePref } from '../common/localPref.ts';

/** The preference modes (the engine's PREFERENCE_MODES; listed here so the page does not load the trainer). */
export const MODES = ['offline', 'online', 'offline+online'] as const satisfies readonly PreferenceMode[];
export const LOSSES: readonly DpoLossType[] = DPO_LOSSES;

/** Where offline pairs come from; `none` = online only. */
export type DataChoice = 'arbitrage' | 'jsonl' | 'clicks' | 'none';
export const DATA_CHOICES: readonly DataChoice[] = ['arbitrage', 'jsonl', 'clicks', 'none'];

/** The form's numbers: the request's, its sampling settings', and how many prompts per language. */
export type Numbers = Pick<DpoRequest, 'beta' | 'lr' | 'batchPairs' | 'seqLen' | 'seed' | 'offlineSteps' | 'onlineSteps' | 'iterations' | 'samplesPerPrompt' | 'evalEvery'> & { checkpointEvery: number } &
  Pick<DpoRequest['sampling'], 'temperature' | 'topK' | 'topP' | 'maxNewTokens'> & {
    /** HF's min_new_tokens: no `<eos>` before this many new tokens. */
    minNewTokens: number;
    onlinePerLanguage: number;
    evalPerLanguage: number;
  };

export interface PreferenceSettings {
  /** '' until chosen: the panel picks the arbitrage SFT student, else the base student. */
  modelId: string;
  name: string;
  /** null until chosen: the panel picks the first source that has pairs. */
  data: DataChoice | null;
  /** The arbitrage run the pairs come from ('' = the newest). */
  arbitrageRunId: string;
  /** For JSONL lines without a "language" field ('' = such lines are an error). */
  jsonlLanguage: string;
  mode: PreferenceMode;
  loss: DpoLossType;
  /** Languages of the online prompts (UDHR training split) and the held-out evaluation prompts. */
  languages: string[];
  n: Numbers;
}

export const DEFAULT_NUMBERS: Numbers = {
  beta: 0.1,
  lr: 1e-3,
  batchPairs: 4,
  seqLen: 64,
  seed: 1,
  offlineSteps: 20,
  onlineSteps: 5,
  iterations: 3,
  samplesPerPrompt: 4,
  temperature: 0.9,
  topK: 40,
  topP: 0.95,
  maxNewTokens: 24,
  minNewTokens: DEFAULT_MIN_NEW_TOKENS,
  evalEvery: 5,
  checkpointEvery: 5,
  onlinePerLanguage: 2,
  evalPerLanguage: 1,
};

export const DEFAULT_LANGUAGES = ['eng', 'fra', 'rus', 'arb'];

export function defaultSettings(): PreferenceSettings {
  return {
    modelId: '',
    name: '',
    data: null,
    arbitrageRunId: '',
    jsonlLanguage: '',
    mode: 'offline+online',
    loss: 'sigmoid',
    languages: [...DEFAULT_LANGUAGES],
    n: { ...DEFAULT_NUMBERS },
  };
}

const KEY = 'aya.preference.settings';

export function loadSettings(): PreferenceSettings {
  const d = defaultSettings();
  const s = loadPref<Partial<PreferenceSettings>>(KEY, {});
  const n = { ...d.n };
  for (const k of Object.keys(n) as Array<keyof Numbers>) {
    const v = s.n?.[k];
    if (typeof v === 'number' && Number.isFinite(v)) n[k] = v;
  }
  return {
    modelId: typeof s.modelId === 'string' ? s.modelId : d.modelId,
    name: typeof s.name === 'string' ? s.name : d.name,
    data: DATA_CHOICES.includes(s.data as DataChoice) ? (s.data as DataChoice) : d.data,
    arbitrageRunId: typeof s.arbitrageRunId === 'string' ? s.arbitrageRunId : d.arbitrageRunId,
    jsonlLanguage: typeof s.jsonlLanguage === 'string' && LANGUAGE_CODES.includes(s.jsonlLanguage) ? s.jsonlLanguage : '',
    mode: (MODES as readonly string[]).includes(s.mode as string) ? (s.mode as PreferenceMode) : d.mode,
    loss: LOSSES.includes(s.loss as DpoLossType) ? (s.loss as DpoLossType) : d.loss,
    languages: Array.isArray(s.languages) ? LANGUAGE_CODES.filter((c) => s.languages!.includes(c)) : d.languages,
    n,
  };
}

export function saveSettings(s: PreferenceSettings): string | null {
  return savePref(KEY, s);
}

const isInt = (v: number, min: number) => Number.isInteger(v) && v >= min;
const finite = (v: number) => typeof v === 'number' && Number.isFinite(v);

/** What is wrong with the numbers that matter for `mode`, field by field (empty when nothing is). */
export function numberErrors(n: Numbers, mode: PreferenceMode, config: ModelConfig | null): Partial<Record<keyof Numbers, string>> {
  const e: Partial<Record<keyof Numbers, string>> = {};
  const offline = mode !== 'online';
  const online = mode !== 'offline';
  if (!finite(n.beta) || n.beta <= 0) e.beta = 'a number > 0';
  if (!finite(n.lr) || n.lr <= 0 || n.lr > 1) e.lr = 'a number > 0 and ≤ 1';
  if (!isInt(n.batchPairs, 1) || n.batchPairs > 64) e.batchPairs = 'a whole number from 1 to 64';
  const maxSeq = config ? config.maxPositionEmbeddings : 4096;
  if (!isInt(n.seqLen, 4) || n.seqLen > maxSeq) e.seqLen = `a whole number from 4 to ${maxSeq}${config ? ' (the model’s context)' : ''}`;
  if (!isInt(n.seed, 0)) e.seed = 'a whole number ≥ 0';
  if (offline && !isInt(n.offlineSteps, 1)) e.offlineSteps = 'a whole number ≥ 1';
  if (online) {
    if (!isInt(n.onlineSteps, 1)) e.onlineSteps = 'a whole number ≥ 1';
    if (!isInt(n.iterations, 1)) e.iterations = 'a whole number ≥ 1';
    if (!isInt(n.samplesPerPrompt, 2)) e.samplesPerPrompt = 'a whole number ≥ 2 (best vs worst needs two)';
    if (!isInt(n.onlinePerLanguage, 1)) e.onlinePerLanguage = 'a whole number ≥ 1';
  }
  if (!finite(n.temperature) || n.temperature < 0) e.temperature = 'a number ≥ 0';
  if (!isInt(n.topK, 0)) e.topK = 'a whole number ≥ 0 (0: all)';
  if (!(n.topP > 0 && n.topP <= 1)) e.topP = 'in (0, 1]';
  if (!isInt(n.maxNewTokens, 1) || n.maxNewTokens > 256) e.maxNewTokens = 'a whole number from 1 to 256';
  if (!isInt(n.minNewTokens, 0) || n.minNewTokens > 256) e.minNewTokens = 'a whole number from 0 to 256';
  if (!isInt(n.checkpointEvery, 0)) e.checkpointEvery = 'a whole number ≥ 0 (0: none)';
  if (!isInt(n.evalEvery, 0)) e.evalEvery = 'a whole number ≥ 0 (0: at each stage’s end)';
  if (!isInt(n.evalPerLanguage, 0)) e.evalPerLanguage = 'a whole number ≥ 0 (0: no evaluation)';
  return e;
}

/** Evaluations a run makes: the start, every `evalEvery` steps inside a stage, and each stage's end. */
export function evaluationCount(n: Numbers, mode: PreferenceMode): number {
  const stageSteps: number[] = [];
  if (mode !== 'online') stageSteps.push(n.offlineSteps);
  if (mode !== 'offline') for (let i = 0; i < n.iterations; i++) stageSteps.push(n.onlineSteps);
  let count = 1;
  for (const s of stageSteps) count += (n.evalEvery > 0 ? Math.floor((s - 1) / n.evalEvery) : 0) + 1;
  return count;
}

export function totalSteps(n: Numbers, mode: PreferenceMode): number {
  return (mode !== 'online' ? n.offlineSteps : 0) + (mode !== 'offline' ? n.iterations * n.onlineSteps : 0);
}
