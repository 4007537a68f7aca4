import { describe, expect, it } from 'vitest';
import { Rng, pcgHash } from '../../src/util/rng.ts';

describe('Rng', () => {
  it('pcgHash matches the reference PCG-RXS-M-XS values', () => {
    // Computed independently with 64-bit integer arithmetic (BigInt) below.
    const ref = (x: bigint): bigint => {
      const m = (1n << 32n) - 1n;
      const state = (x * 747796405n + 2891336453n) & m;
      const word = (((state >> ((state >> 28n) + 4n)) ^ state) * 277803737n) & m;
      return ((word >> 22n) ^ word) & m;
    };
    for (const x of [0, 1, 2, 12345, 0x7fffffff, 0xffffffff]) expect(pcgHash(x)).toBe(Number(ref(BigInt(x))));
  });

  it('is deterministic by seed and differs across seeds', () => {
    const a = new Rng(7);
    const b = new Rng(7);
    const c = new Rng(8);
    const xa = Array.from({ length: 5 }, () => a.u32());
    expect(Array.from({ length: 5 }, () => b.u32())).toEqual(xa);
    expect(Array.from({ length: 5 }, () => c.u32())).not.toEqual(xa);
  });

  it('draws normals with mean ≈ 0 and variance ≈ 1', () => {
    const r = new Rng(1);
    const xs = Array.from({ length: 20000 }, () => r.normal());
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    const v = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length;
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(v - 1)).toBeLessThan(0.05);
  });
});
