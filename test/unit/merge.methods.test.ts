// Merge methods: hand-computed fixtures for each method (CPU reference), mergekit's properties,
// and every GPU kernel against the CPU reference on random inputs (DARE masks bit-identical).
import { describe, expect, it } from 'vitest';
import { dareKey, type MergeConfig, planTensor, type TensorRecipe } from '../../src/merge/config.ts';
import {
  bernoulliMaskCpu,
  dareUniform,
  generalizedTaskArithmeticCpu,
  type GtaOptions,
  keepRankRange,
  linearCpu,
  magnitudeMaskCpu,
  mergeTensorCpu,
  modelStockCpu,
  outlierRange,
  rankKeys,
  keptBy,
  rescaleFactorCpu,
  slerpCoefficients,
  slerpCpu,
  sparsifyCpu,
} from '../../src/merge/methods.ts';
import { bernoulliMaskGpu, mergeTensorGpu } from '../../src/merge/gpu.ts';
import { relativeError } from '../../src/gpu/host.ts';
import { Rng } from '../../src/util/rng.ts';
import { gpu } from './gpu.ts';

const f = (xs: number[]) => Float32Array.from(xs);
const close = (actual: ArrayLike<number>, expected: number[], digits = 5) => {
  expect(actual.length).toBe(expected.length);
  expected.forEach((e, i) => expect(actual[i], `element ${i}`).toBeCloseTo(e, digits));
};

const gtaOpts = (o: Partial<GtaOptions> & { weights: number[] }): GtaOptions => ({
  sparsify: { method: null, rescale: 'none', densities: o.weights.map(() => 1), gammas: o.weights.map(() => 0), dareKeys: [] },
  consensus: null,
  normalize: false,
  lambda: 1,
  ...o,
});

