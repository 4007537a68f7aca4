// The Merge panel's form: what it holds (kept in localStorage), how it becomes a MergeConfig (with
// errors a person can act on), and how a mergekit YAML fills it (model names mapped to stored ids).
//
// Parameter values are typed as mergekit's YAML values, so one text field takes a number (`0.5`), a
// per-layer gradient (`[0, 0.5, 1]`) or filtered entries (`[{filter: mlp, value: 0.3}, {value: 0.7}]`).
import YAML from 'yaml';
import {
  evaluateSetting,
  MERGE_METHODS,
  METHOD_INFO,
  type MergeConfig,
  type MergeMethod,
  type MergeModelEntry,
  type MergeParameters,
  type ParameterSetting,
  planTensor,
  tensorPosition,
  validateMergeConfig,
} from '../../merge/config.ts';
import type { ModelSummary } from '../../engine/models.ts';
import { parameterShapes } from '../../model/config.ts';
import { LANGUAGE_CODES } from '../../data/languages.ts';
import { loadPref, savePref } from '../common/localPref.ts';

/** A boolean parameter left at the method's (mergekit's) default, or set. */
export type Flag = 'default' | 'true' | 'false';
/** rescale: mergekit's default for the method, L1-norm matching (mergekit's `true`), the DARE paper's 1/density, or off. */
export type RescaleChoice = 'default' | 'l1' | 'inverse_density' | 'none';

export interface MergeSettings {
  method: MergeMethod;
  /** The merged models, in order (for SLERP: the base is the t = 0 end, the other model t = 1). */
  modelIds: string[];
  /** '' = none (linear has no base). */
  baseId: string;
  /** Per model: per-model parameter (weight, density, gamma) → the text typed. */
  perModel: Record<string, Record<string, string>>;
  /** Numeric global parameters (t, lambda) → text. */
  global: Record<string, string>;
  /** Boolean global parameters (normalize, int8_mask, filter_wise). */
  flags: Record<string, Flag>;
  rescale: RescaleChoice;
  /** DARE's mask seed. */
  seed: number;
  name: string;
  /** False while the name follows the models and method; true once someone typed one. */
  nameTouched: boolean;
  /** Held-out loss of the result and its inputs is measured on these. */
  languages: string[];
  /** What an imported YAML said that the form does not show (kept for the merge and the export). */
  extras: { dtype?: string; tokenizerSource?: string; layerRange?: [number, number] };
}

const KEY = 'aya.merge.settings';

export const METHOD_HELP: Record<MergeMethod, string> = {
  linear: 'Σ wᵢ·θᵢ (÷ Σ wᵢ when normalize): a weighted average of the weights — what Aya Expanse used throughout. No base.',
  task_arithmetic: 'θ_base + λ·Σ wᵢ·τᵢ with task vectors τᵢ = θᵢ − θ_base: add up what each model learned on top of the base.',
  slerp: 'two models only: walk the arc between them (the base is t = 0) instead of the straight chord; nearly parallel tensors fall back to linear.',
  ties: 'trim each task vector to its largest |τ| (density), elect one sign per weight by a weighted vote, average only the entries that agree.',
  dare_linear: 'drop each task-vector entry at random with probability 1 − density, rescale what is left, then task arithmetic.',
  dare_ties: "DARE's random drop and rescale, then TIES's sign election.",
  breadcrumbs: 'drop the largest (top γ) and the smallest |τ| entries, keep density of them in between, then task arithmetic.',
  breadcrumbs_ties: "breadcrumbs' mask, then TIES's sign election.",
  model_stock: 'no weights: moves from the base toward the models’ mean by t = N·cos/(1 + (N−1)·cos), from the angle between their task vectors.',
};

