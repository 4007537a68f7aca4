// Merge configurations with mergekit's semantics (DESIGN §10, ../shared/background/merging.md).
//
// A MergeConfig is mergekit's YAML in typed form (yaml.ts converts both ways): a method, an optional
// base model, the models with their parameters, and global parameters. Model references are
// strings: folder paths in the CLI, model ids in the app. Parameter names and values stay mergekit's
// (`weight`, `density`, `t`, `normalize`, `lambda`, `rescale`, `gamma`, `filter_wise`, `int8_mask`),
// so they mean the same in both places.
//
// Public API:
//   MERGE_METHODS, METHOD_INFO[method]     what each method is and which parameters it takes
//   validateMergeConfig(config)            throws a message naming the problem; returns warnings
//   modelRefs(config)                      every referenced model, base first
//   tensorPosition(name, numLayers)        a tensor's layer and gradient position t ∈ [0, 1]
//   evaluateSetting(tensorName, setting, t)  mergekit's evaluate_setting (gradients, filters)
//   planTensor(config, tensorName, numLayers) → TensorRecipe  every number one tensor's merge needs
//   parameterSchedule(config, name, numLayers, opts)  a parameter's value per layer (for plots)
//   dareKey(seed, modelIndex, tensorName)  the seeded stream of one DARE mask (same in WGSL and TS)
import { show } from '../util/show.ts';
import { pcgHash, rngKey } from '../util/rng.ts';

export const MERGE_METHODS = [
  'linear',
  'task_arithmetic',
  'slerp',
  'ties',
  'dare_linear',
  'dare_ties',
  'breadcrumbs',
  'breadcrumbs_ties',
  'model_stock',
] as const;

export type MergeMethod = (typeof MERGE_METHODS)[number];

/** A scalar, a gradient list ([v0..vn], sampled piecewise-linearly over the layers), or a list of
 *  filtered entries (the first whose `filter` is a substring of the tensor name wins; an entry
 *  without a filter, or with filter '*', matches every tensor). */
export type ParameterSetting = number | boolean | string | number[] | ConditionalSetting[];

export interface ConditionalSetting {
  filter?: string | null;
  value: number | boolean | string | number[];
}

export type MergeParameters = Record<string, ParameterSetting>;

export interface MergeModelEntry {
  /** A model folder path (CLI) or a model id (app). */
  model: string;
  parameters?: MergeParameters;
}

export interface MergeConfig {
  method: MergeMethod;
  /** The base: task vectors are θ_i − θ_base; SLERP's t = 0 end. Required by every method but linear. */
  baseModel?: string | null;
  models: MergeModelEntry[];
  /** Global parameters (lowest precedence; per-model parameters win). */
  parameters?: MergeParameters;
  /** mergekit's dtype is recorded but the playground always merges and writes float32. */
  dtype?: string;
  /** Where the tokenizer comes from: 'base' (default: the base, else the first model) or a model
   *  reference; mergekit's 'union' is rejected (merged models must share one vocabulary). */
  tokenizerSource?: string;
  /** Seed of the DARE masks (mergekit: --random-seed; its masks come from torch and differ). */
  seed?: number;
  /** Set when the config came from mergekit `slices:` with one slice over [start, end) of every
   *  model: the merge checks it covers every layer, and the YAML export writes the slice form again. */
  layerRange?: [number, number];
}

/** DARE/TIES rescaling after sparsification: mergekit's current rule matches the L1 norm of the
 *  original task vector (`rescale: true`, the same as 'l1'); the DARE paper divides by the density
 *  ('inverse_density', a playground extension that mergekit cannot express). */
export type RescaleRule = 'none' | 'l1' | 'inverse_density';

export type Sparsification = 'magnitude' | 'random' | 'magnitude_outliers' | null;

interface ParamDef {
  name: string;
  required?: boolean;
  default?: number | boolean;
}

export interface MethodInfo {
  label: string;
  /** The base model is required (task-vector methods, SLERP, Model Stock) or not used (linear). */
  base: 'required' | 'unused';
  /** Global parameters (resolved from `parameters` only). */
  global: ParamDef[];
  /** Per-model parameters (a model's own `parameters` first, then the global ones). */
  perModel: ParamDef[];
  sparsify: Sparsification;
  consensus: 'sum' | null;
  reference: string;
}

