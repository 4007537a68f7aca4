// Mutations of valid inputs, as fast-check arbitraries: byte edits (truncate, flip, overwrite with
// huge numbers, insert, delete, duplicate, wrong UTF-8) and JSON edits at a chosen path (wrong
// types, huge or negative numbers, NaN-looking strings, deleted or added keys, deep nesting). A
// mutation is a list of small edits, applied in order; positions are taken modulo the input's
// length, so fast-check shrinks a failing case to few, early edits without knowing the file.
import fc from 'fast-check';

export type ByteEdit =
  | { op: 'truncate'; at: number }
  | { op: 'flip'; at: number; bit: number }
  | { op: 'set'; at: number; value: number }
  | { op: 'u32'; at: number; value: number }
  | { op: 'f32'; at: number; value: number }
  | { op: 'insert'; at: number; bytes: number[] }
  | { op: 'delete'; at: number; length: number }
  | { op: 'duplicate'; at: number; length: number };

/** Positions: small ones (headers) and uniform ones (anywhere in a large file). */
const AT = fc.oneof(fc.nat(), fc.noBias(fc.nat()));

/** Numbers that break length and offset fields. */
const HUGE_U32 = [0xffffffff, 0x7fffffff, 0x80000000, 0x10000, 0xffff, 0, 1, 8, 1e9];

export const byteEdit: fc.Arbitrary<ByteEdit> = fc.oneof(
  fc.record({ op: fc.constant('truncate' as const), at: AT }),
  fc.record({ op: fc.constant('flip' as const), at: AT, bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant('set' as const), at: AT, value: fc.constantFrom(0x00, 0xff, 0x80, 0xc0, 0xfe, 0x22, 0x5c, 0x7b, 0x5d) }),
  fc.record({ op: fc.constant('u32' as const), at: AT, value: fc.constantFrom(...HUGE_U32) }),
  fc.record({ op: fc.constant('f32' as const), at: AT, value: fc.constantFrom(NaN, Infinity, -Infinity, 3.4e38, -0) }),
  fc.record({ op: fc.constant('insert' as const), at: AT, bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 16 }) }),
  fc.record({ op: fc.constant('delete' as const), at: AT, length: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ op: fc.constant('duplicate' as const), at: AT, length: fc.integer({ min: 1, max: 64 }) }),
);

/** `region`: where positions fall ([start, end) of the input), e.g. a file's header or its data. */
export function applyByteEdits(input: Uint8Array, edits: readonly ByteEdit[], region?: (b: Uint8Array) => [number, number]): Uint8Array {
  // A copy (a Node Buffer's slice would be a view: the edits would reach the valid original).
  let b: Uint8Array = new Uint8Array(input);
  for (const e of edits) {
    const [lo, hi] = region ? region(b) : [0, b.length];
    const span = Math.max(1, hi - lo);
    const at = lo + (e.at % span);
    switch (e.op) {
      case 'truncate':
        b = b.slice(0, Math.min(at, b.length));
        break;
      case 'flip':
        if (at < b.length) b[at] ^= 1 << e.bit;
        break;
      case 'set':
        if (at < b.length) b[at] = e.value;
        break;
      case 'u32':
        if (at + 4 <= b.length) new DataView(b.buffer, b.byteOffset).setUint32(at, e.value >>> 0, true);
        break;
      case 'f32': {
        const aligned = at - (at % 4);
        if (aligned + 4 <= b.length) new DataView(b.buffer, b.byteOffset).setFloat32(aligned, e.value, true);
        break;
      }
      case 'insert':
        b = concat(b.subarray(0, at), Uint8Array.from(e.bytes), b.subarray(at));
        break;
      case 'delete':
        b = concat(b.subarray(0, at), b.subarray(at + e.length));
        break;
      case 'duplicate':
        b = concat(b.subarray(0, at + e.length), b.subarray(at, at + e.length), b.subarray(at + e.length));
        break;
    }
  }
  return b;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export const byteEdits = fc.array(byteEdit, { minLength: 1, maxLength: 4 });

// ---- JSON ----

export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

/** A value that breaks a field: `words` are the door's own vocabulary (dtype names, languages…). */
export function nastyValue(words: readonly string[] = []): fc.Arbitrary<JsonValue> {
  return fc.oneof(
    fc.constantFrom<JsonValue>(null, true, false, 0, -1, 1, 0.5, -0.5, 1e308, -1e308, 2 ** 31, 2 ** 32, 2 ** 53 + 2, 1e-320, '', ' ', 'NaN', 'Infinity', '-1', '1e999', '\u0000', '\ud800', '../../etc/passwd', 'a/b', [], {}, [1, 2], ['x'], { a: 1 }),
    ...(words.length ? [fc.constantFrom<JsonValue>(...words)] : []),
    fc.integer({ min: -5, max: 70000 }),
    fc.double({ noNaN: true }),
    fc.string({ maxLength: 12 }),
    fc.string({ unit: 'grapheme', maxLength: 6 }),
    fc.integer({ min: 1, max: 40 }).map((d) => nest(d)),
  );
}

function nest(depth: number): JsonValue {
  let v: JsonValue = [];
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { x: v };
  return v;
}

export type JsonEdit =
  | { op: 'replace'; path: number; value: JsonValue }
  | { op: 'delete'; path: number }
  | { op: 'add'; path: number; key: string; value: JsonValue }
  | { op: 'wrap'; path: number };

export function jsonEdit(words: readonly string[] = []): fc.Arbitrary<JsonEdit> {
  const key = fc.oneof(fc.constantFrom(...(words.length ? words : ['x'])), fc.string({ maxLength: 8 }), fc.constantFrom('__proto__', 'constructor', 'toString'));
  return fc.oneof(
    { weight: 4, arbitrary: fc.record({ op: fc.constant('replace' as const), path: fc.nat(), value: nastyValue(words) }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), path: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('add' as const), path: fc.nat(), key, value: nastyValue(words) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('wrap' as const), path: fc.nat() }) },
  );
}

