// The decoding kernels (v6, v7, v8) must give v1's bits exactly: generation switched to them, and
// batched decoding relies on a row's output not depending on the other rows.
import { describe, expect, it } from 'vitest';
import { hostTensor } from '../../src/gpu/host.ts';
import { ROW_EXACT_VARIANTS, decodeVariant, defaultVariant, matmul, matmulTN } from '../../src/ops/matmul.ts';
import { Rng } from '../../src/util/rng.ts';
import { gpu } from './gpu.ts';

function random(rng: Rng, shape: number[]) {
  const n = shape.reduce((a, b) => a * b, 1);
  return hostTensor(shape, Float32Array.from({ length: n }, () => rng.uniform() * 2 - 1));
}

describe('row-exact matmul variants', () => {
  // K multiple of 4 (vec4 kernels) and not (their v6 fallback); N not a multiple of the tile.
  const shapes: [number, number, number][] = [[1, 64, 257], [2, 64, 100], [3, 45, 130], [4, 128, 64], [5, 64, 257], [8, 68, 300], [8, 45, 33]];
  for (const [m, k, n] of shapes) {
    it(`A·Bᵀ, A·B and Aᵀ·B at ${m}×${k}×${n} agree with v1 bit for bit`, async () => {
      const ctx = await gpu();
      const rng = new Rng(m * 1000 + k * 10 + n);
      const a = ctx.upload(random(rng, [m, k]));
      const bt = ctx.upload(random(rng, [n, k]));
      const b = ctx.upload(random(rng, [k, n]));
      const at = ctx.upload(random(rng, [k, m]));
      const run = async (variant: string) => {
        const outs = [matmul(a, bt, { transB: true, variant }), matmul(a, b, { variant }), matmulTN(at, b, { variant })];
        const data = [];
        for (const o of outs) {
          data.push(Array.from((await o.read()).data));
          o.release();
        }
        return data;
      };
      const ref = await run('v1');
      expect(ref[0].every(Number.isFinite)).toBe(true);
      for (const v of ROW_EXACT_VARIANTS.slice(1)) expect(await run(v), v).toEqual(ref);
      for (const t of [a, bt, b, at]) t.release();
    });
  }

  it('a row of a batch gets the bits it gets alone', async () => {
    const ctx = await gpu();
    const rng = new Rng(7);
    const rows = random(rng, [6, 64]);
    const w = ctx.upload(random(rng, [96, 64]));
    const all = ctx.upload(rows);
    const batched = matmul(all, w, { transB: true, variant: decodeVariant(ctx, 6) });
    const full = Array.from((await batched.read()).data);
    for (let r = 0; r < 6; r++) {
      const one = ctx.upload(hostTensor([1, 64], rows.data.slice(r * 64, r * 64 + 64)));
      const single = matmul(one, w, { transB: true, variant: decodeVariant(ctx, 1) });
      expect(Array.from((await single.read()).data)).toEqual(full.slice(r * 96, r * 96 + 96));
      single.release();
      one.release();
    }
    for (const t of [w, all, batched]) t.release();
  });

  it('decoding (one row) uses a row-exact variant by default', async () => {
    const ctx = await gpu();
    expect(ROW_EXACT_VARIANTS).toContain(defaultVariant(ctx, 1));
    expect(ROW_EXACT_VARIANTS).toContain(decodeVariant(ctx, 8));
  });
});

describe('decoding kernels on this device', () => {
  it('v7 and v8 are used only once checked against v1 here; v6 (v1’s own code) otherwise', async () => {
    const ctx = await gpu(); // checked as the Engine checks every new device
    expect(ctx.choices.get('matmul v7 equals v1')).toBe('yes');
    expect(decodeVariant(ctx, 1)).toBe('v7');
    expect(decodeVariant(ctx, 8)).toBe('v8');
    const saved = new Map(ctx.choices);
    ctx.choices.set('matmul v7 equals v1', 'no');
    ctx.choices.delete('matmul v8 equals v1');
    expect([decodeVariant(ctx, 1), decodeVariant(ctx, 8)]).toEqual(['v6', 'v6']);
    ctx.choices.clear();
    for (const [k, v] of saved) ctx.choices.set(k, v);
  });

  it('a grid past 65535 workgroups in a dimension falls back to v1 (an embedding gradient of a large vocabulary)', async () => {
    const ctx = await gpu();
    const rng = new Rng(3);
    const m = 70000;
    const at = ctx.upload(random(rng, [2, m]));
    const b = ctx.upload(random(rng, [2, 3]));
    const got = matmulTN(at, b, { variant: 'v6' }); // one row per workgroup: 70000 > 65535
    const ref = matmulTN(at, b, { variant: 'v1' });
    expect(Array.from((await got.read()).data)).toEqual(Array.from((await ref.read()).data));
    for (const t of [at, b, got, ref]) t.release();
  });
});