const gta = (label: string, sparsify: Sparsification, consensus: 'sum' | null, normalize: boolean, rescale: boolean, reference: string): MethodInfo => ({
  label,
  base: 'required',
  global: [
    { name: 'normalize', default: normalize },
    { name: 'rescale', default: rescale },
    { name: 'lambda', default: 1 },
    { name: 'int8_mask', default: false },
  ],
  perModel: [
    { name: 'weight', required: true },
    { name: 'density', default: 1 },
    ...(sparsify === 'magnitude_outliers' ? [{ name: 'gamma', default: 0.01 }] : []),
  ],
  sparsify,
  consensus,
  reference,
});

/** mergekit's registry (merge_methods/registry.py) for the methods we implement. */
export const METHOD_INFO: Record<MergeMethod, MethodInfo> = {
  linear: {
    label: 'Linear (weighted average)',
    base: 'unused',
    global: [{ name: 'normalize', default: true }],
    perModel: [{ name: 'weight', required: true }],
    sparsify: null,
    consensus: null,
    reference: 'https://arxiv.org/abs/2203.05482',
  },
  slerp: {
    label: 'SLERP',
    base: 'required',
    global: [{ name: 't', required: true }],
    perModel: [],
    sparsify: null,
    consensus: null,
    reference: 'https://en.wikipedia.org/wiki/Slerp',
  },
  task_arithmetic: gta('Task Arithmetic', null, null, false, false, 'https://arxiv.org/abs/2212.04089'),
  ties: gta('TIES', 'magnitude', 'sum', true, false, 'https://arxiv.org/abs/2306.01708'),
  dare_linear: gta('Linear DARE', 'random', null, false, true, 'https://arxiv.org/abs/2311.03099'),
  dare_ties: gta('DARE TIES', 'random', 'sum', false, true, 'https://arxiv.org/abs/2311.03099'),
  breadcrumbs: gta('Model Breadcrumbs', 'magnitude_outliers', null, false, false, 'https://arxiv.org/abs/2312.06795'),
  breadcrumbs_ties: gta('Model Breadcrumbs with TIES', 'magnitude_outliers', 'sum', false, false, 'https://arxiv.org/abs/2312.06795'),
  model_stock: {
    label: 'Model Stock',
    base: 'required',
    global: [{ name: 'filter_wise', default: false }],
    perModel: [],
    sparsify: null,
    consensus: null,
    reference: 'https://arxiv.org/abs/2403.19522',
  },
};

export function isMergeMethod(m: unknown): m is MergeMethod {
  return typeof m === 'string' && (MERGE_METHODS as readonly string[]).includes(m);
}

/** Every referenced model, base first (as mergekit adds a base that `models` does not list). */
export function modelRefs(config: MergeConfig): string[] {
  const refs: string[] = [];
  if (config.baseModel && METHOD_INFO[config.method].base === 'required') refs.push(config.baseModel);
  for (const m of config.models) if (!refs.includes(m.model)) refs.push(m.model);
  return refs;
}

/** The models that contribute task vectors / weights (for linear: all of them), in config order. */
export function contributingModels(config: MergeConfig): MergeModelEntry[] {
  if (METHOD_INFO[config.method].base === 'unused') return config.models;
  return config.models.filter((m) => m.model !== config.baseModel);
}

// ---- settings ------------------------------------------------------------------------------------

const isNumberList = (v: unknown): v is number[] => Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number');

function checkSetting(where: string, setting: unknown): void {
  const scalar = (v: unknown) => (typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean' || typeof v === 'string';
  if (scalar(setting)) return;
  if (typeof setting === 'number') throw new Error(`${where}: ${setting} is not a finite number`);
  if (!Array.isArray(setting)) {
    throw new Error(`${where}: expected a number, a gradient list [v0, …, vn] or a list of {filter, value} entries, got ${JSON.stringify(setting)}`);
  }
  if (setting.length === 0) throw new Error(`${where}: an empty list`);
  if (isNumberList(setting)) {
    const bad = setting.find((x) => !Number.isFinite(x));
    if (bad !== undefined) throw new Error(`${where}: gradient value ${bad} is not finite`);
    return;
  }
  if (setting.some((e) => scalar(e))) {
    const i = setting.findIndex((e) => typeof e !== 'number' || !Number.isFinite(e));
    throw new Error(`${where}[${i}]: ${JSON.stringify(setting[i])} is not a number; a gradient list holds numbers only ([v0, …, vn]), a filter list only {filter, value} entries`);
  }
  setting.forEach((entry, i) => {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry) || !('value' in entry)) {
      throw new Error(`${where}[${i}]: expected {filter, value}, got ${JSON.stringify(entry)}`);
    }
    const e = entry as Record<string, unknown>;
    for (const k of Object.keys(e)) if (k !== 'filter' && k !== 'value') throw new Error(`${where}[${i}]: unknown key '${k}' (expected filter, value)`);
    if (e.filter !== undefined && e.filter !== null && typeof e.filter !== 'string') throw new Error(`${where}[${i}].filter: not a string`);
    if (Array.isArray(e.value) && !isNumberList(e.value)) throw new Error(`${where}[${i}].value: a list value must be a gradient of numbers`);
    checkSetting(`${where}[${i}].value`, e.value);
  });
}

