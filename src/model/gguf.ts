// GGUF (https://github.com/ggml-org/ggml/blob/master/docs/gguf.md), the file format of llama.cpp and
// Ollama: "GGUF", a u32 version, u64 tensor and key-value counts, the key-values (typed, strings as a
// u64 length and UTF-8 bytes), the tensor infos (name, dims in ggml order — fastest-varying first —,
// ggml type, offset into the data section), padding to `general.alignment`, then the tensor data,
// each tensor at an aligned offset. All little-endian. Pure TypeScript: the writer runs in the tab,
// the reader also checks files before llama.cpp sees them, so a broken one gets a clear refusal.

export const GGUF_MAGIC = 'GGUF';
export const GGUF_VERSION = 3;
export const GGUF_DEFAULT_ALIGNMENT = 32;

/** Value types of the key-value section. */
export const GgufType = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
} as const;
export type GgufTypeId = (typeof GgufType)[keyof typeof GgufType];

const SCALAR_BYTES: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

/** ggml tensor types the writer emits. */
export const GgmlType = { F32: 0, F16: 1 } as const;

/**
 * [elements per block, bytes per block] of the ggml types whose layout the reader checks sizes
 * against (the common float and quantised ones); a tensor of another type is only range-checked.
 */
const GGML_BLOCKS: Record<number, [number, number, string]> = {
  0: [1, 4, 'F32'],
  1: [1, 2, 'F16'],
  2: [32, 18, 'Q4_0'],
  3: [32, 20, 'Q4_1'],
  6: [32, 22, 'Q5_0'],
  7: [32, 24, 'Q5_1'],
  8: [32, 34, 'Q8_0'],
  10: [256, 84, 'Q2_K'],
  11: [256, 110, 'Q3_K'],
  12: [256, 144, 'Q4_K'],
  13: [256, 176, 'Q5_K'],
  14: [256, 210, 'Q6_K'],
  30: [1, 2, 'BF16'],
};

export function ggmlTypeName(type: number): string {
  return GGML_BLOCKS[type]?.[2] ?? `type ${type}`;
}

/** A key-value as written: its GGUF type, and for arrays the element type. */
export type GgufEntry =
  | { type: Exclude<GgufTypeId, 9>; value: number | bigint | boolean | string }
  | { type: 9; itemType: Exclude<GgufTypeId, 9>; value: ReadonlyArray<number | bigint | boolean | string> };

export interface GgufTensorInfo {
  name: string;
  /** ggml order: dims[0] varies fastest (a HF [out, in] matrix is [in, out] here). */
  dims: number[];
  type: number;
  /** Byte offset from the start of the data section. */
  offset: number;
}

// ---------------------------------------------------------------------------------------------
// Writer

const utf8 = new TextEncoder();

/** Collects key-values and tensors, then lays the file out once. */
export class GgufWriter {
  private readonly kv: Array<[string, GgufEntry]> = [];
  private readonly tensors: Array<{ name: string; dims: number[]; type: number; bytes: Uint8Array }> = [];

  constructor(readonly alignment = GGUF_DEFAULT_ALIGNMENT) {
    if (!Number.isInteger(alignment) || alignment <= 0 || alignment % 8 !== 0) throw new Error(`GGUF alignment must be a positive multiple of 8, got ${alignment}`);
  }

  set(key: string, entry: GgufEntry): this {
    if (this.kv.some(([k]) => k === key)) throw new Error(`GGUF key '${key}' set twice`);
    this.kv.push([key, entry]);
    return this;
  }
  string(key: string, value: string): this {
    return this.set(key, { type: GgufType.STRING, value });
  }
  u32(key: string, value: number): this {
    return this.set(key, { type: GgufType.UINT32, value });
  }
  f32(key: string, value: number): this {
    return this.set(key, { type: GgufType.FLOAT32, value });
  }
  bool(key: string, value: boolean): this {
    return this.set(key, { type: GgufType.BOOL, value });
  }
  array(key: string, itemType: Exclude<GgufTypeId, 9>, value: ReadonlyArray<number | bigint | boolean | string>): this {
    return this.set(key, { type: GgufType.ARRAY, itemType, value });
  }

