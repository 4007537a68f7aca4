// Where a merge reads its inputs from, one tensor at a time: a ModelSource knows a model's config
// and every tensor's dtype and shape (from the safetensors headers alone) and reads one tensor's
// bytes on demand. memorySource serves files already in memory (the app's store); source.node.ts
// reads folders on disk at offsets, so a merge holds a few tensors, never whole models.
//
// Public API:
//   interface ModelSource, TensorInfo
//   memorySource(ref, files) → ModelSource
//   parseHeaderJson(headerBytes, dataLength, file) → entries   (shared with source.node.ts)
//   decodeTensor(bytes, dtype, count, where) → Float32Array     (F32 / F16 / BF16)
import { fromHfConfig, type ModelConfig } from '../model/config.ts';
import { CONFIG_FILE, INDEX_FILE, type ModelFiles, parseShardIndex, PLAYGROUND_FILE, WEIGHTS_FILE } from '../model/folder.ts';
import { f16ToF32, READABLE_DTYPES } from '../model/safetensors.ts';

export interface TensorInfo {
  name: string;
  dtype: string;
  shape: number[];
}

export interface ModelSource {
  /** The reference the merge config uses (a folder path or a model id). */
  ref: string;
  config: ModelConfig;
  /** Every tensor in the checkpoint, by name. */
  tensors: Map<string, TensorInfo>;
  /** One tensor as float32. */
  read(name: string): Promise<Float32Array>;
  /** Another file of the folder (tokenizer.json, …), or null when absent. */
  file(name: string): Promise<Uint8Array | null>;
  playground: Record<string, unknown> | null;
  close(): Promise<void>;
}

const BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2 };

export interface HeaderEntry extends TensorInfo {
  /** Byte offsets in the data buffer. */
  begin: number;
  end: number;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses a safetensors header (the JSON after the 8-byte length) given the data buffer's length,
 *  so only the header has to be read. Rejects what the playground cannot read, naming the file. */
export function parseHeaderJson(headerBytes: Uint8Array, dataLength: number, file: string): HeaderEntry[] {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (e) {
    throw new Error(`${file}: safetensors header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (!isObject(json)) throw new Error(`${file}: safetensors header is not a JSON object`);
  const entries: HeaderEntry[] = [];
  for (const [name, raw] of Object.entries(json)) {
    if (name === '__metadata__') continue;
    const where = `${file}: tensor '${name}'`;
    if (!isObject(raw)) throw new Error(`${where}: entry is not an object`);
    const { dtype, shape, data_offsets: offsets } = raw;
    if (typeof dtype !== 'string' || !(dtype in BYTES)) {
      throw new Error(`${where}: dtype ${String(dtype)} is not supported by the playground (it reads ${READABLE_DTYPES.join(', ')})`);
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new Error(`${where}: shape is not a list of non-negative integers`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) || offsets[0] > offsets[1]) {
      throw new Error(`${where}: data_offsets must be [begin, end] with 0 ≤ begin ≤ end`);
    }
    const [begin, end] = offsets as number[];
    if (end > dataLength) throw new Error(`${where}: data_offsets [${begin}, ${end}] run past the ${dataLength}-byte data buffer (truncated file?)`);
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (end - begin !== count * BYTES[dtype]) throw new Error(`${where}: ${end - begin} bytes do not match shape [${shape.join(', ')}] × ${dtype}`);
    entries.push({ name, dtype, shape: shape as number[], begin, end });
  }
  return entries;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
let f16Table: Float32Array | null = null;

/** Little-endian F32 / F16 / BF16 bytes → a fresh Float32Array. */
export function decodeTensor(bytes: Uint8Array, dtype: string, count: number, where: string): Float32Array {
  const width = BYTES[dtype];
  if (width === undefined) throw new Error(`${where}: dtype ${dtype} is not supported`);
  if (bytes.byteLength !== count * width) throw new Error(`${where}: read ${bytes.byteLength} bytes, expected ${count * width}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dtype === 'F32') {
    if (LITTLE_ENDIAN) return new Float32Array(Uint8Array.prototype.slice.call(bytes).buffer);
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
    return out;
  }
  const out = new Float32Array(count);
  if (dtype === 'F16') {
    if (!f16Table) {
      f16Table = new Float32Array(65536);
      for (let h = 0; h < 65536; h++) f16Table[h] = f16ToF32(h);
    }
    for (let i = 0; i < count; i++) out[i] = f16Table[view.getUint16(2 * i, true)];
  } else {
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < count; i++) bits[i] = view.getUint16(2 * i, true) << 16;
  }
  return out;
}

function parseJsonFile(bytes: Uint8Array, path: string): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw new Error(`${path}: invalid JSON (${(e as Error).message})`);
  }
}

