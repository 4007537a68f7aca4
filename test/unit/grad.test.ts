// Gradient checks of the backward CPU references by central finite differences in float64, plus
// the pure pieces of the optimiser (AdamW reference, cosine schedule). The GPU backward kernels are
// checked against these references by the op checks (ops.test.ts).
import { describe, expect, it } from 'vitest';
import { type HostTensor, relativeError } from '../../src/gpu/host.ts';
import { Rng } from '../../src/util/rng.ts';
import { matmulBackwardCpu, matmulCpu, matmulTNCpu } from '../../src/ops/matmul.ts';
import { mulBackwardCpu, mulCpu, scaleBackwardCpu, scaleCpu, swigluBackwardCpu, swigluCpu } from '../../src/ops/elementwise.ts';
import { layerNormBackwardCpu, layerNormCpu } from '../../src/ops/layernorm.ts';
import { ropeBackwardCpu, ropeCpu, ropeTableCpu } from '../../src/ops/rope.ts';
import { attentionBackwardCpu, attentionCpu } from '../../src/ops/attention.ts';
import { embeddingBackwardCpu, embeddingCpu, embeddingGradIndex } from '../../src/ops/embedding.ts';
import { crossEntropyCpu, crossEntropyMaskedBackwardCpu, crossEntropyMaskedCpu } from '../../src/ops/xent.ts';
import { softmaxCpu } from '../../src/ops/softmax.ts';
import { sumCpu, sumOfSquaresCpu } from '../../src/ops/reduce.ts';
import { adamwCpu } from '../../src/ops/adamw.ts';
import { cosineSchedule } from '../../src/ops/schedule.ts';

const FD_TOL = 1e-6;
const H = 1e-5;

function randn64(rng: Rng, shape: number[], s = 1): HostTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return { shape, data: Float64Array.from({ length: n }, () => rng.normal() * s) };
}

/** ∂/∂inputs[which] of L = Σ dout ⊙ f(inputs), by central differences, element by element. */
function numericGrad(f: (...x: HostTensor[]) => HostTensor, inputs: HostTensor[], dout: HostTensor, which: number): Float64Array {
  const loss = (): number => {
    const y = f(...inputs);
    expect(y.data).toBeInstanceOf(Float64Array); // the reference stayed in float64
    let s = 0;
    for (let i = 0; i < y.data.length; i++) s += dout.data[i] * y.data[i];
    return s;
  };
  const x = inputs[which].data;
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const x0 = x[i];
    x[i] = x0 + H;
    const lp = loss();
    x[i] = x0 - H;
    const lm = loss();
    x[i] = x0;
    g[i] = (lp - lm) / (2 * H);
  }
  return g;
}

function expectGrad(name: string, analytic: HostTensor, numeric: Float64Array): void {
  expect(analytic.data).toBeInstanceOf(Float64Array);
  const err = relativeError(analytic.data, numeric);
  expect(err, `${name}: relative error vs finite differences`).toBeLessThan(FD_TOL);
}

describe('float64 CPU references', () => {
  it('keep float32 inputs in float32 and float64 inputs in float64', () => {
    const rng = new Rng(1);
    const a64 = randn64(rng, [3, 4]);
    const b64 = randn64(rng, [4, 2]);
    const a32 = { shape: a64.shape, data: Float32Array.from(a64.data) };
    const b32 = { shape: b64.shape, data: Float32Array.from(b64.data) };
    expect(matmulCpu(a32, b32).data).toBeInstanceOf(Float32Array);
    expect(matmulCpu(a64, b64).data).toBeInstanceOf(Float64Array);
    expect(softmaxCpu(a64).data).toBeInstanceOf(Float64Array);
    expect(sumCpu(a64).data).toBeInstanceOf(Float64Array);
    // The float32 result is the float64 computation on the same (f32) values, rounded.
    const up = { shape: a64.shape, data: Float64Array.from(a32.data) };
    const bp = { shape: b64.shape, data: Float64Array.from(b32.data) };
    expect(Array.from(matmulCpu(a32, b32).data)).toEqual(Array.from(matmulCpu(up, bp).data, Math.fround));
    const ids = { shape: [2], data: Uint32Array.from([1, 0]) };
    expect(crossEntropyCpu(a32, { shape: [3], data: Uint32Array.from([0, 1, 2]) }).data).toBeInstanceOf(Float32Array);
    expect(embeddingCpu(ids, a64).data).toBeInstanceOf(Float64Array);
  });
});