describe('merge methods: hand-computed fixtures', () => {
  it('linear: (1·θ0 + 3·θ1) / 4, and without normalize the plain sum', () => {
    const a = f([1, 2, 3, 4]);
    const b = f([3, 2, 1, 0]);
    // (1·[1,2,3,4] + 3·[3,2,1,0]) = [10, 8, 6, 4]; / (1 + 3) = [2.5, 2, 1.5, 1]
    close(linearCpu([a, b], [1, 3], true), [2.5, 2, 1.5, 1]);
    close(linearCpu([a, b], [1, 3], false), [10, 8, 6, 4]);
  });

  it('task arithmetic: base + λ·Σ w·τ (/ Σ w when normalizing)', () => {
    const base = f([1, 1, 1, 1]);
    const A = f([2, 0, 1, 3]); // τ = [1, −1, 0, 2]
    const B = f([0, 2, 1, 1]); // τ = [−1, 1, 0, 0]
    // 1·τA + 0.5·τB = [0.5, −0.5, 0, 2]
    close(generalizedTaskArithmeticCpu(base, [A, B], gtaOpts({ weights: [1, 0.5] })), [1.5, 0.5, 1, 3]);
    // / (1 + 0.5): [1/3, −1/3, 0, 4/3]
    close(generalizedTaskArithmeticCpu(base, [A, B], gtaOpts({ weights: [1, 0.5], normalize: true })), [4 / 3, 2 / 3, 1, 7 / 3]);
    // λ = 2: [1, −1, 0, 4]
    close(generalizedTaskArithmeticCpu(base, [A, B], gtaOpts({ weights: [1, 0.5], lambda: 2 })), [2, 0, 1, 5]);
  });

  it('ties: trim to the top half, elect by mass, disjoint mean over agreeing weights', () => {
    const base = f([1, 1, 1, 1]);
    const A = f([4, 0, 1, -1]); // τA = [3, −1, 0, −2] → top 2 of |τ|: 3, −2 → [3, 0, 0, −2]
    const B = f([-0.5, 3, 0.75, 1]); // τB = [−1.5, 2, −0.25, 0] → top 2: 2, −1.5 → [−1.5, 2, 0, 0]
    // weights [2, 1]: δA = [6, 0, 0, −4], δB = [−1.5, 2, 0, 0]; votes [4.5, 2, 0, −4] → signs [+, +, +, −]
    // agreeing: e0 A (6, w 2), e1 B (2, w 1), e2 none (divisor 0 → 1), e3 A (−4, w 2)
    const opts = gtaOpts({ weights: [2, 1], consensus: 'sum', normalize: true, sparsify: { method: 'magnitude', rescale: 'none', densities: [0.5, 0.5], gammas: [0, 0], dareKeys: [] } });
    close(generalizedTaskArithmeticCpu(base, [A, B], opts), [1 + 3, 1 + 2, 1, 1 - 2]);
    close(generalizedTaskArithmeticCpu(base, [A, B], { ...opts, normalize: false }), [1 + 6, 1 + 2, 1, 1 - 4]);
  });

  it('TIES ties in |τ| are broken by index: among equal magnitudes the later elements rank higher', () => {
    // |τ| = [1, 2, 0.25, 1]: ascending order (0.25,2) (1,0) (1,3) (2,1); the top 2 are indices 3 and 1.
    expect([...magnitudeMaskCpu(f([-1, 2, -0.25, -1]), 0.5)]).toEqual([0, 1, 0, 1]);
  });

  it('dare: the seeded stream decides the mask; rescale matches the L1 norm (mergekit) or divides by density (paper)', () => {
    const key = dareKey(7, 0, 'x');
    // The stream's first draws (pcgHash, fixed forever by src/util/rng.ts):
    const u = [0, 1, 2, 3].map((i) => dareUniform(key, i));
    expect(u.map((x) => Math.round(x * 1e6) / 1e6)).toEqual(GOLDEN_DRAWS);
    // density 0.5 keeps the draws below 0.5: elements 0, 2, 3
    const mask = [1, 0, 1, 1];
    expect([...bernoulliMaskCpu(4, key, 0.5)]).toEqual(mask);
    const tau = f([1, -2, 3, -4]);
    // L1: (1 + 2 + 3 + 4) / (1 + 3 + 4) = 1.25; paper: 1 / 0.5 = 2
    expect(rescaleFactorCpu(tau, Uint8Array.from(mask), 'l1', 0.5)).toBeCloseTo(1.25, 12);
    expect(rescaleFactorCpu(tau, Uint8Array.from([1, 0, 1, 0]), 'l1', 0.5)).toBeCloseTo(10 / 4, 12);
    expect(rescaleFactorCpu(tau, Uint8Array.from([1, 0, 1, 0]), 'inverse_density', 0.5)).toBe(2);
    expect(rescaleFactorCpu(tau, Uint8Array.from([0, 0, 0, 0]), 'l1', 0.5)).toBe(1); // nothing kept: unscaled
    const { delta } = sparsifyCpu(tau, { method: 'random', density: 0.5, gamma: 0, dareKey: key, rescale: 'inverse_density' });
    close(delta, [2, 0, 6, -8]);
    const l1 = sparsifyCpu(tau, { method: 'random', density: 0.5, gamma: 0, dareKey: key, rescale: 'l1' }).delta;
    close(l1, [1.25, 0, 3.75, -5]);
  });

  it('breadcrumbs: drops the γ largest and the smallest to reach the density', () => {
    const tau = f([0.1, -5, 2, -0.3, 1, 4, -0.2, 3, 0.5, -1.5]);
    // n = 10, density 0.5 → keep 5; γ = 0.1 → n_top = 1, n_bot = 10 − 5 − 1 = 4.
    // ascending |τ|: i0 .1, i6 .2, i3 .3, i8 .5, i4 1, i9 1.5, i2 2, i7 3, i5 4, i1 5 → ranks 4..8 kept
    expect([...sparsifyCpu(tau, { method: 'magnitude_outliers', density: 0.5, gamma: 0.1, dareKey: 0, rescale: 'none' }).delta]).toEqual([0, 0, 2, 0, 1, 4, 0, 3, 0, -1.5]);
  });

  it("breadcrumbs with γ·n < 1 keeps the top (mergekit's idx[n_bot:-0] would zero the tensor)", () => {
    const tau = f([0.1, -5, 2, -0.3, 1, 4, -0.2, 3, 0.5, -1.5]);
    // γ = 0.05 → n_top = ⌊0.5⌋ = 0, n_bot = 5 → ranks 5..9: i9, i2, i7, i5, i1
    expect(outlierRange(10, 0.5, 0.05)).toEqual([5, 9]);
    const { delta } = sparsifyCpu(tau, { method: 'magnitude_outliers', density: 0.5, gamma: 0.05, dareKey: 0, rescale: 'none' });
    expect([...delta]).toEqual([0, -5, 2, 0, 0, 4, 0, 3, 0, -1.5]);
    expect(delta.some((x) => x !== 0)).toBe(true);
  });

  it('slerp: the quarter circle at t = 1/2 and 1/3, raw (unnormalised) endpoints', () => {
    // θ0 = π/2: s0 = sin(π/4) = s1 = √2/2 ≈ 0.7071068
    close(slerpCpu(0.5, f([1, 0]), f([0, 1])), [0.7071068, 0.7071068]);
    close(slerpCpu(0.5, f([1, 0]), f([0, 2])), [0.7071068, 1.4142136]);
    // t = 1/3: s0 = sin(π/3) ≈ 0.8660254, s1 = sin(π/6) = 0.5
    close(slerpCpu(1 / 3, f([1, 0]), f([0, 1])), [0.8660254, 0.5]);
  });

  it('slerp: nearly colinear endpoints (|cos| > 0.9995) fall back to lerp', () => {
    const c = slerpCoefficients(0.5, 1 * 2 + 2 * 4.001, 5, 4 + 4.001 ** 2);
    expect(c.colinear).toBe(true);
    // lerp at 1/2: ([1, 2] + [2, 4.001]) / 2
    close(slerpCpu(0.5, f([1, 2]), f([2, 4.001])), [1.5, 3.0005]);
    // just below the threshold it is a real slerp (the norm of the middle exceeds the chord's)
    const v0 = f([1, 0]);
    const v1 = f([Math.cos(0.04), Math.sin(0.04)]); // cos 0.04 ≈ 0.9992 < 0.9995
    const mid = slerpCpu(0.5, v0, v1);
    expect(Math.hypot(mid[0], mid[1])).toBeCloseTo(1, 6);
  });

  it('model stock: t = N·cos / (1 + (N−1)·cos) toward the mean, per tensor or per row', () => {
    const base = f([1, 1, 1, 1]);
    const A = f([2, 1, 2, 1]); // τ = [1, 0, 1, 0]
    const B = f([2, 2, 1, 1]); // τ = [1, 1, 0, 0]
    // cos = 1 / (√2·√2) = 1/2 → t = 2·½ / (1 + ½) = 2/3; mean = [2, 1.5, 1.5, 1]
    close(modelStockCpu(base, [A, B], 4), [5 / 3, 4 / 3, 4 / 3, 1]);
    // filter_wise on [2, 2]: row 0 τ [1,0]·[1,1] → cos = 1/√2, t = √2/(1 + 1/√2) ≈ 0.8284271;
    // row 1: τB row is 0 → cos 0 (norm clamp) → t = 0, the base.
    const z = f([0, 0, 0, 0]);
    close(modelStockCpu(z, [f([1, 0, 1, 0]), f([1, 1, 0, 0])], 2), [0.8284271, 0.4142136, 0, 0]);
  });
});