export const jsonEdits = (words: readonly string[] = []) => fc.array(jsonEdit(words), { minLength: 1, maxLength: 3 });

type Slot = { parent: JsonValue[] | { [k: string]: JsonValue } | null; key: string | number };

/** Every place in `v` (the root first), depth-first. */
function slots(v: JsonValue, parent: Slot['parent'] = null, key: string | number = '', out: Slot[] = []): Slot[] {
  out.push({ parent, key });
  if (Array.isArray(v)) v.forEach((x, i) => slots(x, v, i, out));
  else if (v && typeof v === 'object') for (const k of Object.keys(v)) slots(v[k], v, k, out);
  return out;
}

/** Applies edits to a deep copy; paths index the value's places depth-first (modulo their number). */
export function applyJsonEdits(value: JsonValue, edits: readonly JsonEdit[]): JsonValue {
  let root: JsonValue = structuredClone(value);
  for (const e of edits) {
    const all = slots(root);
    // Big arrays (a vocabulary, merges) would swallow every path: prefer the first few hundred places.
    // The root is replaced only when it is all there is (inputs from scratch cover other roots).
    const s = all.length === 1 ? all[0] : all[1 + (e.path % (Math.min(all.length, 400) - 1))];
    const get = (): JsonValue => (s.parent === null ? root : (s.parent as Record<string | number, JsonValue>)[s.key]);
    const set = (x: JsonValue) => {
      if (s.parent === null) root = x;
      else (s.parent as Record<string | number, JsonValue>)[s.key] = x;
    };
    switch (e.op) {
      case 'replace':
        set(e.value);
        break;
      case 'delete':
        if (s.parent === null) root = null;
        else if (Array.isArray(s.parent)) s.parent.splice(Number(s.key), 1);
        else delete s.parent[s.key as string];
        break;
      case 'add': {
        const target = get();
        if (Array.isArray(target)) target.push(e.value);
        else if (target && typeof target === 'object') Object.defineProperty(target, e.key, { value: e.value, enumerable: true, writable: true, configurable: true });
        else set({ [e.key]: e.value });
        break;
      }
      case 'wrap':
        set([get()]);
        break;
    }
  }
  return root;
}

const enc = new TextEncoder();
export const utf8 = (s: string): Uint8Array => enc.encode(s);

/**
 * A JSON file's bytes after edits: structural edits, then sometimes byte edits on the text (broken
 * syntax, wrong UTF-8, truncation).
 */
export function mutatedJsonBytes(value: JsonValue, words: readonly string[] = []): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    { weight: 3, arbitrary: jsonEdits(words).map((e) => utf8(JSON.stringify(applyJsonEdits(value, e)))) },
    { weight: 1, arbitrary: fc.tuple(jsonEdits(words), byteEdits).map(([j, b]) => applyByteEdits(utf8(JSON.stringify(applyJsonEdits(value, j))), b)) },
    { weight: 1, arbitrary: byteEdits.map((b) => applyByteEdits(utf8(JSON.stringify(value, null, 1)), b)) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => utf8(JSON.stringify(v) ?? 'null')) },
  );
}

// ---- Serialising cases (fixtures): bytes as base64 ----

export function encodeCase(v: unknown): string {
  return JSON.stringify(
    v,
    (_k, x) => {
      if (x instanceof Uint8Array) return { $bytes: Buffer.from(x).toString('base64') };
      if (x instanceof Map) return { $map: [...x.entries()] };
      if (typeof x === 'number' && !Number.isFinite(x)) return { $number: String(x) };
      return x;
    },
    1,
  );
}

export function decodeCase(text: string): unknown {
  return JSON.parse(text, (_k, x) => {
    if (x && typeof x === 'object' && typeof x.$bytes === 'string') return new Uint8Array(Buffer.from(x.$bytes, 'base64'));
    if (x && typeof x === 'object' && typeof x.$number === 'string') return Number(x.$number);
    if (x && typeof x === 'object' && Array.isArray(x.$map)) return new Map(x.$map);
    return x;
  });
}