describe('finite-difference gradients (float64)', () => {
  const rng = new Rng(20240611);

  it('matmul A·B, A·Bᵀ, batched and broadcast B', () => {
    const cases: Array<[number[], number[], boolean]> = [
      [[3, 5], [5, 4], false],
      [[2, 3, 5], [4, 5], true], // weights [out, in] shared over the batch: dB sums over it
      [[2, 3, 5], [2, 5, 4], false],
      [[2, 3, 5], [5, 4], false],
    ];
    for (const [as, bs, transB] of cases) {
      const a = randn64(rng, as);
      const b = randn64(rng, bs);
      const y = matmulCpu(a, b, { transB });
      const dy = randn64(rng, [...y.shape]);
      const { da, db } = matmulBackwardCpu(dy, a, b, { transB });
      expect(da.shape).toEqual(as);
      expect(db.shape).toEqual(bs);
      const f = (x: HostTensor, w: HostTensor) => matmulCpu(x, w, { transB });
      expectGrad(`matmul ${as}·${bs} da`, da, numericGrad(f, [a, b], dy, 0));
      expectGrad(`matmul ${as}·${bs} db`, db, numericGrad(f, [a, b], dy, 1));
    }
  });

  it('Aᵀ·B is the product with the transpose', () => {
    const a = randn64(rng, [2, 5, 3]);
    const b = randn64(rng, [2, 5, 4]);
    const c = matmulTNCpu(a, b);
    expect(c.shape).toEqual([2, 3, 4]);
    const at = new Float64Array(30);
    for (let z = 0; z < 2; z++) for (let k = 0; k < 5; k++) for (let m = 0; m < 3; m++) at[z * 15 + m * 5 + k] = a.data[z * 15 + k * 3 + m];
    expect(relativeError(c.data, matmulCpu({ shape: [2, 3, 5], data: at }, b).data)).toBeLessThan(1e-14);
  });

  it('mul, scale, swiglu', () => {
    const a = randn64(rng, [7]);
    const b = randn64(rng, [7], 3);
    const dy = randn64(rng, [7]);
    const m = mulBackwardCpu(dy, a, b);
    expectGrad('mul da', m.da, numericGrad(mulCpu, [a, b], dy, 0));
    expectGrad('mul db', m.db, numericGrad(mulCpu, [a, b], dy, 1));
    expectGrad('scale', scaleBackwardCpu(dy, -1.7), numericGrad((x) => scaleCpu(x, -1.7), [a], dy, 0));
    const s = swigluBackwardCpu(dy, b, a);
    expectGrad('swiglu dgate', s.dgate, numericGrad(swigluCpu, [b, a], dy, 0));
    expectGrad('swiglu dup', s.dup, numericGrad(swigluCpu, [b, a], dy, 1));
  });

  it('layerNorm dx and dw', () => {
    const x = randn64(rng, [3, 5], 2);
    const w = randn64(rng, [5]);
    const dy = randn64(rng, [3, 5]);
    const f = (xx: HostTensor, ww: HostTensor) => layerNormCpu(xx, ww, 1e-5);
    const g = layerNormBackwardCpu(dy, x, w, 1e-5);
    expectGrad('layernorm dx', g.dx, numericGrad(f, [x, w], dy, 0));
    expectGrad('layernorm dw', g.dw, numericGrad(f, [x, w], dy, 1));
  });

  it('rope', () => {
    const table = ropeTableCpu(16, 6, 10000);
    const x = randn64(rng, [2, 3, 2, 6]);
    const dy = randn64(rng, [2, 3, 2, 6]);
    expectGrad('rope', ropeBackwardCpu(dy, table, 4), numericGrad((xx) => ropeCpu(xx, table, 4), [x], dy, 0));
  });

  it('attention dq, dk, dv (full sequence, GQA, and queries after a prefix)', () => {
    const cases: Array<[number[], number[], number | undefined]> = [
      [[2, 3, 4, 4], [2, 3, 2, 4], 0], // training: pos0 = 0, S = T, 2 query heads per KV head
      [[1, 2, 2, 3], [1, 4, 1, 3], undefined], // pos0 = S − T
      [[1, 3, 1, 2], [1, 5, 1, 2], 0], // pos0 = 0 with S > T: unseen keys get zero gradient
    ];
    for (const [qs, ks, pos0] of cases) {
      const q = randn64(rng, qs);
      const k = randn64(rng, ks);
      const v = randn64(rng, ks);
      const dout = randn64(rng, qs);
      const f = (a: HostTensor, b: HostTensor, c: HostTensor) => attentionCpu(a, b, c, pos0);
      const g = attentionBackwardCpu(dout, q, k, v, pos0);
      expectGrad(`attention ${qs} dq`, g.dq, numericGrad(f, [q, k, v], dout, 0));
      expectGrad(`attention ${qs} dk`, g.dk, numericGrad(f, [q, k, v], dout, 1));
      expectGrad(`attention ${qs} dv`, g.dv, numericGrad(f, [q, k, v], dout, 2));
    }
  });

  it('embedding table (repeated and unused ids)', () => {
    const table = randn64(rng, [6, 3]);
    const ids = { shape: [7], data: Uint32Array.from([4, 1, 4, 0, 4, 1, 5]) };
    const dout = randn64(rng, [7, 3]);
    const dt = embeddingBackwardCpu(dout, ids.data, 6);
    expectGrad('embedding', dt, numericGrad((t) => embeddingCpu(ids, t), [table], dout, 0));
    expect(Array.from(dt.data.subarray(2 * 3, 4 * 3))).toEqual([0, 0, 0, 0, 0, 0]); // ids 2 and 3 unused
    const { offsets, positions } = embeddingGradIndex(ids.data, 6);
    expect(Array.from(offsets)).toEqual([0, 1, 3, 3, 3, 6, 7]);
    expect(Array.from(positions)).toEqual([3, 1, 5, 0, 2, 4, 6]);
    expect(() => embeddingGradIndex([6], 6)).toThrow(/outside the vocabulary/);
  });

  it('masked cross-entropy (weights, padding targets outside the vocabulary)', () => {
    const logits = randn64(rng, [5, 7], 2);
    const targets = { shape: [5], data: Uint32Array.from([3, 0, 9, 6, 2]) };
    const weights = { shape: [5], data: Float64Array.from([0.25, 0, 0, 0.5, 0.25]) };
    const losses = crossEntropyMaskedCpu(logits, targets, weights);
    expect(losses.data[1]).toBe(0);
    expect(losses.data[2]).toBe(0); // target 9 ≥ vocab 7, weight 0: no NaN
    const full = crossEntropyCpu(logits, targets).data;
    expect(losses.data[3]).toBeCloseTo(0.5 * full[3], 12);
    const dloss = 1.3;
    const dout = { shape: [5], data: new Float64Array(5).fill(dloss) };
    const g = crossEntropyMaskedBackwardCpu(logits, targets, weights, dloss);
    expectGrad('cross-entropy masked', g, numericGrad((x) => crossEntropyMaskedCpu(x, targets, weights), [logits, targets, weights], dout, 0));
    // A target outside the vocabulary with a non-zero weight contributes nothing either.
    const odd = crossEntropyMaskedBackwardCpu(logits, targets, { shape: [5], data: new Float64Array(5).fill(1) });
    expect(Array.from(odd.data.subarray(2 * 7, 3 * 7))).toEqual(new Array(7).fill(0));
  });

  it('sum of squares', () => {
    const a = { shape: [3], data: Float64Array.from([1, -2, 3]) };
    const b = { shape: [1], data: Float64Array.from([0.5]) };
    expect(sumOfSquaresCpu(a, b).data[0]).toBe(14.25);
  });
});