export const PARAM_HELP: Record<string, string> = {
  weight: 'this model’s weight',
  density: 'fraction of its task vector kept (1 = all)',
  gamma: 'fraction of the largest |τ| dropped as outliers',
  t: '0 = the base, 1 = the other model',
  lambda: 'scales the merged task vector',
  normalize: 'divide by the sum of the weights',
  int8_mask: 'store masks as int8 (memory only; same result)',
  filter_wise: 'one interpolation ratio per row instead of per tensor',
};

export function defaultSettings(): MergeSettings {
  return {
    method: 'linear',
    modelIds: ['builtin:base-student', 'builtin:teacher-romance'],
    baseId: '',
    perModel: {},
    global: {},
    flags: {},
    rescale: 'default',
    seed: 0,
    name: '',
    nameTouched: false,
    languages: [...LANGUAGE_CODES],
    extras: {},
  };
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const strRecord = (v: unknown): Record<string, string> => (isRecord(v) ? Object.fromEntries(Object.entries(v).filter(([, x]) => typeof x === 'string')) as Record<string, string> : {});

export function loadSettings(): MergeSettings {
  const d = defaultSettings();
  const s = loadPref<Partial<MergeSettings>>(KEY, {});
  const flags: Record<string, Flag> = {};
  if (isRecord(s.flags)) for (const [k, v] of Object.entries(s.flags)) if (v === 'true' || v === 'false') flags[k] = v;
  return {
    method: (MERGE_METHODS as readonly string[]).includes(s.method as string) ? (s.method as MergeMethod) : d.method,
    modelIds: Array.isArray(s.modelIds) ? s.modelIds.filter((x) => typeof x === 'string') : d.modelIds,
    baseId: typeof s.baseId === 'string' ? s.baseId : d.baseId,
    perModel: isRecord(s.perModel) ? Object.fromEntries(Object.entries(s.perModel).map(([k, v]) => [k, strRecord(v)])) : {},
    global: strRecord(s.global),
    flags,
    rescale: ['l1', 'inverse_density', 'none'].includes(s.rescale as string) ? (s.rescale as RescaleChoice) : 'default',
    seed: typeof s.seed === 'number' && Number.isInteger(s.seed) ? s.seed : d.seed,
    name: typeof s.name === 'string' ? s.name : d.name,
    nameTouched: s.nameTouched === true,
    languages: Array.isArray(s.languages) ? LANGUAGE_CODES.filter((c) => s.languages!.includes(c)) : d.languages,
    extras: isRecord(s.extras) ? (s.extras as MergeSettings['extras']) : {},
  };
}

export function saveSettings(s: MergeSettings): string | null {
  return savePref(KEY, s);
}

// ---- parameter text ----------------------------------------------------------------------------

/** A setting as one line of YAML flow text: `0.5`, `[0, 0.5, 1]`, `[{filter: mlp, value: 0.3}, {value: 0.7}]`. */
export function settingText(v: ParameterSetting | undefined): string {
  if (v === undefined) return '';
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string') return String(v);
  return YAML.stringify(v, { collectionStyle: 'flow' })
    .trim()
    .replace(/\[ /g, '[')
    .replace(/ \]/g, ']')
    .replace(/\{ /g, '{')
    .replace(/ \}/g, '}');
}

/** Parses a parameter field; throws a sentence naming the field. */
export function parseSettingText(text: string, where: string): ParameterSetting {
  const raw = text.trim();
  if (raw === '') throw new Error(`${where}: empty — give a number like 0.5 or a per-layer list like [0, 0.5, 1]`);
  let v: unknown;
  try {
    v = YAML.parse(raw);
  } catch (e) {
    throw new Error(`${where}: “${raw}” is not a number or a list like [0, 0.5, 1] (${(e as Error).message.split('\n')[0]})`);
  }
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error(`${where}: ${raw} is not a finite number`);
    return v;
  }
  if (Array.isArray(v)) {
    if (v.length === 0) throw new Error(`${where}: an empty list; give at least one value, e.g. [0, 0.5, 1]`);
    if (v.every((x) => typeof x === 'number')) {
      if (!v.every((x) => Number.isFinite(x))) throw new Error(`${where}: every value of the list must be a finite number`);
      return v as number[];
    }
    if (v.every((x) => isRecord(x) && 'value' in x)) return v as ParameterSetting;
    throw new Error(`${where}: “${raw}” mixes numbers with other things; a per-layer list holds numbers only, e.g. [0, 0.5, 1]`);
  }
  throw new Error(`${where}: “${raw}” is not a number (e.g. 0.5) or a per-layer list (e.g. [0, 0.5, 1])`);
}

