// safetensors reader and writer (https://github.com/huggingface/safetensors): an 8-byte little-endian
// header length N, N bytes of UTF-8 JSON, then the data buffer. Pure TypeScript: runs in the browser,
// the worker and Node alike. Every malformed input is rejected with an error that starts with the
// file name, before any tensor data is touched.

import { show } from '../util/show.ts';
import { numel, type HostTensor } from '../gpu/host.ts';
import { decodeUtf8 } from '../util/utf8.ts';

/** Bits per element of every dtype the safetensors format defines (sub-byte float formats included). */
const DTYPE_BITS: Record<string, number> = {
  BOOL: 8,
  U8: 8,
  I8: 8,
  F8_E5M2: 8,
  F8_E4M3: 8,
  F8_E8M0: 8,
  I16: 16,
  U16: 16,
  F16: 16,
  BF16: 16,
  I32: 32,
  U32: 32,
  F32: 32,
  F64: 64,
  I64: 64,
  U64: 64,
  F4: 4,
  F6_E2M3: 6,
  F6_E3M2: 6,
};

/** The dtypes readSafetensors converts (to f32); the rest are valid but rejected as unsupported. */
export const READABLE_DTYPES: readonly string[] = ['F32', 'F16', 'BF16'];

/** Same bound as the reference implementation: a bigger header is an attack or a corrupt file. */
export const MAX_HEADER_BYTES = 100_000_000;

