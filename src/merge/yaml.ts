// mergekit YAML ⇄ MergeConfig (npm `yaml`). A merge designed here runs unchanged with `mergekit-yaml`
// on real checkpoints, and a mergekit config runs here.
//
// Public API:
//   parseMergekitYaml(text, source?) → { config, warnings }   throws naming the file and the problem
//   toMergekitYaml(config, opts?) → string                      mergekit's layout (like its to_yaml)
//
// What maps how:
//   merge_method, base_model, models[{model, parameters}], parameters, dtype, tokenizer_source
//     (or tokenizer: {source}) map one to one.
//   slices: only the form that is `models:` in disguise is accepted — one slice whose sources all
//     take the full layer range (e.g. mergekit's gradient-slerp example); its parameters sit between
//     the models' and the global ones, which with one slice is the same as overriding the globals.
//     Anything else (layer stacking, different ranges) is rejected as not supported.
//   Playground extensions mergekit cannot express travel in a leading comment, which mergekit
//   ignores: `# aya-playground: {"seed": 3, "rescale": "inverse_density"}` — the DARE seed (mergekit
//   takes --random-seed on its command line) and rescale: 'inverse_density' (the YAML body then says
//   `rescale: true`, mergekit's L1 rule, the closest it has).
import { show } from '../util/show.ts';
import YAML from 'yaml';
import { isMergeMethod, MERGE_METHODS, type MergeConfig, type MergeModelEntry, type MergeParameters, type ParameterSetting, validateMergeConfig } from './config.ts';

/** The file a merged model folder carries its merge in (as mergekit writes it). */
export const MERGEKIT_CONFIG_FILE = 'mergekit_config.yml';

const EXTENSION_RE = /^#\s*aya-playground:\s*(\{.*\})\s*$/m;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const TOP_KEYS = new Set(['merge_method', 'base_model', 'models', 'slices', 'parameters', 'dtype', 'out_dtype', 'tokenizer_source', 'tokenizer', 'chat_template', 'name', 'modules']);

function parameters(value: unknown, where: string): MergeParameters | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) throw new Error(`${where}: 'parameters' must be a mapping of name → value`);
  return value as MergeParameters;
}

function modelRef(value: unknown, where: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw new Error(`${where}: 'model' must be a model reference (a path or an id), got ${JSON.stringify(value)}`);
  return value;
}

/** A string setting (YAML may read it as a number or a boolean); a list or mapping is refused. */
function scalar(v: unknown, where: string): string {
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new Error(`${where} must be a single value, got ${show(v)}`);
}