  /** `bytes` is the tensor's data in ggml layout (row-major with dims[0] fastest). */
  tensor(name: string, dims: number[], type: number, bytes: Uint8Array): this {
    const block = GGML_BLOCKS[type];
    if (!block) throw new Error(`GGUF writer: tensor '${name}': unsupported ggml type ${type}`);
    const n = dims.reduce((a, b) => a * b, 1);
    if ((n / block[0]) * block[1] !== bytes.byteLength) throw new Error(`GGUF writer: tensor '${name}': ${bytes.byteLength} bytes for dims [${dims}] of ${block[2]}`);
    if (this.tensors.some((t) => t.name === name)) throw new Error(`GGUF writer: tensor '${name}' added twice`);
    this.tensors.push({ name, dims: [...dims], type, bytes });
    return this;
  }

  finish(): Uint8Array {
    const align = (n: number) => Math.ceil(n / this.alignment) * this.alignment;
    const head = new ByteSink();
    head.raw(utf8.encode(GGUF_MAGIC));
    head.u32(GGUF_VERSION);
    head.u64(this.tensors.length);
    head.u64(this.kv.length);
    for (const [key, entry] of this.kv) {
      head.string(key);
      head.u32(entry.type);
      if (entry.type === GgufType.ARRAY) {
        head.u32(entry.itemType);
        head.u64(entry.value.length);
        for (const v of entry.value) head.scalar(entry.itemType, v, key);
      } else head.scalar(entry.type, entry.value, key);
    }
    let offset = 0;
    const offsets: number[] = [];
    for (const t of this.tensors) {
      head.string(t.name);
      head.u32(t.dims.length);
      for (const d of t.dims) head.u64(d);
      head.u32(t.type);
      head.u64(offset);
      offsets.push(offset);
      offset = align(offset + t.bytes.byteLength);
    }
    const headBytes = head.bytes();
    const dataStart = align(headBytes.byteLength);
    const last = this.tensors.length ? offsets[offsets.length - 1] + this.tensors[this.tensors.length - 1].bytes.byteLength : 0;
    const out = new Uint8Array(dataStart + last);
    out.set(headBytes, 0);
    this.tensors.forEach((t, i) => out.set(t.bytes, dataStart + offsets[i]));
    return out;
  }
}

class ByteSink {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  private n = 0;

  private reserve(k: number): void {
    if (this.n + k <= this.buf.byteLength) return;
    let size = this.buf.byteLength * 2;
    while (size < this.n + k) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.n));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  raw(b: Uint8Array): void {
    this.reserve(b.byteLength);
    this.buf.set(b, this.n);
    this.n += b.byteLength;
  }
  u32(v: number): void {
    this.reserve(4);
    this.view.setUint32(this.n, v, true);
    this.n += 4;
  }
  u64(v: number | bigint): void {
    this.reserve(8);
    this.view.setBigUint64(this.n, BigInt(v), true);
    this.n += 8;
  }
  string(s: string): void {
    const b = utf8.encode(s);
    this.u64(b.byteLength);
    this.raw(b);
  }
  scalar(type: number, v: number | bigint | boolean | string, key: string): void {
    const bad = () => new Error(`GGUF key '${key}': ${JSON.stringify(typeof v === 'bigint' ? String(v) : v)} is not a valid value of type ${type}`);
    if (type === GgufType.STRING) {
      if (typeof v !== 'string') throw bad();
      return this.string(v);
    }
    if (type === GgufType.BOOL) {
      if (typeof v !== 'boolean') throw bad();
      this.reserve(1);
      this.buf[this.n++] = v ? 1 : 0;
      return;
    }
    const size = SCALAR_BYTES[type];
    if (size === undefined) throw bad();
    this.reserve(size);
    const at = this.n;
    this.n += size;
    if (type === GgufType.UINT64 || type === GgufType.INT64) {
      if (typeof v !== 'number' && typeof v !== 'bigint') throw bad();
      return type === GgufType.UINT64 ? this.view.setBigUint64(at, BigInt(v), true) : this.view.setBigInt64(at, BigInt(v), true);
    }
    if (typeof v !== 'number') throw bad();
    if (type === GgufType.FLOAT32) return this.view.setFloat32(at, v, true);
    if (type === GgufType.FLOAT64) return this.view.setFloat64(at, v, true);
    const ranges: Record<number, [number, number]> = { 0: [0, 0xff], 1: [-0x80, 0x7f], 2: [0, 0xffff], 3: [-0x8000, 0x7fff], 4: [0, 0xffffffff], 5: [-0x80000000, 0x7fffffff] };
    const [lo, hi] = ranges[type];
    if (!Number.isInteger(v) || v < lo || v > hi) throw bad();
    if (type === GgufType.UINT8) this.view.setUint8(at, v);
    else if (type === GgufType.INT8) this.view.setInt8(at, v);
    else if (type === GgufType.UINT16) this.view.setUint16(at, v, true);
    else if (type === GgufType.INT16) this.view.setInt16(at, v, true);
    else if (type === GgufType.UINT32) this.view.setUint32(at, v, true);
    else this.view.setInt32(at, v, true);
  }
  bytes(): Uint8Array {
    return this.buf.slice(0, this.n);
  }
}

