import { describe, expect, it } from 'vitest';
import { hostIds, hostTensor } from '../../src/gpu/host.ts';
import { f16ToF32, parseSafetensorsHeader, readSafetensors, writeSafetensors } from '../../src/model/safetensors.ts';

const FILE = 'bad.safetensors';

/** A file from a raw header string and data; `length` overrides the header-length field. */
function craft(header: string, data: Uint8Array | number = 0, length?: bigint): Uint8Array {
  const h = new TextEncoder().encode(header);
  const d = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + h.length + d.length);
  new DataView(out.buffer).setBigUint64(0, length ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(d, 8 + h.length);
  return out;
}

/** One tensor entry's header JSON. */
const entry = (dtype: unknown, shape: unknown, offsets: unknown): string =>
  JSON.stringify({ t: { dtype, shape, data_offsets: offsets } });

function u16le(values: number[]): Uint8Array {
  const out = new Uint8Array(2 * values.length);
  const v = new DataView(out.buffer);
  values.forEach((x, i) => v.setUint16(2 * i, x, true));
  return out;
}

const rejects = (bytes: Uint8Array, message: RegExp): void => {
  expect(() => parseSafetensorsHeader(bytes, FILE)).toThrow(message);
  expect(() => readSafetensors(bytes, FILE)).toThrow(message);
};