// dareUniform(dareKey(7, 0, 'x'), i) for i = 0..3, rounded to 6 digits.
const GOLDEN_DRAWS = [0.180879, 0.512752, 0.059161, 0.239413];

describe('merge methods: properties', () => {
  const rng = new Rng(11);
  const rand = (n: number, s = 1) => Float32Array.from({ length: n }, () => rng.normal() * s);

  it('linear with weights [1, 0] returns model 0', () => {
    const a = rand(50);
    expect([...linearCpu([a, rand(50)], [1, 0], true)]).toEqual([...a]);
    expect([...linearCpu([a, rand(50)], [1, 0], false)]).toEqual([...a]);
  });

  it('slerp at t = 0 and t = 1 returns the endpoints', () => {
    const a = rand(40);
    const b = rand(40);
    expect(relativeError(slerpCpu(0, a, b), a)).toBeLessThan(1e-6);
    expect(relativeError(slerpCpu(1, a, b), b)).toBeLessThan(1e-6);
  });

  it('ties with density 1 and one model equals task arithmetic (normalize on and off)', () => {
    const base = rand(64);
    const m = rand(64);
    for (const normalize of [true, false]) {
      const ties = generalizedTaskArithmeticCpu(base, [m], gtaOpts({ weights: [0.7], consensus: 'sum', normalize, sparsify: { method: 'magnitude', rescale: 'none', densities: [1], gammas: [0], dareKeys: [] } }));
      const ta = generalizedTaskArithmeticCpu(base, [m], gtaOpts({ weights: [0.7], normalize }));
      expect([...ties]).toEqual([...ta]);
    }
  });

  it('dare with density 1 is the identity on τ (equals task arithmetic), even with rescale', () => {
    const base = rand(64);
    const ms = [rand(64), rand(64)];
    for (const consensus of [null, 'sum'] as const) {
      const dare = generalizedTaskArithmeticCpu(base, ms, gtaOpts({ weights: [0.4, 0.6], consensus, sparsify: { method: 'random', rescale: 'l1', densities: [1, 1], gammas: [0, 0], dareKeys: [1, 2] } }));
      const plain = generalizedTaskArithmeticCpu(base, ms, gtaOpts({ weights: [0.4, 0.6], consensus }));
      expect([...dare]).toEqual([...plain]);
    }
  });

  it('normalize changes the result exactly by the weight sum (task arithmetic)', () => {
    const base = rand(32);
    const ms = [rand(32), rand(32)];
    const on = generalizedTaskArithmeticCpu(base, ms, gtaOpts({ weights: [0.5, 1.5], normalize: true }));
    const off = generalizedTaskArithmeticCpu(base, ms, gtaOpts({ weights: [0.5, 1.5], normalize: false }));
    for (let i = 0; i < 32; i++) expect((off[i] - base[i]) / 2).toBeCloseTo(on[i] - base[i], 5);
  });

  it('the host thresholds select exactly the ranks the sorting reference keeps (with ties)', () => {
    const tau = Float32Array.from({ length: 300 }, () => Math.round(rng.normal() * 4) / 4); // many equal |τ|
    for (const range of [[250, 299], [17, 200], [0, 0], [299, 299]] as Array<[number, number]>) {
      const mask = keepRankRange(tau, range);
      const [lo, hi] = rankKeys(tau, range);
      const byKeys = Array.from(tau, (x, i) => (keptBy(Math.abs(x), i, lo, hi) ? 1 : 0));
      expect(byKeys).toEqual([...mask]);
    }
  });

  it('ties refuses a density that keeps no element, naming the tensor', () => {
    expect(() => magnitudeMaskCpu(rand(10), 0.05, 'model.norm.weight')).toThrow(/model\.norm\.weight: density 0\.05 keeps .* 0 elements/);
  });
});