/** mergekit's evaluate_setting (config.py): scalars as they are; a number list is a gradient sampled
 *  piecewise-linearly at t; a list of other scalars is indexed by ⌊t·(n−1)⌋; a list of filtered
 *  entries takes the first that matches the tensor name. Undefined when nothing matches. */
export function evaluateSetting(tensorName: string, setting: ParameterSetting, t: number): number | boolean | string | undefined {
  if (typeof setting === 'number' || typeof setting === 'boolean' || typeof setting === 'string') return setting;
  if (isNumberList(setting)) {
    const scaled = t * (setting.length - 1);
    const i0 = Math.floor(scaled);
    const i1 = Math.min(setting.length - 1, i0 + 1);
    const frac = scaled - i0;
    return (1 - frac) * setting[i0] + frac * setting[i1];
  }
  const list = setting as unknown[];
  if (list.every((e) => typeof e === 'number' || typeof e === 'boolean' || typeof e === 'string')) {
    return list[Math.floor(t * (list.length - 1))] as number | boolean | string;
  }
  for (const cond of setting as ConditionalSetting[]) {
    if (cond.filter === undefined || cond.filter === null || cond.filter === '*' || (tensorName && tensorName.includes(cond.filter))) {
      return evaluateSetting(tensorName, cond.value, t);
    }
  }
  return undefined;
}

// ---- tensor positions ----------------------------------------------------------------------------

const LAYER_RE = /^model\.layers\.(\d+)\./;

export interface TensorPosition {
  /** The decoder layer, or null for the embeddings, the final norm and lm_head. */
  layer: number | null;
  /** Gradient position: layer i of L at i/(L−1) (1 when L = 1, as in mergekit); 0 outside the layers
   *  (mergekit's current planner reads pre- and post-layer weights with t = 0, so they take a
   *  gradient's first value — versions before its module refactor used t = 1 after the layers). */
  t: number;
}

export function tensorPosition(name: string, numLayers: number): TensorPosition {
  const m = LAYER_RE.exec(name);
  if (!m) return { layer: null, t: 0 };
  const layer = Number(m[1]);
  return { layer, t: numLayers > 1 ? layer / (numLayers - 1) : 1 };
}

// ---- validation ----------------------------------------------------------------------------------

const KNOWN_TOP_PARAMETERS = new Set(['weight', 'density', 'gamma', 'epsilon', 't', 'normalize', 'rescale', 'lambda', 'int8_mask', 'filter_wise']);

/** What each parameter takes (mergekit's types and ranges). A number may also be a gradient list
 *  of such numbers or a filter list of them; every value it can take is checked. */
const PARAMETER_RULES: Record<string, { kind: 'number'; min?: number; max?: number } | { kind: 'boolean' } | { kind: 'rescale' }> = {
  weight: { kind: 'number' },
  density: { kind: 'number', min: 0, max: 1 },
  gamma: { kind: 'number', min: 0, max: 1 },
  epsilon: { kind: 'number', min: 0, max: 1 },
  t: { kind: 'number', min: 0, max: 1 },
  lambda: { kind: 'number' },
  normalize: { kind: 'boolean' },
  int8_mask: { kind: 'boolean' },
  filter_wise: { kind: 'boolean' },
  rescale: { kind: 'rescale' },
};

/** Every value a setting can take (a scalar, each gradient point, each filter entry's value). */
function settingValues(setting: ParameterSetting): Array<number | boolean | string> {
  if (!Array.isArray(setting)) return [setting];
  return (setting as unknown[]).flatMap((e) => (e !== null && typeof e === 'object' && !Array.isArray(e) ? settingValues((e as ConditionalSetting).value) : [e as number]));
}