describe('AdamW reference', () => {
  it('first step moves each parameter by about lr·sign(g) plus decoupled decay', () => {
    const p = { shape: [3], data: Float32Array.from([1, -2, 0.5]) };
    const g = { shape: [3], data: Float32Array.from([0.3, -4, 1e-3]) };
    const m = { shape: [3], data: new Float32Array(3) };
    const v = { shape: [3], data: new Float32Array(3) };
    adamwCpu(p, g, m, v, { lr: 0.1, weightDecay: 0.01, step: 1, eps: 1e-8 });
    // m̂ = g, v̂ = g² at t = 1: update = lr (g / (|g| + eps) + wd p).
    const expected = [1 - 0.1 * (1 + 0.01), -2 - 0.1 * (-1 - 0.02), 0.5 - 0.1 * (1e-3 / (1e-3 + 1e-8) + 0.005)];
    for (let i = 0; i < 3; i++) expect(p.data[i]).toBeCloseTo(expected[i], 5);
    expect(m.data[1]).toBeCloseTo(0.1 * -4, 6);
    expect(v.data[1]).toBeCloseTo(0.001 * 16, 6);
  });

  it('gscale scales the gradient (a clipped step equals a step on the scaled gradient)', () => {
    const make = () => ({ p: { shape: [2], data: Float32Array.from([0.3, -0.7]) }, m: { shape: [2], data: Float32Array.from([0.1, 0.2]) }, v: { shape: [2], data: Float32Array.from([0.01, 0.02]) } });
    const a = make();
    const b = make();
    adamwCpu(a.p, { shape: [2], data: Float32Array.from([2, -6]) }, a.m, a.v, { lr: 0.01, step: 5, gscale: 0.5 });
    adamwCpu(b.p, { shape: [2], data: Float32Array.from([1, -3]) }, b.m, b.v, { lr: 0.01, step: 5, gscale: { shape: [1], data: Float32Array.from([1]) } });
    expect(Array.from(a.p.data)).toEqual(Array.from(b.p.data));
    expect(() => adamwCpu(a.p, a.p, a.m, a.v, { lr: 0.01, step: 0 })).toThrow(/step/);
  });
});