/** Parses a mergekit config; `source` names the file in errors. */
export function parseMergekitYaml(text: string, source = 'config.yml'): { config: MergeConfig; warnings: string[] } {
  let docs: YAML.Document.Parsed[];
  try {
    docs = YAML.parseAllDocuments(text) as YAML.Document.Parsed[];
  } catch (e) {
    throw new Error(`${source}: invalid YAML (${(e as Error).message})`);
  }
  if (!Array.isArray(docs)) throw new Error(`${source}: invalid YAML`);
  if (docs.length > 1) throw new Error(`${source}: ${docs.length} YAML documents (mergekit-multi) are not supported; merge one stage per file`);
  const doc = docs[0];
  if (!doc) throw new Error(`${source}: empty file`);
  if (doc.errors.length) throw new Error(`${source}: invalid YAML (${doc.errors[0].message})`);
  let raw: unknown;
  try {
    raw = doc.toJS();
  } catch (e) {
    // An alias used before its anchor; an alias bomb ("billion laughs", which the library caps).
    throw new Error(`${source}: invalid YAML (${(e as Error).message})`);
  }
  if (!isObject(raw)) throw new Error(`${source}: expected a mapping with merge_method, models, …`);

  const warnings: string[] = [];
  for (const key of Object.keys(raw)) {
    if (!TOP_KEYS.has(key)) throw new Error(`${source}: unknown key '${key}'`);
  }
  if (raw.modules !== undefined) throw new Error(`${source}: 'modules' (multi-module merges) are not supported`);
  if (!isMergeMethod(raw.merge_method)) {
    throw new Error(`${source}: merge_method ${raw.merge_method === undefined ? 'is missing' : `'${show(raw.merge_method)}' is not supported`}; the playground implements ${MERGE_METHODS.join(', ')}`);
  }
  for (const key of ['out_dtype', 'chat_template', 'name'] as const) {
    if (raw[key] !== undefined) warnings.push(`${key} is ignored (the playground writes float32 and uses the base's tokenizer files)`);
  }
  let baseModel = raw.base_model === undefined || raw.base_model === null ? null : modelRef(raw.base_model, `${source}: base_model`);
  let globals = parameters(raw.parameters, source);

  let models: MergeModelEntry[];
  let layerRange: [number, number] | undefined;
  if (raw.slices !== undefined && raw.models !== undefined) throw new Error(`${source}: give either models or slices, not both`);
  if (raw.slices !== undefined) {
    if (!Array.isArray(raw.slices) || raw.slices.length !== 1) {
      throw new Error(`${source}: slices with ${Array.isArray(raw.slices) ? raw.slices.length : 'no'} entries are not supported (layer stacking); the playground merges whole models: use models:, or one slice over every layer`);
    }
    const slice = raw.slices[0];
    if (!isObject(slice) || !Array.isArray(slice.sources) || slice.sources.length === 0) throw new Error(`${source}: slices[0] needs a list of sources`);
    for (const key of Object.keys(slice)) {
      if (!['sources', 'parameters', 'base_model'].includes(key)) throw new Error(`${source}: slices[0].${key} is not supported`);
    }
    if (slice.base_model !== undefined) {
      const b = modelRef(slice.base_model, `${source}: slices[0].base_model`);
      if (baseModel && b !== baseModel) throw new Error(`${source}: slices[0].base_model '${b}' differs from base_model '${baseModel}'`);
      baseModel = b;
    }
    models = slice.sources.map((s: unknown, i: number) => {
      const where = `${source}: slices[0].sources[${i}]`;
      if (!isObject(s)) throw new Error(`${where}: expected {model, layer_range}`);
      for (const key of Object.keys(s)) if (!['model', 'layer_range', 'parameters'].includes(key)) throw new Error(`${where}.${key} is not supported`);
      const range = s.layer_range;
      if (!Array.isArray(range) || range.length !== 2 || !range.every((x) => Number.isInteger(x))) throw new Error(`${where}: layer_range must be [start, end]`);
      if (layerRange && (range[0] !== layerRange[0] || range[1] !== layerRange[1])) {
        throw new Error(`${where}: layer_range [${range}] differs from [${layerRange}]; only one slice over the same full range for every source is supported`);
      }
      layerRange = [range[0], range[1]];
      return { model: modelRef(s.model, where), parameters: parameters(s.parameters, where) };
    });
    const sliceParams = parameters(slice.parameters, `${source}: slices[0]`);
    if (sliceParams) globals = { ...(globals ?? {}), ...sliceParams };
    // A base that only the slice names is still a source; mergekit adds it with no parameters.
    if (baseModel && !models.some((m) => m.model === baseModel)) warnings.push(`base_model '${baseModel}' is not among the slice's sources; it is added as the base`);
  } else {
    if (!Array.isArray(raw.models)) throw new Error(`${source}: 'models' must be a list of {model, parameters}`);
    models = raw.models.map((m: unknown, i: number) => {
      const where = `${source}: models[${i}]`;
      if (typeof m === 'string') return { model: modelRef(m, where) };
      if (!isObject(m)) throw new Error(`${where}: expected {model, parameters}`);
      for (const key of Object.keys(m)) if (key !== 'model' && key !== 'parameters') throw new Error(`${where}.${key} is not supported`);
      return { model: modelRef(m.model, where), parameters: parameters(m.parameters, where) };
    });
  }

  let tokenizerSource: string | undefined;
  if (raw.tokenizer_source !== undefined && raw.tokenizer_source !== null) tokenizerSource = scalar(raw.tokenizer_source, `${source}: tokenizer_source`);
  if (raw.tokenizer !== undefined && raw.tokenizer !== null) {
    if (!isObject(raw.tokenizer)) throw new Error(`${source}: 'tokenizer' must be a mapping`);
    if (raw.tokenizer.tokens !== undefined || raw.tokenizer.pad_to_multiple_of !== undefined) throw new Error(`${source}: tokenizer.tokens / pad_to_multiple_of are not supported`);
    if (raw.tokenizer.source !== undefined) tokenizerSource = scalar(raw.tokenizer.source, `${source}: tokenizer.source`);
  }
  if (tokenizerSource !== undefined && tokenizerSource !== 'base' && tokenizerSource !== 'union' && !models.some((m) => m.model === tokenizerSource) && tokenizerSource !== baseModel) {
    throw new Error(`${source}: tokenizer_source '${tokenizerSource}' is not one of the merged models`);
  }

  const config: MergeConfig = { method: raw.merge_method, baseModel, models };
  if (globals && Object.keys(globals).length) config.parameters = globals;
  if (raw.dtype !== undefined && raw.dtype !== null) config.dtype = scalar(raw.dtype, `${source}: dtype`);
  if (tokenizerSource !== undefined) config.tokenizerSource = tokenizerSource;
  if (layerRange) config.layerRange = layerRange;

  const ext = EXTENSION_RE.exec(text);
  if (ext) {
    let json: unknown;
    try {
      json = JSON.parse(ext[1]);
    } catch {
      throw new Error(`${source}: the '# aya-playground:' comment is not valid JSON`);
    }
    if (!isObject(json)) throw new Error(`${source}: the '# aya-playground:' comment must hold a JSON object`);
    if (json.seed !== undefined) config.seed = json.seed as number;
    if (json.rescale !== undefined) config.parameters = { ...(config.parameters ?? {}), rescale: json.rescale as ParameterSetting };
  }
  try {
    warnings.push(...validateMergeConfig(config).warnings);
  } catch (e) {
    throw new Error(`${source}: ${(e as Error).message.replace(/^merge config: /, '')}`);
  }
  return { config, warnings };
}