describe('merge kernels: GPU vs CPU reference on random inputs', () => {
  const seed = Number(process.env.MERGE_SEED ?? Math.floor(Math.random() * 2 ** 31));
  const shape = [37, 29];
  const n = 37 * 29;

  const cfg = (method: MergeConfig['method'], models: number, parameters: MergeConfig['parameters'], perModel?: (i: number) => MergeConfig['parameters']): MergeConfig => ({
    method,
    baseModel: method === 'linear' ? null : 'base',
    models: Array.from({ length: models }, (_, i) => ({ model: `m${i}`, parameters: perModel?.(i) })),
    parameters,
    seed: seed % 1000,
  });

  const cases: Array<[string, MergeConfig]> = [
    ['linear normalize', cfg('linear', 3, { normalize: true }, (i) => ({ weight: [0.2, 0.5, 0.3][i] }))],
    ['linear raw', cfg('linear', 2, { normalize: false }, (i) => ({ weight: [1.5, -0.5][i] }))],
    ['task_arithmetic λ', cfg('task_arithmetic', 3, { lambda: 0.8, normalize: true }, (i) => ({ weight: [0.3, 0.3, 0.4][i] }))],
    ['ties', cfg('ties', 3, {}, (i) => ({ weight: [1, 0.5, 0.8][i], density: [0.2, 0.5, 0.9][i] }))],
    ['ties rescale l1', cfg('ties', 2, { rescale: true, normalize: false }, (i) => ({ weight: [1, -0.7][i], density: 0.3 }))],
    ['dare_linear', cfg('dare_linear', 3, {}, (i) => ({ weight: [0.4, 0.3, 0.3][i], density: [0.3, 0.6, 0.9][i] }))],
    ['dare_ties', cfg('dare_ties', 3, { normalize: true }, (i) => ({ weight: [1, 1, 0.5][i], density: 0.5 }))],
    ['dare_ties inverse_density', cfg('dare_ties', 2, { rescale: 'inverse_density' }, () => ({ weight: 0.5, density: 0.4 }))],
    ['breadcrumbs', cfg('breadcrumbs', 2, {}, (i) => ({ weight: 1, density: 0.6, gamma: [0.05, 0.2][i] }))],
    ['breadcrumbs_ties', cfg('breadcrumbs_ties', 3, { normalize: true }, () => ({ weight: 1, density: 0.5, gamma: 0.01 }))],
    ['slerp t=0.3', { method: 'slerp', baseModel: 'base', models: [{ model: 'base' }, { model: 'm0' }], parameters: { t: 0.3 } }],
    ['model_stock', cfg('model_stock', 3, {})],
    ['model_stock filter_wise', cfg('model_stock', 2, { filter_wise: true })],
  ];

  cases.forEach(([label, config], ci) => {
    it(`${label} (seed ${seed + ci})`, async () => {
      const ctx = await gpu();
      const recipe: TensorRecipe = planTensor(config, 'model.layers.0.mlp.up_proj.weight', 2);
      const r = new Rng(seed + ci);
      const base = Float32Array.from({ length: n }, () => r.normal());
      const inputs = recipe.inputs.map((ref, k) => (recipe.hasBase && k === 0 ? base : Float32Array.from(base, (x) => x + r.normal() * 0.1 + (ref === 'm1' ? 0.02 : 0))));
      const expected = mergeTensorCpu(recipe, inputs, shape);
      const actual = await mergeTensorGpu(ctx, recipe, inputs, shape);
      expect(actual.some((x) => Number.isNaN(x))).toBe(false);
      expect(relativeError(actual, expected), label).toBeLessThan(1e-5);
    });
  });

  it('slerp near the colinear threshold and for identical endpoints', async () => {
    const ctx = await gpu();
    const r = new Rng(seed);
    const a = Float32Array.from({ length: n }, () => r.normal());
    const recipe = planTensor({ method: 'slerp', baseModel: 'a', models: [{ model: 'a' }, { model: 'b' }], parameters: { t: 0.25 } }, 'model.norm.weight', 2);
    for (const b of [Float32Array.from(a), Float32Array.from(a, (x) => x * 1.01 + r.normal() * 0.001)]) {
      const expected = mergeTensorCpu(recipe, [a, b], [n]);
      const actual = await mergeTensorGpu(ctx, recipe, [a, b], [n]);
      expect(relativeError(actual, expected)).toBeLessThan(1e-5);
    }
  });

  it('DARE masks are bit-identical in WGSL and TypeScript', async () => {
    const ctx = await gpu();
    for (const [len, density] of [[1000, 0.5], [4099, 0.1], [777, 0.93]] as const) {
      const key = dareKey(seed, 2, `t${len}`);
      const t = bernoulliMaskGpu(ctx, len, key, density);
      const gpuMask = (await t.read()).data;
      t.release();
      const cpuMask = bernoulliMaskCpu(len, key, density);
      expect(Array.from(gpuMask)).toEqual(Array.from(cpuMask));
      const kept = cpuMask.reduce((s, x) => s + x, 0) / len;
      expect(Math.abs(kept - density)).toBeLessThan(0.06);
    }
  });
});