/** Refuses a value of the wrong type or out of range, naming where it is, the parameter and the value. */
function checkParameterValue(where: string, name: string, setting: ParameterSetting): void {
  const rule = PARAMETER_RULES[name];
  if (!rule) return;
  for (const v of settingValues(setting)) {
    if (rule.kind === 'number') {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${where}: ${name} = ${JSON.stringify(v)} is not a number`);
      if ((rule.min !== undefined && v < rule.min) || (rule.max !== undefined && v > rule.max)) {
        throw new Error(`${where}: ${name} = ${v} is out of range; ${name} must be in [${rule.min ?? '−∞'}, ${rule.max ?? '∞'}]`);
      }
    } else if (rule.kind === 'boolean') {
      if (typeof v !== 'boolean' && v !== 0 && v !== 1) throw new Error(`${where}: ${name} = ${JSON.stringify(v)} is not true or false`);
    } else if (!(typeof v === 'boolean' || v === 0 || v === 1 || v === 'l1' || v === 'none' || v === 'inverse_density')) {
      throw new Error(`${where}: rescale = ${JSON.stringify(v)}; expected true (mergekit's L1-norm matching), false, 'l1' or 'inverse_density'`);
    }
  }
}

/** Checks structure and counts; returns warnings (parameters this method ignores). Values are
 *  checked per tensor by planTensor, since gradients and filters make them tensor-dependent. */
export function validateMergeConfig(config: MergeConfig): { warnings: string[] } {
  if (!config || typeof config !== 'object') throw new Error('merge config: not an object');
  if (!isMergeMethod(config.method)) {
    throw new Error(`merge config: merge_method '${show(config.method)}' is not supported; choose one of ${MERGE_METHODS.join(', ')}`);
  }
  const info = METHOD_INFO[config.method];
  if (!Array.isArray(config.models) || config.models.length === 0) throw new Error(`merge config: 'models' must list at least one model`);
  const seen = new Set<string>();
  config.models.forEach((m, i) => {
    if (!m || typeof m.model !== 'string' || m.model.trim() === '') throw new Error(`merge config: models[${i}] has no 'model' reference`);
    if (seen.has(m.model)) throw new Error(`merge config: model '${m.model}' is listed twice`);
    seen.add(m.model);
  });
  if (config.baseModel !== undefined && config.baseModel !== null && (typeof config.baseModel !== 'string' || config.baseModel.trim() === '')) {
    throw new Error(`merge config: base_model must be a model reference`);
  }
  const warnings: string[] = [];
  if (info.base === 'required' && !config.baseModel) throw new Error(`merge config: ${config.method} needs a base_model`);
  if (info.base === 'unused' && config.baseModel) {
    if (!config.models.some((m) => m.model === config.baseModel)) {
      throw new Error(`merge config: linear has no base model, but base_model '${config.baseModel}' is not among the models (list it under models with a weight, or remove base_model)`);
    }
    warnings.push(`linear ignores base_model (the base is averaged like any other model)`);
  }
  const contributing = contributingModels(config);
  if (config.method === 'slerp' && modelRefs(config).length !== 2) {
    throw new Error(`merge config: slerp merges exactly 2 models (the base is the t = 0 end), got ${modelRefs(config).length}: ${modelRefs(config).join(', ')}`);
  }
  if (config.method === 'model_stock' && contributing.length < 2) {
    throw new Error(`merge config: model_stock needs a base plus at least 2 other models, got ${contributing.length} besides the base`);
  }
  if (info.base === 'required' && config.method !== 'slerp' && config.method !== 'model_stock' && contributing.length === 0) {
    warnings.push(`${config.method}: no model besides the base; the result is the base`);
  }
  if (config.seed !== undefined && !(Number.isInteger(config.seed) && config.seed >= 0 && config.seed <= 0xffffffff)) {
    throw new Error(`merge config: seed must be an integer in [0, 2^32), got ${config.seed}`);
  }
  if (config.layerRange !== undefined && !(Array.isArray(config.layerRange) && config.layerRange.length === 2 && config.layerRange.every((x) => Number.isInteger(x) && x >= 0) && config.layerRange[0] < config.layerRange[1])) {
    throw new Error(`merge config: layer_range must be [start, end) with 0 ≤ start < end, got ${JSON.stringify(config.layerRange)}`);
  }
  if (config.tokenizerSource !== undefined && config.tokenizerSource !== 'base') {
    if (config.tokenizerSource === 'union') throw new Error(`merge config: tokenizer_source 'union' is not supported (the playground merges models that share one vocabulary); use 'base'`);
    if (!modelRefs(config).includes(config.tokenizerSource)) throw new Error(`merge config: tokenizer_source '${config.tokenizerSource}' is not one of the merged models`);
  }

  const globalNames = new Set(info.global.map((p) => p.name));
  const modelNames = new Set(info.perModel.map((p) => p.name));
  for (const [name, setting] of Object.entries(config.parameters ?? {})) {
    checkSetting(`parameters.${name}`, setting);
    checkParameterValue('merge config: parameters', name, setting);
    if (!globalNames.has(name) && !modelNames.has(name)) warnings.push(`parameters.${name} is not a parameter of ${config.method}; ignored`);
    else if (!KNOWN_TOP_PARAMETERS.has(name)) warnings.push(`parameters.${name}: unknown`);
  }
  for (const m of config.models) {
    for (const [name, setting] of Object.entries(m.parameters ?? {})) {
      checkSetting(`${m.model}: parameters.${name}`, setting);
      checkParameterValue(`merge config: model '${m.model}'`, name, setting);
      if (!modelNames.has(name)) warnings.push(`${m.model}: parameters.${name} is not a per-model parameter of ${config.method}; ignored`);
    }
  }
  return { warnings };
}

// ---- per-tensor plan -----------------------------------------------------------------------------

/** Everything one tensor's merge needs, resolved for that tensor (gradients and filters applied). */
export interface TensorRecipe {
  tensor: string;
  method: MergeMethod;
  /** Model references whose copies of this tensor are the inputs; the base (if the method uses one)
   *  is inputs[0], then the contributing models in config order. */
  inputs: string[];
  hasBase: boolean;
  /** Per contributing model (inputs without the base), in order. */
  weights: number[];
  densities: number[];
  gammas: number[];
  /** DARE streams (one per contributing model), see dareKey. */
  dareKeys: number[];
  normalize: boolean;
  lambda: number;
  rescale: RescaleRule;
  sparsify: Sparsification;
  consensus: 'sum' | null;
  /** SLERP's interpolation factor. */
  t: number;
  /** Model Stock: one interpolation ratio per row instead of per tensor. */
  filterWise: boolean;
}

function resolve(
  config: MergeConfig,
  name: string,
  tensor: string,
  t: number,
  model: MergeModelEntry | null,
): number | boolean | string | undefined {
  if (model?.parameters && name in model.parameters) {
    const v = evaluateSetting(tensor, model.parameters[name], t);
    if (v !== undefined) return v;
  }
  if (config.parameters && name in config.parameters) {
    const v = evaluateSetting(tensor, config.parameters[name], t);
    if (v !== undefined) return v;
  }
  return undefined;
}

function numberParam(config: MergeConfig, def: ParamDef, tensor: string, t: number, model: MergeModelEntry | null): number {
  const v = resolve(config, def.name, tensor, t, model);
  const where = `${model ? `${model.model}: ` : ''}${def.name} for ${tensor}`;
  if (v === undefined) {
    if (def.required || def.default === undefined) throw new Error(`merge config: missing required parameter ${where}`);
    return Number(def.default);
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`merge config: ${where} is ${JSON.stringify(v)}, not a number`);
  return v;
}

function boolParam(config: MergeConfig, def: ParamDef, tensor: string, t: number): boolean {
  const v = resolve(config, def.name, tensor, t, null);
  if (v === undefined) return Boolean(def.default);
  if (typeof v === 'boolean') return v;
  if (v === 0 || v === 1) return v === 1;
  throw new Error(`merge config: ${def.name} for ${tensor} is ${JSON.stringify(v)}, not true/false`);
}

function rescaleParam(config: MergeConfig, def: ParamDef, tensor: string, t: number): RescaleRule {
  const v = resolve(config, 'rescale', tensor, t, null);
  if (v === undefined) return def.default ? 'l1' : 'none';
  if (v === true || v === 1 || v === 'l1') return 'l1';
  if (v === false || v === 0 || v === 'none') return 'none';
  if (v === 'inverse_density') return 'inverse_density';
  throw new Error(`merge config: rescale for ${tensor} is ${JSON.stringify(v)}; expected true (mergekit's L1-norm matching), false, 'l1' or 'inverse_density' (the DARE paper's 1/density)`);
}

/** FNV-1a of a string: tensor names into 32 bits. */
function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** The key of one DARE mask: element i is kept when (pcgHash(key + pcgHash(i)) >> 8) / 2^24 <
 *  density, evaluated identically by shaders/merge.wgsl and methods.ts. It depends on the seed, the
 *  model's position among the contributing models and the tensor's name — not on where the models
 *  are stored, so the CLI (paths) and the app (ids) draw the same masks for the same config. */
export function dareKey(seed: number, modelIndex: number, tensorName: string): number {
  return rngKey((pcgHash((seed >>> 0) ^ hashString(tensorName)) + pcgHash(modelIndex + 1)) >>> 0);
}

export function planTensor(config: MergeConfig, tensor: string, numLayers: number): TensorRecipe {
  const info = METHOD_INFO[config.method];
  const { t } = tensorPosition(tensor, numLayers);
  const contributing = contributingModels(config);
  const hasBase = info.base === 'required';
  const inputs = hasBase ? [config.baseModel as string, ...contributing.map((m) => m.model)] : contributing.map((m) => m.model);
  const def = (name: string): ParamDef => [...info.global, ...info.perModel].find((p) => p.name === name) ?? { name, default: 0 };
  const has = (name: string) => [...info.global, ...info.perModel].some((p) => p.name === name);

  const weights = has('weight') ? contributing.map((m) => numberParam(config, def('weight'), tensor, t, m)) : [];
  const densities = has('density') ? contributing.map((m) => numberParam(config, def('density'), tensor, t, m)) : contributing.map(() => 1);
  const gammas = has('gamma') ? contributing.map((m) => numberParam(config, def('gamma'), tensor, t, m)) : contributing.map(() => 0);
  densities.forEach((d, i) => {
    if (d < 0) throw new Error(`merge config: ${contributing[i].model}: density for ${tensor} is ${d}; it must be in [0, 1]`);
  });
  gammas.forEach((g, i) => {
    if (g < 0 || g > 1) throw new Error(`merge config: ${contributing[i].model}: gamma for ${tensor} is ${g}; it must be in [0, 1]`);
  });
  const seed = config.seed ?? 0;
  const recipe: TensorRecipe = {
    tensor,
    method: config.method,
    inputs,
    hasBase,
    weights,
    densities,
    gammas,
    dareKeys: info.sparsify === 'random' ? contributing.map((_, i) => dareKey(seed, i, tensor)) : [],
    normalize: has('normalize') ? boolParam(config, def('normalize'), tensor, t) : false,
    lambda: has('lambda') ? numberParam(config, def('lambda'), tensor, t, null) : 1,
    rescale: has('rescale') ? rescaleParam(config, def('rescale'), tensor, t) : 'none',
    sparsify: info.sparsify,
    consensus: info.consensus,
    t: has('t') ? numberParam(config, def('t'), tensor, t, null) : 0,
    filterWise: has('filter_wise') ? boolParam(config, def('filter_wise'), tensor, t) : false,
  };
  if (config.method === 'linear' && recipe.normalize) {
    const sum = weights.reduce((a, b) => a + b, 0);
    if (sum === 0) throw new Error(`merge config: linear with normalize: the weights for ${tensor} sum to 0 (the result would be NaN)`);
  }
  return recipe;
}

/** A parameter's value at every layer (plus the embeddings, at t = 0) for one tensor kind — what a
 *  schedule plot draws. `tensorSuffix` picks the tensor filters see (default: the q projection). */
export function parameterSchedule(
  config: MergeConfig,
  name: string,
  numLayers: number,
  opts: { model?: string; tensorSuffix?: string } = {},
): Array<{ layer: number; t: number; value: number | boolean | string | undefined }> {
  const suffix = opts.tensorSuffix ?? 'self_attn.q_proj.weight';
  const model = opts.model ? config.models.find((m) => m.model === opts.model) ?? null : null;
  const out: Array<{ layer: number; t: number; value: number | boolean | string | undefined }> = [];
  for (let layer = 0; layer < numLayers; layer++) {
    const tensor = `model.layers.${layer}.${suffix}`;
    const { t } = tensorPosition(tensor, numLayers);
    out.push({ layer, t, value: resolve(config, name, tensor, t, model) });
  }
  return out;
}