/** The config and playground.json of a folder, from their bytes. */
export function readFolderMeta(configBytes: Uint8Array | null, playgroundBytes: Uint8Array | null, ref: string): { config: ModelConfig; playground: Record<string, unknown> | null } {
  if (!configBytes) throw new Error(`${ref}: no ${CONFIG_FILE}`);
  const config = fromHfConfig(parseJsonFile(configBytes, `${ref}/${CONFIG_FILE}`), `${ref}/${CONFIG_FILE}`);
  let playground: Record<string, unknown> | null = null;
  if (playgroundBytes) {
    const p = parseJsonFile(playgroundBytes, `${ref}/${PLAYGROUND_FILE}`);
    if (!isObject(p)) throw new Error(`${ref}/${PLAYGROUND_FILE}: not a JSON object`);
    playground = p;
  }
  return { config, playground };
}

/** Splits a whole safetensors file's bytes into its header entries and data start. */
function headerOf(bytes: Uint8Array, file: string): { entries: HeaderEntry[]; dataStart: number } {
  if (bytes.byteLength < 8) throw new Error(`${file}: not a safetensors file (${bytes.byteLength} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getUint32(0, true) + view.getUint32(4, true) * 2 ** 32;
  if (8 + headerLength > bytes.byteLength) throw new Error(`${file}: header length ${headerLength} runs past the end of the file`);
  const dataStart = 8 + headerLength;
  return { entries: parseHeaderJson(bytes.subarray(8, dataStart), bytes.byteLength - dataStart, file), dataStart };
}

/** A source over files already in memory (the app's model store). */
export function memorySource(ref: string, files: ModelFiles): ModelSource {
  const { config, playground } = readFolderMeta(files.get(CONFIG_FILE) ?? null, files.get(PLAYGROUND_FILE) ?? null, ref);
  const located = new Map<string, { entry: HeaderEntry; bytes: Uint8Array; dataStart: number; file: string }>();
  const addFile = (name: string, only?: (tensor: string) => boolean) => {
    const bytes = files.get(name);
    if (!bytes) throw new Error(`${ref}: ${name} is missing`);
    const { entries, dataStart } = headerOf(bytes, `${ref}/${name}`);
    for (const entry of entries) if (!only || only(entry.name)) located.set(entry.name, { entry, bytes, dataStart, file: `${ref}/${name}` });
  };
  if (files.has(WEIGHTS_FILE)) addFile(WEIGHTS_FILE);
  else if (files.has(INDEX_FILE)) {
    const index = parseShardIndex(files.get(INDEX_FILE)!, `${ref}/${INDEX_FILE}`);
    for (const shard of index.shards) addFile(shard, (t) => index.weightMap.get(t) === shard);
    for (const name of index.weightMap.keys()) if (!located.has(name)) throw new Error(`${ref}/${INDEX_FILE}: tensor '${name}' is not in its shard ${index.weightMap.get(name)}`);
  } else throw new Error(`${ref}: no ${WEIGHTS_FILE} or ${INDEX_FILE}`);
  const tensors = new Map<string, TensorInfo>();
  for (const [name, { entry }] of located) tensors.set(name, { name, dtype: entry.dtype, shape: entry.shape });
  return {
    ref,
    config,
    tensors,
    playground,
    async read(name) {
      const at = located.get(name);
      if (!at) throw new Error(`${ref}: no tensor '${name}'`);
      const count = at.entry.shape.reduce((a, b) => a * b, 1);
      return decodeTensor(at.bytes.subarray(at.dataStart + at.entry.begin, at.dataStart + at.entry.end), at.entry.dtype, count, `${at.file}: tensor '${name}'`);
    },
    async file(name) {
      return files.get(name) ?? null;
    },
    async close() {},
  };
}
