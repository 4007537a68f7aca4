// The Train form's settings, kept across reloads (localStorage), with defaults sized for a CPU
// adapter (SwiftShader: about a second per step of the 'tiny' model at batch 4 × 32) and one place
// that says what is wrong with a setting before the engine is asked.
import { FAMILIES, LANGUAGES, LANGUAGE_CODES } from '../../data/languages.ts';
import type { ModelConfig } from '../../model/config.ts';
import type { TrainRequest } from '../../engine/api.ts';
import { loadPref, savePref } from '../common/localPref.ts';

/** The training schedule the form edits: the engine's own fields of a train request. */
export type Schedule = Pick<TrainRequest, 'steps' | 'batchSize' | 'seqLen' | 'lr' | 'seed' | 'evalEvery' | 'checkpointEvery'>;

export interface TrainSettings {
  modelId: string;
  name: string;
  /** Weight per language code (0 = not in the mix). */
  weights: Record<string, number>;
  /** With an imported JSONL: also train on the UDHR training split. */
  alsoUdhr: boolean;
  schedule: Schedule;
}

export const DEFAULT_SCHEDULE: Schedule = { steps: 60, batchSize: 4, seqLen: 32, lr: 3e-3, seed: 1, evalEvery: 20, checkpointEvery: 20 };

/** Quick mixes: each family's languages plus eng/spa/fra (as Aya trained its experts), all 23, none. */
export const MIX_PRESETS: Array<{ id: string; label: string; title: string; languages: readonly string[] }> = [
  ...FAMILIES.map((f) => ({
    id: f.id,
    label: f.name,
    title: `${f.trainLanguages.map((c) => LANGUAGES.find((l) => l.code === c)?.name ?? c).join(', ')} — weight 1 each`,
    languages: f.trainLanguages,
  })),
  { id: 'all', label: 'All 23', title: 'Every language, weight 1 each', languages: LANGUAGE_CODES },
  { id: 'clear', label: 'Clear', title: 'Every weight 0', languages: [] },
];

export function presetWeights(languages: readonly string[]): Record<string, number> {
  return Object.fromEntries(LANGUAGE_CODES.map((c) => [c, languages.includes(c) ? 1 : 0]));
}

export function defaultSettings(): TrainSettings {
  return { modelId: '', name: '', weights: presetWeights(FAMILIES[0].trainLanguages), alsoUdhr: true, schedule: { ...DEFAULT_SCHEDULE } };
}

const KEY = 'aya.train.settings';

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

export function loadSettings(): TrainSettings {
  const d = defaultSettings();
  const s = loadPref<Partial<TrainSettings>>(KEY, {});
  const weights = { ...d.weights };
  if (s.weights && typeof s.weights === 'object') for (const c of LANGUAGE_CODES) weights[c] = finite(s.weights[c]) && s.weights[c] >= 0 ? s.weights[c] : 0;
  const schedule = { ...d.schedule };
  for (const k of Object.keys(schedule) as Array<keyof Schedule>) {
    const v = s.schedule?.[k];
    if (finite(v)) schedule[k] = v;
  }
  return {
    modelId: typeof s.modelId === 'string' ? s.modelId : d.modelId,
    name: typeof s.name === 'string' ? s.name : d.name,
    weights,
    alsoUdhr: typeof s.alsoUdhr === 'boolean' ? s.alsoUdhr : d.alsoUdhr,
    schedule,
  };
}

export function saveSettings(s: TrainSettings): string | null {
  return savePref(KEY, s);
}

const isInt = (v: number, min: number) => Number.isInteger(v) && v >= min;

/** What is wrong with the schedule, field by field (empty when nothing is). */
export function scheduleErrors(s: Schedule, config: ModelConfig | null): Partial<Record<keyof Schedule, string>> {
  const e: Partial<Record<keyof Schedule, string>> = {};
  if (!isInt(s.steps, 1)) e.steps = 'a whole number ≥ 1';
  if (!isInt(s.batchSize, 1) || s.batchSize > 256) e.batchSize = 'a whole number from 1 to 256';
  const maxSeq = config ? config.maxPositionEmbeddings - 1 : 4096;
  if (!isInt(s.seqLen, 2) || s.seqLen > maxSeq) e.seqLen = `a whole number from 2 to ${maxSeq}${config ? ' (the model’s context − 1)' : ''}`;
  if (!finite(s.lr) || s.lr <= 0 || s.lr > 1) e.lr = 'a number > 0 and ≤ 1';
  if (!isInt(s.seed, 0)) e.seed = 'a whole number ≥ 0';
  if (!isInt(s.evalEvery, 0)) e.evalEvery = 'a whole number ≥ 0 (0: only at the end)';
  if (!isInt(s.checkpointEvery, 0)) e.checkpointEvery = 'a whole number ≥ 0 (0: none)';
  return e;
}