describe('safetensors', () => {
  it('round-trips F32 tensors and metadata, keeping the order of names', () => {
    const a = hostTensor([2, 3], [1, -2.5, 3.25, 0, -0, 1e-30]);
    const b = hostTensor([4], [Infinity, -Infinity, 65504, 1 / 3]);
    const scalar = hostTensor([], [7]);
    const empty = hostTensor([0, 5]);
    const bytes = writeSafetensors(
      [
        { name: 'z.weight', tensor: a },
        { name: '10', tensor: b },
        { name: 'scalar', tensor: scalar },
        { name: 'empty', tensor: empty },
      ],
      { format: 'pt', note: 'ünïcödé' },
    );
    const { tensors, metadata } = readSafetensors(bytes, 'rt.safetensors');
    expect([...tensors.keys()]).toEqual(['z.weight', '10', 'scalar', 'empty']);
    expect(metadata).toEqual({ format: 'pt', note: 'ünïcödé' });
    expect(tensors.get('z.weight')!.shape).toEqual([2, 3]);
    expect(Array.from(tensors.get('z.weight')!.data)).toEqual(Array.from(a.data));
    expect(Object.is(tensors.get('z.weight')!.data[4], -0)).toBe(true);
    expect(Array.from(tensors.get('10')!.data)).toEqual(Array.from(b.data));
    expect(tensors.get('scalar')!.shape).toEqual([]);
    expect(Array.from(tensors.get('scalar')!.data)).toEqual([7]);
    expect(tensors.get('empty')!.shape).toEqual([0, 5]);
    expect(tensors.get('empty')!.data.length).toBe(0);
  });

  it('writes the exact layout Python safetensors loads', () => {
    const a = hostTensor([2, 3], [1, 2, 3, 4, 5, 6]);
    const b = hostTensor([3], [0.5, -1, 2]);
    const bytes = writeSafetensors([
      { name: 'a', tensor: a },
      { name: 'bb', tensor: b },
    ]);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const n = Number(view.getBigUint64(0, true));
    const json = '{"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"bb":{"dtype":"F32","shape":[3],"data_offsets":[24,36]}}';
    expect(json.length).toBe(113);
    expect(n).toBe(120); // padded to a multiple of 8 with spaces
    const header = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    expect(header).toBe(`${json}       `);
    // Tensors tile the data buffer exactly (Python rejects gaps and trailing bytes).
    expect(bytes.length).toBe(8 + n + 36);
    for (let i = 0; i < 6; i++) expect(view.getFloat32(8 + n + 4 * i, true)).toBe(i + 1);
    expect(view.getFloat32(8 + n + 24, true)).toBe(0.5);
    expect(view.getFloat32(8 + n + 32, true)).toBe(2);
    // With metadata: __metadata__ first, still 8-aligned data.
    const withMeta = writeSafetensors([{ name: 'a', tensor: a }], { format: 'pt' });
    const m = Number(new DataView(withMeta.buffer).getBigUint64(0, true));
    expect(m % 8).toBe(0);
    expect(new TextDecoder().decode(withMeta.subarray(8, 8 + m)).trimEnd()).toBe(
      '{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}}',
    );
  });

  it('refuses to write non-f32 or duplicate tensors', () => {
    expect(() => writeSafetensors([{ name: 'ids', tensor: hostIds([2], [1, 2]) }])).toThrow(/'ids' is not f32/);
    const t = hostTensor([1], [1]);
    expect(() => writeSafetensors([{ name: 'x', tensor: t }, { name: 'x', tensor: t }])).toThrow(/'x' is given twice/);
    expect(() => writeSafetensors([{ name: 'x', tensor: { shape: [3], data: new Float32Array(2) } }])).toThrow(/2 elements/);
  });

  it('converts F16 exactly: normals, subnormals, signed zero, inf and NaN', () => {
    const cases: Array<[number, number]> = [
      [0x3c00, 1],
      [0xc000, -2],
      [0x7c00, Infinity],
      [0xfc00, -Infinity],
      [0x0001, 2 ** -24],
      [0x03ff, 1023 * 2 ** -24],
      [0x0400, 2 ** -14],
      [0x7bff, 65504],
      [0x3555, 0.333251953125],
      [0x0000, 0],
    ];
    for (const [h, v] of cases) expect(f16ToF32(h)).toBe(v);
    expect(Object.is(f16ToF32(0x8000), -0)).toBe(true);
    expect(f16ToF32(0x7e00)).toBeNaN();
    expect(f16ToF32(0xfc01)).toBeNaN();

    const halves = [...cases.map(([h]) => h), 0x8000, 0x7e00];
    const bytes = craft(entry('F16', [halves.length], [0, 2 * halves.length]), u16le(halves));
    const t = readSafetensors(bytes, 'f16.safetensors').tensors.get('t')!;
    expect(t.data).toBeInstanceOf(Float32Array);
    expect(Array.from(t.data.subarray(0, cases.length))).toEqual(cases.map(([, v]) => Math.fround(v)));
    expect(Object.is(t.data[cases.length], -0)).toBe(true);
    expect(t.data[cases.length + 1]).toBeNaN();
  });

  it('converts BF16 as the upper half of an f32', () => {
    const cases: Array<[number, number]> = [
      [0x3f80, 1],
      [0xc000, -2],
      [0x4049, 3.140625],
      [0x7f80, Infinity],
      [0xff80, -Infinity],
      [0x0001, 2 ** -133],
      [0x0000, 0],
    ];
    const halves = [...cases.map(([h]) => h), 0x7fc0];
    const bytes = craft(entry('BF16', [2, 4], [0, 16]), u16le(halves));
    const t = readSafetensors(bytes, 'bf16.safetensors').tensors.get('t')!;
    expect(t.shape).toEqual([2, 4]);
    expect(Array.from(t.data.subarray(0, cases.length))).toEqual(cases.map(([, v]) => v));
    expect(t.data[7]).toBeNaN();
  });

  it('reads data at unaligned offsets and from a view into a larger buffer', () => {
    // Header of odd length: the F32 data starts at an odd byte.
    const header = `${JSON.stringify({ h: { dtype: 'F16', shape: [1], data_offsets: [0, 2] }, f: { dtype: 'F32', shape: [2], data_offsets: [3, 11] } })} `;
    const data = new Uint8Array(11);
    const dv = new DataView(data.buffer);
    dv.setUint16(0, 0xc000, true);
    dv.setFloat32(3, 1.5, true);
    dv.setFloat32(7, -7.25, true);
    const file = craft(header, data);
    expect((8 + new TextEncoder().encode(header).length) % 2).toBe(1);
    const big = new Uint8Array(file.length + 3);
    big.set(file, 3);
    for (const bytes of [file, big.subarray(3)]) {
      const { tensors } = readSafetensors(bytes, 'u.safetensors');
      expect(Array.from(tensors.get('h')!.data)).toEqual([-2]);
      expect(Array.from(tensors.get('f')!.data)).toEqual([1.5, -7.25]);
      expect(tensors.get('f')!.data.buffer.byteLength).toBe(8); // a copy, not a view of the file
    }
  });

  it('accepts gaps between tensors and trailing header spaces', () => {
    const header = `${JSON.stringify({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } })}      `;
    const data = new Uint8Array(12);
    new DataView(data.buffer).setFloat32(8, 3, true);
    const { tensors } = readSafetensors(craft(header, data), 'gap.safetensors');
    expect(Array.from(tensors.get('b')!.data)).toEqual([3]);
  });

  describe('rejects malformed files with the file name and the problem', () => {
    it('too short for the length field', () => {
      rejects(new Uint8Array(5), /^bad\.safetensors: not a safetensors file: 5 bytes, shorter than the 8-byte header length/);
    });
    it('header length past the end of the file', () => {
      rejects(craft('{}', 0, 100n), /^bad\.safetensors: header length 100 bytes runs past the end of the file \(10 bytes\)/);
    });
    it('absurd header length', () => {
      rejects(craft('{}', 0, 200_000_000n), /^bad\.safetensors: header length 200000000 bytes is absurd/);
      rejects(craft('{}', 0, 1n << 40n), /^bad\.safetensors: header length \d+ bytes is absurd/);
    });
    it('header not UTF-8', () => {
      const bytes = craft('{"a":1}');
      bytes[10] = 0xff;
      rejects(bytes, /^bad\.safetensors: header: not valid UTF-8 at byte \d+/);
    });
    it('header not JSON', () => {
      rejects(craft('{"t": {"dtype": "F32",'), /^bad\.safetensors: header is not valid JSON/);
    });
    it('header not an object', () => {
      rejects(craft('[1, 2]'), /^bad\.safetensors: header is not a JSON object/);
      rejects(craft('null'), /^bad\.safetensors: header is not a JSON object/);
    });
    it('entry missing fields or with wrong types', () => {
      rejects(craft('{"t": 3}'), /^bad\.safetensors: tensor 't': entry is a number, not an object/);
      rejects(craft('{"t": {"shape": [1], "data_offsets": [0, 4]}}', 4), /^bad\.safetensors: tensor 't': missing 'dtype'/);
      rejects(craft('{"t": {"dtype": "F32", "data_offsets": [0, 4]}}', 4), /^bad\.safetensors: tensor 't': missing 'shape'/);
      rejects(craft('{"t": {"dtype": "F32", "shape": [1]}}', 4), /^bad\.safetensors: tensor 't': missing 'data_offsets'/);
      rejects(craft(entry(32, [1], [0, 4]), 4), /tensor 't': 'dtype' is a number, not a string/);
      rejects(craft(entry('F32', '1', [0, 4]), 4), /tensor 't': 'shape' is a string, not an array/);
      rejects(craft(entry('F32', [1], [0]), 4), /tensor 't': 'data_offsets' must be an array \[begin, end\] of two numbers/);
      rejects(craft(entry('F32', [1], ['0', '4']), 4), /'data_offsets' must be an array/);
    });
    it('bad shape dimensions', () => {
      rejects(craft(entry('F32', [-1], [0, 4]), 4), /^bad\.safetensors: tensor 't': shape \[-1\] has a dimension that is not a non-negative integer/);
      rejects(craft(entry('F32', [1.5], [0, 4]), 4), /shape \[1\.5\] has a dimension that is not a non-negative integer/);
      rejects(craft(entry('F32', ['2'], [0, 8]), 8), /has a dimension that is not a non-negative integer/);
    });
    it('unknown dtype', () => {
      rejects(craft(entry('F33', [1], [0, 4]), 4), /^bad\.safetensors: tensor 't': unknown dtype 'F33'/);
    });
    it('valid but unsupported dtypes: header parses, reading says so', () => {
      for (const [dtype, size] of [['I64', 8], ['F64', 8], ['I32', 4], ['U8', 1], ['BOOL', 1]] as const) {
        const bytes = craft(entry(dtype, [2], [0, 2 * size]), 2 * size);
        expect(parseSafetensorsHeader(bytes, FILE).tensors[0].dtype).toBe(dtype);
        expect(() => readSafetensors(bytes, FILE)).toThrow(
          new RegExp(`^bad\\.safetensors: tensor 't': dtype ${dtype} is not supported by the playground`),
        );
      }
    });
    it('offsets out of range, reversed or negative', () => {
      rejects(craft(entry('F32', [2], [0, 8]), 4), /^bad\.safetensors: tensor 't': data_offsets \[0, 8\] are out of range of the 4-byte data buffer/);
      rejects(craft(entry('F32', [1], [8, 4]), 8), /^bad\.safetensors: tensor 't': data_offsets \[8, 4\] have begin > end/);
      rejects(craft(entry('F32', [1], [-4, 0]), 8), /data_offsets \[-4, 0\] are not non-negative integers/);
      rejects(craft(entry('F32', [1], [0.5, 4.5]), 8), /are not non-negative integers/);
    });
    it('overlapping tensors', () => {
      const header = JSON.stringify({
        b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
        a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      });
      rejects(craft(header, 12), /^bad\.safetensors: tensors 'a' \[0, 8\) and 'b' \[4, 12\) overlap/);
    });
    it('byte length that does not match shape × dtype size', () => {
      rejects(craft(entry('F32', [3], [0, 8]), 8), /^bad\.safetensors: tensor 't': byte length 8 does not match shape \[3\] × F32 \(12 bytes\)/);
      rejects(craft(entry('F16', [2, 2], [0, 16]), 16), /byte length 16 does not match shape \[2, 2\] × F16 \(8 bytes\)/);
    });
    it('metadata that is not an object of strings', () => {
      rejects(craft('{"__metadata__": {"format": "pt", "step": 3}}'), /^bad\.safetensors: __metadata__ value for 'step' is a number, not a string/);
      rejects(craft('{"__metadata__": ["pt"]}'), /^bad\.safetensors: __metadata__ is not an object of strings/);
    });
  });
});
