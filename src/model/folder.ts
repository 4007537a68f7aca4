// Model folders (DESIGN §5): config.json, model.safetensors or shards + model.safetensors.index.json,
// tokenizer.json, tokenizer_config.json, playground.json. Pure: files arrive as bytes by name, from a
// folder picker or IndexedDB in the browser and from disk in Node (folder.node.ts).

import { decodeUtf8 } from '../util/utf8.ts';
import type { HostTensor } from '../gpu/host.ts';
import { fromHfConfig, parameterShapes, toHfConfig, type ModelConfig } from './config.ts';
import { readSafetensors, writeSafetensors } from './safetensors.ts';

/** File name → contents. */
export type ModelFiles = Map<string, Uint8Array>;

export interface ModelFolder {
  config: ModelConfig;
  weights: Map<string, HostTensor>;
  tokenizerJson: unknown | null;
  tokenizerConfigJson: unknown | null;
  playground: Record<string, unknown> | null;
}

export const CONFIG_FILE = 'config.json';
export const WEIGHTS_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';
export const TOKENIZER_FILE = 'tokenizer.json';
export const TOKENIZER_CONFIG_FILE = 'tokenizer_config.json';
export const PLAYGROUND_FILE = 'playground.json';
/** A resumable checkpoint's extra files (src/train/checkpoint.ts); a finished model has neither. */
export const OPTIMIZER_FILE = 'optimizer.safetensors';
export const TRAINER_STATE_FILE = 'trainer_state.json';
export const CHECKPOINT_STATE_FILES: readonly string[] = [OPTIMIZER_FILE, TRAINER_STATE_FILE];

/** Files a folder may hold besides shards. */
export const KNOWN_FILES: readonly string[] = [CONFIG_FILE, WEIGHTS_FILE, INDEX_FILE, TOKENIZER_FILE, TOKENIZER_CONFIG_FILE, PLAYGROUND_FILE];

export const DEFAULT_MAX_SHARD_BYTES = 2 * 1024 ** 3;

/** transformers refuses safetensors whose metadata lacks a known format; 'pt' is what torch writes. */
const SAFETENSORS_METADATA = { format: 'pt' };

const SHARD_RE = /^model-(\d{5})-of-(\d{5})\.safetensors$/;

export function shardName(k: number, n: number): string {
  return `model-${String(k).padStart(5, '0')}-of-${String(n).padStart(5, '0')}.safetensors`;
}

export function isShardName(name: string): boolean {
  return SHARD_RE.test(name);
}

/** A plain file name: no directories, so a hostile index cannot reach outside its folder. */
export function isPlainFileName(name: string): boolean {
  return name.length > 0 && name !== '.' && name !== '..' && !/[/\\\0]/.test(name);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A JSON file's value; errors name `path` and the place (the byte, V8's position or quote). */
export function parseJson(bytes: Uint8Array, path: string): unknown {
  const text = decodeUtf8(bytes, path);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: invalid JSON (${jsonErrorPlace(e as Error, bytes.byteLength)})`);
  }
}

/** V8 names a position or quotes the text around a mistake, but not where a cut-off text ends. */
export function jsonErrorPlace(e: Error, bytes: number): string {
  return /Unexpected end of JSON input/.test(e.message) ? `${e.message}: the file ends at byte ${bytes} inside a value` : e.message;
}

export function encodeJson(value: unknown): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`);
}

export interface ShardIndex {
  metadata: Record<string, unknown>;
  /** Tensor name → shard file name. */
  weightMap: Map<string, string>;
  /** Distinct shard file names, in first-mention order. */
  shards: string[];
}

/** Parses model.safetensors.index.json; `path` names the file in errors. */
export function parseShardIndex(bytes: Uint8Array, path: string): ShardIndex {
  const json = parseJson(bytes, path);
  if (!isObject(json)) throw new Error(`${path}: not a JSON object`);
  const metadata = json.metadata ?? {};
  if (!isObject(metadata)) throw new Error(`${path}: 'metadata' is not an object`);
  if (!isObject(json.weight_map)) throw new Error(`${path}: 'weight_map' is missing or not an object`);
  const weightMap = new Map<string, string>();
  const shards: string[] = [];
  for (const [name, shard] of Object.entries(json.weight_map)) {
    if (typeof shard !== 'string' || !isPlainFileName(shard)) {
      throw new Error(`${path}: weight_map entry for '${name}' is not a plain file name: ${JSON.stringify(shard)}`);
    }
    weightMap.set(name, shard);
    if (!shards.includes(shard)) shards.push(shard);
  }
  return { metadata, weightMap, shards };
}