describe('cosineSchedule', () => {
  const s = { lr: 1e-3, warmup: 10, total: 110, minLr: 1e-4 };
  it('warms up linearly from 0, peaks at warmup, decays by a cosine to minLr and stays there', () => {
    expect(cosineSchedule(0, s)).toBe(0);
    expect(cosineSchedule(1, s)).toBeCloseTo(1e-4, 15);
    expect(cosineSchedule(5, s)).toBeCloseTo(5e-4, 15);
    expect(cosineSchedule(10, s)).toBeCloseTo(1e-3, 15);
    expect(cosineSchedule(60, s)).toBeCloseTo((1e-3 + 1e-4) / 2, 15); // half way
    expect(cosineSchedule(110, s)).toBeCloseTo(1e-4, 15);
    expect(cosineSchedule(500, s)).toBeCloseTo(1e-4, 15);
    let prev = Infinity;
    for (let t = 10; t <= 110; t++) {
      const lr = cosineSchedule(t, s);
      expect(lr).toBeLessThanOrEqual(prev);
      prev = lr;
    }
  });
  it('handles no warmup, minLr 0 and no decay', () => {
    expect(cosineSchedule(0, { lr: 2, warmup: 0, total: 4 })).toBe(2);
    expect(cosineSchedule(2, { lr: 2, warmup: 0, total: 4 })).toBeCloseTo(1, 15);
    expect(cosineSchedule(4, { lr: 2, warmup: 0, total: 4 })).toBeCloseTo(0, 15);
    expect(cosineSchedule(7, { lr: 2, warmup: 3, total: 3 })).toBe(2);
  });
});