/** The value a setting takes at each layer (and the embeddings), for the preview under a field. */
export function schedulePreview(setting: ParameterSetting, numLayers: number, tensorSuffix = 'self_attn.q_proj.weight'): Array<{ label: string; value: number | boolean | string | undefined }> {
  const out: Array<{ label: string; value: number | boolean | string | undefined }> = [{ label: 'emb', value: evaluateSetting('model.embed_tokens.weight', setting, 0) }];
  for (let l = 0; l < numLayers; l++) {
    const name = `model.layers.${l}.${tensorSuffix}`;
    out.push({ label: `L${l}`, value: evaluateSetting(name, setting, tensorPosition(name, numLayers).t) });
  }
  return out;
}

export const isScalarText = (text: string | undefined) => text !== undefined && /^\s*-?\d*\.?\d+(e-?\d+)?\s*$/i.test(text);

// ---- settings → config -------------------------------------------------------------------------

export const usesBase = (m: MergeMethod) => METHOD_INFO[m].base === 'required';

/** The models that carry per-model parameters (for linear: all; otherwise all but the base). */
export function contributingIds(s: MergeSettings): string[] {
  return usesBase(s.method) ? s.modelIds.filter((id) => id !== s.baseId) : s.modelIds;
}

/** Every model the merge reads, base first. */
export function inputIds(s: MergeSettings): string[] {
  const out = usesBase(s.method) && s.baseId ? [s.baseId] : [];
  for (const id of s.modelIds) if (!out.includes(id)) out.push(id);
  return out;
}

export function defaultText(param: string): string {
  if (param === 'weight') return '1';
  if (param === 't') return '0.5';
  const def = Object.values(METHOD_INFO).flatMap((i) => [...i.global, ...i.perModel]).find((p) => p.name === param)?.default;
  return def === undefined ? '' : String(def);
}

export const perModelText = (s: MergeSettings, id: string, param: string): string => s.perModel[id]?.[param] ?? defaultText(param);
export const globalText = (s: MergeSettings, param: string): string => s.global[param] ?? defaultText(param);

export interface Built {
  config: MergeConfig | null;
  /** Field problems, each a sentence; the merge button stays off while there are any. */
  errors: string[];
  warnings: string[];
}

/** The form as a MergeConfig, checked the way the merge will check it (validateMergeConfig, and every
 *  tensor's plan when the models' shape is known), so a problem shows before anything runs. */