/** HF checkpoints may carry these; they are not parameters of our (tied-embedding) model. */
function isIgnoredTensor(name: string): boolean {
  return name === 'lm_head.weight' || name.endsWith('rotary_emb.inv_freq');
}

/** Lists at most a few names, so a wholly wrong checkpoint gives a readable message. */
function listNames(names: string[], max = 10): string {
  const shown = names.slice(0, max).join(', ');
  return names.length > max ? `${shown} … and ${names.length - max} more` : shown;
}

/** Returns `weights` restricted to the model's parameters, or throws one error listing every mismatch. */
export function checkWeights(config: ModelConfig, weights: Map<string, HostTensor>, path: string): Map<string, HostTensor> {
  const expected = parameterShapes(config);
  const expectedNames = new Set(expected.map((p) => p.name));
  const missing: string[] = [];
  const wrong: string[] = [];
  const out = new Map<string, HostTensor>();
  for (const { name, shape } of expected) {
    const t = weights.get(name);
    if (!t) {
      missing.push(name);
    } else if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      wrong.push(`${name} [${t.shape.join(', ')}] (expected [${shape.join(', ')}])`);
    } else if (!(t.data instanceof Float32Array)) {
      wrong.push(`${name} is not f32`);
    } else {
      out.set(name, t);
    }
  }
  const unexpected = [...weights.keys()].filter((n) => !expectedNames.has(n) && !isIgnoredTensor(n));
  const problems: string[] = [];
  if (missing.length) problems.push(`missing ${missing.length} tensor(s): ${listNames(missing)}`);
  if (wrong.length) problems.push(`wrong shape: ${listNames(wrong)}`);
  if (unexpected.length) problems.push(`unexpected ${unexpected.length} tensor(s): ${listNames(unexpected)}`);
  if (problems.length) throw new Error(`${path}: weights do not match config.json: ${problems.join('; ')}`);
  return out;
}

/** Refuses weights holding NaN or ±Inf (a diverged run or a corrupt file), naming the tensor and element. */
export function checkFinite(weights: Map<string, HostTensor>, path: string | ((tensor: string) => string)): void {
  for (const [name, t] of weights) {
    const d = t.data;
    for (let i = 0; i < d.length; i++) {
      const x = d[i];
      if (x - x !== 0) throw new Error(`${typeof path === 'string' ? path : path(name)}: tensor '${name}' holds ${x} at element ${i} [${unravel(i, t.shape).join(', ')}]; the playground loads only finite weights`);
    }
  }
}

function unravel(i: number, shape: readonly number[]): number[] {
  const at: number[] = [];
  for (let k = shape.length - 1; k >= 0; k--) {
    at.unshift(i % shape[k]);
    i = Math.floor(i / shape[k]);
  }
  return at;
}

function readOptionalJson(files: ModelFiles, name: string, folderName: string): unknown | null {
  const bytes = files.get(name);
  return bytes === undefined ? null : parseJson(bytes, `${folderName}/${name}`);
}