export interface SafetensorsEntry {
  name: string;
  dtype: string;
  shape: number[];
  /** Byte offsets relative to the start of the data buffer (dataStart). */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  headerLength: number;
  /** Absolute offset of the data buffer in the file: 8 + headerLength. */
  dataStart: number;
  /** In data order (by begin): JSON.parse would move integer-like names first, losing header order. */
  tensors: SafetensorsEntry[];
  metadata: Record<string, string>;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses and validates the header (dtypes, shapes, offsets, byte lengths); does not read the data. */
export function parseSafetensorsHeader(bytes: Uint8Array, file: string): SafetensorsHeader {
  if (bytes.byteLength < 8) throw new Error(`${file}: not a safetensors file: ${bytes.byteLength} bytes, shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lo = view.getUint32(0, true);
  const hi = view.getUint32(4, true);
  // hi > 0 means N ≥ 4 GiB, already absurd; avoids BigInt and precision loss.
  const headerLength = hi * 2 ** 32 + lo;
  if (hi > 0 || headerLength > MAX_HEADER_BYTES) {
    throw new Error(`${file}: header length ${headerLength} bytes is absurd (limit ${MAX_HEADER_BYTES}); not a safetensors file or corrupt`);
  }
  if (8 + headerLength > bytes.byteLength) {
    throw new Error(`${file}: header length ${headerLength} bytes runs past the end of the file (${bytes.byteLength} bytes); truncated or not a safetensors file`);
  }
  const dataStart = 8 + headerLength;
  const dataLength = bytes.byteLength - dataStart;

  const text = decodeUtf8(bytes.subarray(8, dataStart), `${file}: header`, 8);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: header is not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(json)) throw new Error(`${file}: header is not a JSON object`);

  const metadata: Record<string, string> = {};
  const tensors: SafetensorsEntry[] = [];
  for (const [name, raw] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (raw === null) continue;
      if (!isObject(raw)) throw new Error(`${file}: __metadata__ is not an object of strings`);
      for (const [k, v] of Object.entries(raw)) {
        if (typeof v !== 'string') throw new Error(`${file}: __metadata__ value for '${k}' is ${typeName(v)}, not a string`);
        metadata[k] = v;
      }
      continue;
    }
    tensors.push(parseEntry(name, raw, file, dataLength));
  }

  // The spec wants the tensors to tile the buffer; we tolerate gaps (harmless) but not overlaps.
  const sorted = [...tensors].sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1];
    const cur = sorted[i];
    if (cur.begin < prev.end) {
      throw new Error(`${file}: tensors '${prev.name}' [${prev.begin}, ${prev.end}) and '${cur.name}' [${cur.begin}, ${cur.end}) overlap`);
    }
  }
  return { headerLength, dataStart, tensors: sorted, metadata };
}

function parseEntry(name: string, raw: unknown, file: string, dataLength: number): SafetensorsEntry {
  const where = `${file}: tensor '${name}'`;
  if (!isObject(raw)) throw new Error(`${where}: entry is ${typeName(raw)}, not an object`);
  const { dtype, shape, data_offsets: offsets } = raw;
  if (dtype === undefined) throw new Error(`${where}: missing 'dtype'`);
  if (shape === undefined) throw new Error(`${where}: missing 'shape'`);
  if (offsets === undefined) throw new Error(`${where}: missing 'data_offsets'`);
  if (typeof dtype !== 'string') throw new Error(`${where}: 'dtype' is ${typeName(dtype)}, not a string`);
  const bits = DTYPE_BITS[dtype];
  if (bits === undefined) throw new Error(`${where}: unknown dtype '${dtype}'`);
  if (!Array.isArray(shape)) throw new Error(`${where}: 'shape' is ${typeName(shape)}, not an array`);
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      throw new Error(`${where}: shape ${show(shape)} has a dimension that is not a non-negative integer`);
    }
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => typeof o === 'number')) {
    throw new Error(`${where}: 'data_offsets' must be an array [begin, end] of two numbers`);
  }
  const [begin, end] = offsets as number[];
  if (!Number.isSafeInteger(begin) || !Number.isSafeInteger(end) || begin < 0 || end < 0) {
    throw new Error(`${where}: data_offsets [${begin}, ${end}] are not non-negative integers`);
  }
  if (begin > end) throw new Error(`${where}: data_offsets [${begin}, ${end}] have begin > end`);
  if (end > dataLength) {
    throw new Error(`${where}: data_offsets [${begin}, ${end}] are out of range of the ${dataLength}-byte data buffer`);
  }
  const count = numel(shape as number[]);
  const expected = (count * bits) / 8;
  if (end - begin !== expected) {
    throw new Error(
      `${where}: byte length ${end - begin} does not match shape [${shape.join(', ')}] × ${dtype} (${expected} bytes)`,
    );
  }
  return { name, dtype, shape: [...(shape as number[])], begin, end };
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return `a ${typeof v}`;
}

/** The platform's byte order (typed arrays use it; the files are little-endian). */
export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

let f16Table: Float32Array | null = null;

/** IEEE binary16 → number, exact (subnormals, ±0, ±inf, NaN). */
export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? Number.NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + mant / 1024);
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** number → IEEE binary16 bits, rounded to nearest even (as numpy and ggml do); overflow → ±inf. */
export function f32ToF16(x: number): number {
  f32Scratch[0] = x;
  const b = u32Scratch[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 112; // the binary16 exponent field
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal or zero: the result counts units of 2^-24, i.e. the 24-bit significand shifted right.
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++; // a carry into the exponent is still right
  return sign | h;
}

function f16Lookup(): Float32Array {
  // 256 KiB once: a table lookup per element beats the branches on big F16 checkpoints.
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16ToF32(h);
  }
  return f16Table;
}

/** Reads every tensor, converting F32/F16/BF16 to Float32Array; other dtypes are rejected. */
export function readSafetensors(bytes: Uint8Array, file: string): { tensors: Map<string, HostTensor>; metadata: Record<string, string> } {
  const header = parseSafetensorsHeader(bytes, file);
  for (const t of header.tensors) {
    if (!READABLE_DTYPES.includes(t.dtype)) {
      throw new Error(`${file}: tensor '${t.name}': dtype ${t.dtype} is not supported by the playground (it reads ${READABLE_DTYPES.join(', ')})`);
    }
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tensors = new Map<string, HostTensor>();
  for (const t of header.tensors) {
    const at = header.dataStart + t.begin;
    const n = numel(t.shape);
    let data: Float32Array;
    if (t.dtype === 'F32') {
      if (LITTLE_ENDIAN) {
        // A copy into a fresh, aligned buffer: the source offset may be unaligned. Uint8Array's own
        // slice, because a Node Buffer's slice is a view that shares memory.
        data = new Float32Array(Uint8Array.prototype.slice.call(bytes, at, at + 4 * n).buffer);
      } else {
        data = new Float32Array(n);
        for (let i = 0; i < n; i++) data[i] = view.getFloat32(at + 4 * i, true);
      }
    } else if (t.dtype === 'F16') {
      const table = f16Lookup();
      data = new Float32Array(n);
      for (let i = 0; i < n; i++) data[i] = table[view.getUint16(at + 2 * i, true)];
    } else {
      // BF16 is the upper half of an f32: write the bits so NaN payloads survive.
      data = new Float32Array(n);
      const bits = new Uint32Array(data.buffer);
      for (let i = 0; i < n; i++) bits[i] = view.getUint16(at + 2 * i, true) << 16;
    }
    tensors.set(t.name, { shape: t.shape, data });
  }
  return { tensors, metadata: header.metadata };
}

/** Writes F32 tensors in the given order, header space-padded to a multiple of 8 so data is aligned. */
export function writeSafetensors(tensors: Array<{ name: string; tensor: HostTensor }>, metadata?: Record<string, string>): Uint8Array {
  const seen = new Set<string>();
  const parts: string[] = [];
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new Error(`safetensors metadata value for '${k}' is not a string`);
    }
    parts.push(`"__metadata__":${JSON.stringify(metadata)}`);
  }
  let offset = 0;
  for (const { name, tensor } of tensors) {
    if (name === '__metadata__') throw new Error(`tensor name '__metadata__' is reserved`);
    if (seen.has(name)) throw new Error(`tensor '${name}' is given twice`);
    seen.add(name);
    if (!(tensor.data instanceof Float32Array)) throw new Error(`tensor '${name}' is not f32; only F32 is written`);
    const n = numel(tensor.shape);
    if (tensor.data.length !== n) throw new Error(`tensor '${name}' has ${tensor.data.length} elements, shape [${tensor.shape.join(', ')}] needs ${n}`);
    const entry = { dtype: 'F32', shape: [...tensor.shape], data_offsets: [offset, offset + 4 * n] };
    // Built by hand: a JS object would move integer-like names ahead of the others.
    parts.push(`${JSON.stringify(name)}:${JSON.stringify(entry)}`);
    offset += 4 * n;
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const headerLength = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLength + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerLength, true);
  view.setUint32(4, 0, true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let at = 8 + headerLength;
  for (const { tensor } of tensors) {
    const data = tensor.data as Float32Array;
    if (LITTLE_ENDIAN) out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
    else for (let i = 0; i < data.length; i++) view.setFloat32(at + 4 * i, data[i], true);
    at += data.byteLength;
  }
  return out;
}