export function buildConfig(s: MergeSettings, models: ModelSummary[]): Built {
  const errors: string[] = [];
  const info = METHOD_INFO[s.method];
  const nameOf = (id: string) => models.find((m) => m.id === id)?.name ?? id;
  const missing = inputIds(s).filter((id) => !models.some((m) => m.id === id));
  if (missing.length) errors.push(`Not stored here (any more): ${missing.join(', ')}. Choose other models.`);
  if (info.base === 'required' && !s.baseId) errors.push(`${info.label} needs a base model (task vectors are θᵢ − θ_base${s.method === 'slerp' ? '; for SLERP the base is t = 0' : ''}).`);

  const entries: MergeModelEntry[] = [];
  const contributing = contributingIds(s);
  const ids = s.method === 'slerp' && s.baseId ? [s.baseId, ...contributing] : contributing;
  for (const id of ids) {
    const parameters: MergeParameters = {};
    if (!(s.method === 'slerp' && id === s.baseId)) {
      for (const p of info.perModel) {
        // A parameter left at mergekit's default is not written (the YAML reads as a person would write it).
        if (!p.required && s.perModel[id]?.[p.name] === undefined) continue;
        try {
          parameters[p.name] = parseSettingText(perModelText(s, id, p.name), `${p.name} of ${nameOf(id)}`);
        } catch (e) {
          errors.push((e as Error).message);
        }
      }
    }
    entries.push(Object.keys(parameters).length ? { model: id, parameters } : { model: id });
  }
  const parameters: MergeParameters = {};
  for (const p of info.global) {
    if (p.name === 'rescale') {
      if (s.rescale === 'l1') parameters.rescale = true;
      else if (s.rescale === 'none') parameters.rescale = false;
      else if (s.rescale === 'inverse_density') parameters.rescale = 'inverse_density';
    } else if (typeof p.default === 'boolean') {
      const f = s.flags[p.name];
      if (f === 'true' || f === 'false') parameters[p.name] = f === 'true';
    } else {
      if (!p.required && s.global[p.name] === undefined) continue;
      try {
        parameters[p.name] = parseSettingText(globalText(s, p.name), p.name);
      } catch (e) {
        errors.push((e as Error).message);
      }
    }
  }
  if (!(Number.isInteger(s.seed) && s.seed >= 0 && s.seed <= 0xffffffff)) errors.push('Seed: a whole number from 0 to 4294967295.');
  if (inputIds(s).length < 2) errors.push(`Choose at least two models${info.base === 'required' ? ' (the base counts)' : ''}.`);
  const config: MergeConfig = { method: s.method, baseModel: info.base === 'required' ? s.baseId || null : null, models: entries };
  if (Object.keys(parameters).length) config.parameters = parameters;
  if (info.sparsify === 'random') config.seed = s.seed;
  if (s.extras.dtype) config.dtype = s.extras.dtype;
  if (s.extras.tokenizerSource && inputIds(s).includes(s.extras.tokenizerSource)) config.tokenizerSource = s.extras.tokenizerSource;
  if (s.extras.layerRange) config.layerRange = s.extras.layerRange;
  if (errors.length) return { config: null, errors, warnings: [] };

  let warnings: string[] = [];
  try {
    warnings = validateMergeConfig(config).warnings;
    const first = models.find((m) => m.id === inputIds(s)[0]);
    if (first) for (const t of parameterShapes(first.config)) planTensor(config, t.name, first.config.numHiddenLayers);
  } catch (e) {
    return { config: null, errors: [(e as Error).message.replace(/^merge config: /, '')], warnings };
  }
  return { config, errors: [], warnings };
}

// ---- config → settings (a YAML import) ---------------------------------------------------------

/** A mergekit reference (an id, a name, a folder path such as public/models/teacher-romance or
 *  ./teacher-romance/) to a stored model's id, or null. */
export function resolveRef(ref: string, models: ModelSummary[]): string | null {
  const r = ref.trim();
  const byId = models.find((m) => m.id === r);
  if (byId) return byId.id;
  const byName = models.filter((m) => m.name === r);
  if (byName.length === 1) return byName[0].id;
  const base = r.replace(/[/\\]+$/, '').split(/[/\\]/).pop() ?? r;
  const builtin = models.find((m) => m.id === `builtin:${base}`);
  if (builtin) return builtin.id;
  const baseName = models.filter((m) => m.name === base);
  return baseName.length === 1 ? baseName[0].id : null;
}

/** How the export names a model: zoo models as the CLI's folders (so the YAML runs with
 *  `aya-playground merge` as it is), others by their name in the app. */
export function exportRef(id: string, models: ModelSummary[]): string {
  if (id.startsWith('builtin:')) return `public/models/${id.slice('builtin:'.length)}`;
  const m = models.find((x) => x.id === id);
  if (!m) return id;
  return models.filter((x) => x.name === m.name).length === 1 ? m.name : id;
}