/** Reads and validates a model folder: the weights must be exactly the parameters config.json implies. */
export function readModelFolder(files: ModelFiles, folderName = 'model'): ModelFolder {
  const configBytes = files.get(CONFIG_FILE);
  if (!configBytes) throw new Error(`${folderName}: no ${CONFIG_FILE}`);
  const configPath = `${folderName}/${CONFIG_FILE}`;
  const config = fromHfConfig(parseJson(configBytes, configPath), configPath);

  // transformers' order of preference: the single file, then the index.
  let weights: Map<string, HostTensor>;
  let weightsPath: string;
  // Which file holds a tensor (a shard of a sharded folder), for errors about its values.
  let fileOf = (_tensor: string) => weightsPath;
  const single = files.get(WEIGHTS_FILE);
  const indexBytes = files.get(INDEX_FILE);
  if (single) {
    weightsPath = `${folderName}/${WEIGHTS_FILE}`;
    weights = readSafetensors(single, weightsPath).tensors;
  } else if (indexBytes) {
    weightsPath = `${folderName}/${INDEX_FILE}`;
    const index = parseShardIndex(indexBytes, weightsPath);
    fileOf = (tensor) => `${folderName}/${index.weightMap.get(tensor) ?? INDEX_FILE}`;
    const missingShards = index.shards.filter((s) => !files.has(s));
    if (missingShards.length) throw new Error(`${weightsPath}: shard(s) missing from the folder: ${listNames(missingShards)}`);
    weights = new Map();
    for (const shard of index.shards) {
      const shardPath = `${folderName}/${shard}`;
      const tensors = readSafetensors(files.get(shard)!, shardPath).tensors;
      for (const [name, file] of index.weightMap) {
        if (file !== shard) continue;
        const t = tensors.get(name);
        if (!t) throw new Error(`${shardPath}: tensor '${name}' is listed in ${INDEX_FILE} but not in this shard`);
        weights.set(name, t);
      }
    }
  } else {
    throw new Error(`${folderName}: no ${WEIGHTS_FILE} or ${INDEX_FILE}`);
  }
  weights = checkWeights(config, weights, weightsPath);
  checkFinite(weights, fileOf);

  const playground = readOptionalJson(files, PLAYGROUND_FILE, folderName);
  if (playground !== null && !isObject(playground)) throw new Error(`${folderName}/${PLAYGROUND_FILE}: not a JSON object`);
  return {
    config,
    weights,
    tokenizerJson: readOptionalJson(files, TOKENIZER_FILE, folderName),
    tokenizerConfigJson: readOptionalJson(files, TOKENIZER_CONFIG_FILE, folderName),
    playground,
  };
}

/** Serialises a folder: F32 weights in parameterShapes order, sharded above maxShardBytes. */
export function writeModelFolder(folder: ModelFolder, opts: { maxShardBytes?: number } = {}): ModelFiles {
  const maxShardBytes = opts.maxShardBytes ?? DEFAULT_MAX_SHARD_BYTES;
  if (!(maxShardBytes > 0)) throw new Error(`maxShardBytes must be positive, got ${maxShardBytes}`);
  const weights = checkWeights(folder.config, folder.weights, 'model to write');
  const ordered = parameterShapes(folder.config).map(({ name }) => ({ name, tensor: weights.get(name)! }));
  const totalSize = ordered.reduce((s, t) => s + t.tensor.data.byteLength, 0);

  const files: ModelFiles = new Map();
  files.set(CONFIG_FILE, encodeJson(toHfConfig(folder.config)));
  if (totalSize <= maxShardBytes) {
    files.set(WEIGHTS_FILE, writeSafetensors(ordered, SAFETENSORS_METADATA));
  } else {
    // Greedy, like transformers: a tensor bigger than the limit gets a shard of its own.
    const groups: Array<typeof ordered> = [];
    let current: typeof ordered = [];
    let currentBytes = 0;
    for (const t of ordered) {
      const b = t.tensor.data.byteLength;
      if (current.length > 0 && currentBytes + b > maxShardBytes) {
        groups.push(current);
        current = [];
        currentBytes = 0;
      }
      current.push(t);
      currentBytes += b;
    }
    if (current.length) groups.push(current);
    const weightMap: Record<string, string> = {};
    groups.forEach((group, i) => {
      const name = shardName(i + 1, groups.length);
      files.set(name, writeSafetensors(group, SAFETENSORS_METADATA));
      for (const t of group) weightMap[t.name] = name;
    });
    files.set(INDEX_FILE, encodeJson({ metadata: { total_size: totalSize }, weight_map: weightMap }));
  }
  if (folder.tokenizerJson != null) files.set(TOKENIZER_FILE, encodeJson(folder.tokenizerJson));
  if (folder.tokenizerConfigJson != null) files.set(TOKENIZER_CONFIG_FILE, encodeJson(folder.tokenizerConfigJson));
  if (folder.playground != null) files.set(PLAYGROUND_FILE, encodeJson(folder.playground));
  return files;
}