/** PyYAML (YAML 1.1) reads `1e-8` as a string; it needs a dot and a signed exponent: `1.0e-08`. */
const pyYamlFloat = {
  identify: (v: unknown) => typeof v === 'number' && /e/i.test(String(v)),
  default: true,
  tag: 'tag:yaml.org,2002:float',
  test: /^\b$/, // never used to parse: export only
  resolve: (s: string) => Number(s),
  stringify: ({ value }: { value: unknown }) => {
    const [mantissa, exp] = Number(value).toExponential().split('e');
    return `${mantissa.includes('.') ? mantissa : `${mantissa}.0`}e${exp.startsWith('-') ? '-' : '+'}${exp.replace(/^[-+]/, '').padStart(2, '0')}`;
  },
};

const mentionsInverseDensity = (s: ParameterSetting | undefined): boolean => JSON.stringify(s ?? null).includes('"inverse_density"');

function forMergekit(setting: ParameterSetting): ParameterSetting {
  return JSON.parse(JSON.stringify(setting).replace(/"inverse_density"/g, 'true').replace(/"l1"/g, 'true').replace(/"none"/g, 'false'));
}

/** mergekit's YAML for a config; `rename` maps model references (e.g. app ids to names or paths). */
export function toMergekitYaml(config: MergeConfig, opts: { rename?: (ref: string) => string; header?: string } = {}): string {
  validateMergeConfig(config);
  const ref = opts.rename ?? ((r: string) => r);
  const extension: Record<string, unknown> = {};
  if (config.seed !== undefined) extension.seed = config.seed;
  const globals: MergeParameters = { ...(config.parameters ?? {}) };
  if (globals.rescale !== undefined) {
    if (mentionsInverseDensity(globals.rescale)) extension.rescale = globals.rescale;
    globals.rescale = forMergekit(globals.rescale);
  }

  const body: Record<string, unknown> = { merge_method: config.method };
  if (config.baseModel) body.base_model = ref(config.baseModel);
  const entries = config.models.map((m) => {
    const e: Record<string, unknown> = { model: ref(m.model) };
    if (m.parameters && Object.keys(m.parameters).length) e.parameters = m.parameters;
    return e;
  });
  if (config.layerRange) {
    body.slices = [{ sources: entries.map((e) => ({ model: e.model, layer_range: config.layerRange, ...(e.parameters ? { parameters: e.parameters } : {}) })) }];
  } else {
    body.models = entries;
  }
  if (Object.keys(globals).length) body.parameters = globals;
  body.dtype = config.dtype ?? 'float32';
  if (config.tokenizerSource) body.tokenizer_source = config.tokenizerSource === 'base' ? 'base' : ref(config.tokenizerSource);

  const doc = new YAML.Document(body, { customTags: (tags) => [pyYamlFloat, ...tags] });
  // mergekit's own dumper writes lists of numbers in flow style ([0, 0.5, 1]).
  YAML.visit(doc, {
    Seq(_, node) {
      if (node.items.every((i) => YAML.isScalar(i) && typeof i.value === 'number')) node.flow = true;
    },
  });
  const comments = [opts.header, Object.keys(extension).length ? ` aya-playground: ${JSON.stringify(extension)}` : undefined].filter((c): c is string => c !== undefined);
  if (comments.length) doc.commentBefore = comments.join('\n');
  return doc.toString({ lineWidth: 0 });
}