/** Fills the form from an imported config; throws a message listing every reference that is not a
 *  stored model. Keeps the held-out languages and the result's name from `current`. */
export function settingsFromConfig(config: MergeConfig, models: ModelSummary[], current: MergeSettings): MergeSettings {
  const refs = [...(config.baseModel ? [config.baseModel] : []), ...config.models.map((m) => m.model)];
  const map = new Map<string, string>();
  const unknown: string[] = [];
  for (const r of refs) {
    const id = resolveRef(r, models);
    if (id) map.set(r, id);
    else if (!unknown.includes(r)) unknown.push(r);
  }
  if (unknown.length) {
    throw new Error(
      `${unknown.length === 1 ? 'This model is' : 'These models are'} not stored in this browser: ${unknown.map((u) => `“${u}”`).join(', ')}. ` +
        `Names are matched to a model's id, its name, or a folder's last part (public/models/teacher-romance → teacher-romance). Import ${unknown.length === 1 ? 'it' : 'them'} under Models, or edit the YAML.`,
    );
  }
  const info = METHOD_INFO[config.method];
  const baseId = config.baseModel ? map.get(config.baseModel)! : '';
  const modelIds: string[] = [];
  for (const m of config.models) {
    const id = map.get(m.model)!;
    if (!modelIds.includes(id)) modelIds.push(id);
  }
  if (info.base === 'required' && baseId && config.method === 'slerp' && !modelIds.includes(baseId)) modelIds.unshift(baseId);
  const g = config.parameters ?? {};
  const perModel: Record<string, Record<string, string>> = {};
  for (const m of config.models) {
    const id = map.get(m.model)!;
    const own: Record<string, string> = {};
    for (const p of info.perModel) {
      const v = m.parameters?.[p.name] ?? g[p.name];
      if (v !== undefined) own[p.name] = settingText(v);
    }
    perModel[id] = own;
  }
  const global: Record<string, string> = {};
  const flags: Record<string, Flag> = {};
  let rescale: RescaleChoice = 'default';
  for (const p of info.global) {
    const v = g[p.name];
    if (v === undefined) continue;
    if (p.name === 'rescale') rescale = v === 'inverse_density' ? 'inverse_density' : v === true || v === 1 || v === 'l1' ? 'l1' : 'none';
    else if (typeof p.default === 'boolean') flags[p.name] = v === true || v === 1 ? 'true' : 'false';
    else global[p.name] = settingText(v);
  }
  return {
    ...current,
    method: config.method,
    modelIds,
    baseId: info.base === 'required' ? baseId : '',
    perModel,
    global,
    flags,
    rescale,
    seed: config.seed ?? 0,
    nameTouched: false,
    extras: {
      ...(config.dtype ? { dtype: config.dtype } : {}),
      ...(config.tokenizerSource && config.tokenizerSource !== 'base' ? { tokenizerSource: map.get(config.tokenizerSource) ?? config.tokenizerSource } : {}),
      ...(config.layerRange ? { layerRange: config.layerRange } : {}),
    },
  };
}

/** A name for the result from the method and the models, e.g. "linear base-student+teacher-romance". */
export function suggestedName(s: MergeSettings, models: ModelSummary[]): string {
  const short = (id: string) => models.find((m) => m.id === id)?.name ?? id.replace(/^builtin:/, '');
  const info = METHOD_INFO[s.method];
  const weights = info.perModel.some((p) => p.name === 'weight') ? contributingIds(s).map((id) => perModelText(s, id, 'weight').trim()) : [];
  const t = s.method === 'slerp' ? ` t=${globalText(s, 't').trim()}` : '';
  return `${s.method} ${inputIds(s).map(short).join('+')}${weights.some((w) => w !== '1') ? ` w=${weights.join(':')}` : ''}${t}`;
}