// ---------------------------------------------------------------------------------------------
// Reader (the header: key-values and tensor infos; the data stays where it is)

export type GgufValue = number | bigint | boolean | string | GgufValue[];

export interface GgufHeader {
  version: number;
  metadata: Map<string, GgufValue>;
  tensors: GgufTensorInfo[];
  alignment: number;
  /** Absolute byte offset of the data section. */
  dataStart: number;
}

/** The header continues past the bytes given: read a longer prefix of the file. */
export class GgufNeedsMoreBytes extends Error {
  constructor(readonly needed: number) {
    super(`the GGUF header continues past byte ${needed}`);
    this.name = 'GgufNeedsMoreBytes';
  }
}

const MAX_STRING_BYTES = 1 << 24;
const MAX_ARRAY_ITEMS = 1 << 26;
const MAX_DIMS = 4;

/**
 * Parses a GGUF header from `bytes`, which may be the whole file or a prefix of it (then
 * `fileSize` is the whole file's size: tensor ranges are checked against it, and a header longer
 * than the prefix throws GgufNeedsMoreBytes). Anything malformed throws an error starting with `file`.
 */
export function readGgufHeader(bytes: Uint8Array, file: string, fileSize = bytes.byteLength): GgufHeader {
  const fail = (msg: string): never => {
    throw new Error(`${file}: ${msg}`);
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const need = (k: number) => {
    if (at + k <= bytes.byteLength) return;
    if (bytes.byteLength < fileSize) throw new GgufNeedsMoreBytes(at + k);
    fail(`the file ends inside the GGUF header (at byte ${at}, ${k} more needed; the file has ${fileSize})`);
  };
  const u32 = () => (need(4), (at += 4), view.getUint32(at - 4, true));
  const u64 = (what: string) => {
    need(8);
    const v = view.getBigUint64(at, true);
    at += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`${what} ${v} is out of range`);
    return Number(v);
  };
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const string = (what: string) => {
    const n = u64(`${what}: string length`);
    if (n > MAX_STRING_BYTES) fail(`${what}: a string of ${n} bytes`);
    need(n);
    let s = '';
    try {
      s = decoder.decode(bytes.subarray(at, at + n));
    } catch {
      fail(`${what}: a string that is not valid UTF-8`);
    }
    at += n;
    return s;
  };
  const scalar = (type: number, what: string): GgufValue => {
    if (type === GgufType.STRING) return string(what);
    const size = SCALAR_BYTES[type];
    if (size === undefined) fail(`${what}: unknown value type ${type}`);
    need(size);
    const p = at;
    at += size;
    switch (type) {
      case GgufType.UINT8: return view.getUint8(p);
      case GgufType.INT8: return view.getInt8(p);
      case GgufType.UINT16: return view.getUint16(p, true);
      case GgufType.INT16: return view.getInt16(p, true);
      case GgufType.UINT32: return view.getUint32(p, true);
      case GgufType.INT32: return view.getInt32(p, true);
      case GgufType.FLOAT32: return view.getFloat32(p, true);
      case GgufType.BOOL: {
        const b = view.getUint8(p);
        if (b > 1) fail(`${what}: a bool that is ${b}`);
        return b === 1;
      }
      case GgufType.UINT64: return view.getBigUint64(p, true);
      case GgufType.INT64: return view.getBigInt64(p, true);
      default: return view.getFloat64(p, true);
    }
  };

  if (fileSize < 24 && bytes.byteLength >= fileSize) fail(`${fileSize} bytes is too short for a GGUF file`);
  need(4);
  const magic = String.fromCharCode(...bytes.subarray(0, 4));
  if (magic !== GGUF_MAGIC) fail(`not a GGUF file (its magic, bytes 0–3, is ${JSON.stringify(magic)}, not "GGUF")`);
  at = 4;
  const version = u32();
  if (version !== 2 && version !== 3) fail(`GGUF version ${version} is not supported (2 and 3 are)`);
  const nTensors = u64('tensor count');
  const nKv = u64('key-value count');
  if (nTensors > 1_000_000) fail(`${nTensors} tensors`);
  if (nKv > 1_000_000) fail(`${nKv} key-values`);

  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < nKv; i++) {
    const key = string(`key-value ${i}: key`);
    if (metadata.has(key)) fail(`key '${key}' appears twice`);
    const type = u32();
    if (type === GgufType.ARRAY) {
      const itemType = u32();
      const n = u64(`'${key}': array length`);
      if (n > MAX_ARRAY_ITEMS) fail(`'${key}': an array of ${n} items`);
      if (itemType === GgufType.ARRAY) fail(`'${key}': nested arrays are not supported`);
      const arr: GgufValue[] = new Array(n);
      for (let j = 0; j < n; j++) arr[j] = scalar(itemType, `'${key}'[${j}]`);
      metadata.set(key, arr);
    } else metadata.set(key, scalar(type, `'${key}'`));
  }
  const alignValue = metadata.get('general.alignment') ?? GGUF_DEFAULT_ALIGNMENT;
  if (typeof alignValue !== 'number' || !Number.isInteger(alignValue) || alignValue <= 0 || alignValue % 8 !== 0) fail(`general.alignment ${String(alignValue)} is not a positive multiple of 8`);
  const alignment = alignValue as number;

  const tensors: GgufTensorInfo[] = [];
  const names = new Set<string>();
  for (let i = 0; i < nTensors; i++) {
    const name = string(`tensor ${i}: name`);
    if (names.has(name)) fail(`tensor '${name}' appears twice`);
    names.add(name);
    const nDims = u32();
    if (nDims < 1 || nDims > MAX_DIMS) fail(`tensor '${name}': ${nDims} dimensions`);
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) {
      const v = u64(`tensor '${name}': dimension`);
      if (v < 1) fail(`tensor '${name}': dimension ${d} is ${v}`);
      dims.push(v);
    }
    const type = u32();
    const offset = u64(`tensor '${name}': offset`);
    if (offset % alignment !== 0) fail(`tensor '${name}': offset ${offset} is not a multiple of the alignment ${alignment}`);
    tensors.push({ name, dims, type, offset });
  }
  const dataStart = Math.ceil(at / alignment) * alignment;
  if (tensors.length && dataStart > fileSize) fail(`the data section starts at ${dataStart}, past the end of the file (${fileSize} bytes)`);
  const spans: Array<[number, number, string]> = [];
  for (const t of tensors) {
    const n = t.dims.reduce((a, b) => a * b, 1);
    const block = GGML_BLOCKS[t.type];
    let size = 1;
    if (block) {
      if (t.dims[0] % block[0] !== 0) fail(`tensor '${t.name}': first dimension ${t.dims[0]} is not a multiple of ${block[2]}'s block of ${block[0]}`);
      size = (n / block[0]) * block[1];
    }
    const begin = dataStart + t.offset;
    if (begin + size > fileSize) fail(`tensor '${t.name}' (${ggmlTypeName(t.type)} [${t.dims}], ${size} bytes at ${begin}) runs past the end of the file (${fileSize} bytes): the file is truncated`);
    if (block) spans.push([t.offset, t.offset + size, t.name]);
  }
  spans.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++) if (spans[i][0] < spans[i - 1][1]) fail(`tensors '${spans[i - 1][2]}' and '${spans[i][2]}' overlap`);
  return { version, metadata, tensors, alignment, dataStart };
}
