// Compare's last settings, kept across reloads: a lecturer reopens the page on the same screen.
import { LANGUAGES } from '../../data/languages.ts';
import { DEFAULT_SAMPLING, type SamplingOptions } from '../../model/sample.ts';
import { loadPref, savePref } from '../common/localPref.ts';

/** `promptChoice` is a held-out prompt's id, or this for the person's own text. */
export const OWN_PROMPT = 'own';

export interface CompareSettings {
  lang: string;
  promptChoice: string;
  ownPrompt: string;
  modelIds: string[];
  sampling: SamplingOptions;
}

/** The engine keeps at most six models on the GPU at once; more would reload weights every run. */
export const MAX_MODELS = 6;

const KEY = 'aya.compare.settings';

export function defaultSettings(): CompareSettings {
  return { lang: 'eng', promptChoice: '', ownPrompt: '', modelIds: [], sampling: { ...DEFAULT_SAMPLING } };
}

export function loadSettings(): CompareSettings {
  const d = defaultSettings();
  const s = loadPref<Partial<CompareSettings>>(KEY, {});
  // Anything missing or of the wrong type (an older version's settings) falls back to the default.
  const sampling = { ...d.sampling };
  for (const k of Object.keys(sampling) as Array<keyof SamplingOptions>) {
    const v = s.sampling?.[k];
    if (typeof v === 'number' && Number.isFinite(v)) sampling[k] = v;
  }
  return {
    lang: LANGUAGES.some((l) => l.code === s.lang) ? (s.lang as string) : d.lang,
    promptChoice: typeof s.promptChoice === 'string' ? s.promptChoice : d.promptChoice,
    ownPrompt: typeof s.ownPrompt === 'string' ? s.ownPrompt : d.ownPrompt,
    modelIds: Array.isArray(s.modelIds) ? s.modelIds.filter((x) => typeof x === 'string') : d.modelIds,
    sampling,
  };
}

export function saveSettings(s: CompareSettings): string | null {
  return savePref(KEY, s);
}
