// The WebSocket wire format of the engine protocol. A message is JSON, with what JSON lacks tagged:
// Maps, non-finite numbers, and byte arrays (model files), which travel as raw bytes in a binary
// frame instead of inside the JSON:
//   text frame:   the tagged JSON of the message
//   binary frame: u32 little-endian N, N bytes of JSON {"m": message, "b": [byte lengths]}, then
//                 the byte arrays back to back
// Tags are objects with a "$t" key: {"$t":"map","v":[[k,v],…]}, {"$t":"num","v":"NaN"},
// {"$t":"bytes","i":index,"c":"Float32Array"}; a plain object that has its own "$t" key is wrapped
// as {"$t":"obj","v":{…}} so no data can pose as a tag.

const TYPED = {
  Uint8Array,
  Int8Array,
  Uint16Array,
  Int16Array,
  Uint32Array,
  Int32Array,
  Float32Array,
  Float64Array,
  Uint8ClampedArray,
} as const;
type TypedName = keyof typeof TYPED;

const MAX_DEPTH = 256;

import { decodeUtf8 } from '../util/utf8.ts';

export class CodecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CodecError';
  }
}

function typedName(v: ArrayBufferView): TypedName | null {
  for (const name of Object.keys(TYPED) as TypedName[]) if (v instanceof TYPED[name]) return name;
  return null;
}

function tag(value: unknown, blobs: Uint8Array[], depth: number): unknown {
  if (depth > MAX_DEPTH) throw new CodecError(`message nested deeper than ${MAX_DEPTH} levels`);
  if (typeof value === 'number') return Number.isFinite(value) ? value : { $t: 'num', v: String(value) };
  if (value === null || typeof value !== 'object') return typeof value === 'bigint' ? Number(value) : value;
  if (ArrayBuffer.isView(value)) {
    const c = typedName(value);
    if (!c) throw new CodecError(`cannot send a ${value.constructor.name}`);
    blobs.push(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
    return { $t: 'bytes', i: blobs.length - 1, c };
  }
  if (value instanceof ArrayBuffer) return tag(new Uint8Array(value), blobs, depth);
  if (Array.isArray(value)) return value.map((x) => (x === undefined ? null : tag(x, blobs, depth + 1)));
  if (value instanceof Map) return { $t: 'map', v: [...value].map(([k, v]) => [tag(k, blobs, depth + 1), tag(v, blobs, depth + 1)]) };
  if (value instanceof Set) return [...value].map((x) => tag(x, blobs, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined && typeof v !== 'function') out[k] = tag(v, blobs, depth + 1);
  return Object.hasOwn(out, '$t') ? { $t: 'obj', v: out } : out;
}

function untag(value: unknown, blobs: Uint8Array[], depth: number): unknown {
  if (depth > MAX_DEPTH) throw new CodecError(`message nested deeper than ${MAX_DEPTH} levels`);
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((x) => untag(x, blobs, depth + 1));
  const o = value as Record<string, unknown>;
  if (!Object.hasOwn(o, '$t')) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o)) out[k] = untag(v, blobs, depth + 1);
    return out;
  }
  switch (o.$t) {
    case 'num':
      if (o.v === 'NaN') return NaN;
      if (o.v === 'Infinity') return Infinity;
      if (o.v === '-Infinity') return -Infinity;
      throw new CodecError(`bad number tag ${JSON.stringify(o.v)}`);
    case 'map':
      if (!Array.isArray(o.v) || !o.v.every((e) => Array.isArray(e) && e.length === 2)) throw new CodecError('bad map tag: expected [[key, value], …]');
      return new Map((o.v as unknown[][]).map(([k, v]) => [untag(k, blobs, depth + 1), untag(v, blobs, depth + 1)]));
    case 'bytes': {
      const i = o.i;
      const c = o.c as TypedName;
      if (typeof i !== 'number' || !Number.isInteger(i) || i < 0 || i >= blobs.length) throw new CodecError(`bad bytes tag: no binary part ${String(i)}`);
      if (!Object.hasOwn(TYPED, c)) throw new CodecError(`bad bytes tag: unknown array type ${JSON.stringify(c)}`);
      const b = blobs[i];
      const Ctor = TYPED[c];
      if (b.byteLength % Ctor.BYTES_PER_ELEMENT !== 0) throw new CodecError(`bad bytes tag: ${b.byteLength} bytes is not a whole number of ${c} elements`);
      // A copy, aligned for the element type (the frame's bytes may sit at any offset).
      const copy = new Uint8Array(b);
      return c === 'Uint8Array' ? copy : new Ctor(copy.buffer);
    }
    case 'obj':
      if (o.v === null || typeof o.v !== 'object' || Array.isArray(o.v)) throw new CodecError('bad obj tag');
      return Object.fromEntries(Object.entries(o.v as Record<string, unknown>).map(([k, v]) => [k, untag(v, blobs, depth + 1)]));
    default:
      throw new CodecError(`unknown tag ${JSON.stringify(o.$t)}`);
  }
}

/** A message as one WebSocket frame: text when it holds no bytes, binary when it does. */
export function encodeFrame(message: unknown): string | Uint8Array {
  const blobs: Uint8Array[] = [];
  const tagged = tag(message, blobs, 0);
  if (blobs.length === 0) return JSON.stringify(tagged);
  const header = new TextEncoder().encode(JSON.stringify({ m: tagged, b: blobs.map((b) => b.byteLength) }));
  const total = 4 + header.byteLength + blobs.reduce((s, b) => s + b.byteLength, 0);
  const out = new Uint8Array(total);
  new DataView(out.buffer).setUint32(0, header.byteLength, true);
  out.set(header, 4);
  let at = 4 + header.byteLength;
  for (const b of blobs) {
    out.set(b, at);
    at += b.byteLength;
  }
  return out;
}

/** The message in one frame; throws CodecError naming what is wrong. */
export function decodeFrame(frame: string | Uint8Array): unknown {
  if (typeof frame === 'string') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(frame);
    } catch (e) {
      throw new CodecError(`not valid JSON (${(e as Error).message})`);
    }
    return untag(parsed, [], 0);
  }
  if (frame.byteLength < 4) throw new CodecError(`binary frame of ${frame.byteLength} bytes: too short for its header length`);
  const n = new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(0, true);
  if (4 + n > frame.byteLength) throw new CodecError(`binary frame header says ${n} bytes of JSON but the frame has ${frame.byteLength - 4}`);
  let head: { m?: unknown; b?: unknown };
  try {
    head = JSON.parse(decodeUtf8(frame.subarray(4, 4 + n), 'the head', 4));
  } catch (e) {
    throw new CodecError(`binary frame header is not valid JSON (${(e as Error).message})`);
  }
  const lengths = head?.b;
  if (!Array.isArray(lengths) || !lengths.every((l) => Number.isInteger(l) && l >= 0)) throw new CodecError('binary frame header: "b" must list the byte lengths');
  const blobs: Uint8Array[] = [];
  let at = 4 + n;
  for (const len of lengths as number[]) {
    if (at + len > frame.byteLength) throw new CodecError(`binary frame: part ${blobs.length} of ${len} bytes runs past the end of the frame`);
    blobs.push(frame.subarray(at, at + len));
    at += len;
  }
  if (at !== frame.byteLength) throw new CodecError(`binary frame: ${frame.byteLength - at} bytes after the last part`);
  return untag(head.m, blobs, 0);
}
