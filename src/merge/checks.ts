// The merge kernels in the op-check registry (src/ops/checks.ts): each against its CPU reference on
// fresh random inputs, outputs NaN-poisoned. Inputs are [K, n] stacks (row 0 the base); magnitude
// thresholds are found on the host in make() and travel as a packed u32 params tensor, exactly as
// mergeTensorGpu does it.
import type { HostTensor } from '../gpu/host.ts';
import { shapeStr } from '../gpu/host.ts';
import type { OpCheck } from '../ops/checks.ts';
import type { Rng } from '../util/rng.ts';
import { dareKey, type RescaleRule, type Sparsification } from './config.ts';
import { axpbyGpu, bernoulliMaskGpu, gramGpu, gtaGpu, gtaParams, linearGpu, modelStockCombineGpu, pairCount } from './gpu.ts';
import { bernoulliMaskCpu, generalizedTaskArithmeticCpu, linearCpu } from './methods.ts';

const TOL_ELEMENTWISE = 1e-5;
const TOL_REDUCTION = 1e-4;

function stack(rng: Rng, k: number, n: number, spread = 0.1): HostTensor {
  const data = new Float32Array(k * n);
  for (let i = 0; i < n; i++) data[i] = rng.normal();
  for (let r = 1; r < k; r++) for (let i = 0; i < n; i++) data[r * n + i] = data[i] + rng.normal() * spread;
  return { shape: [k, n], data };
}

const rows = (t: HostTensor): Float32Array[] => {
  const [k, n] = t.shape;
  return Array.from({ length: k }, (_, r) => (t.data as Float32Array).subarray(r * n, (r + 1) * n));
};

interface GtaCase {
  label: string;
  models: number;
  n: number;
  sparsify: Sparsification;
  consensus: boolean;
  normalize: boolean;
  rescale: RescaleRule;
  densities: number[];
  gammas?: number[];
  weights: number[];
  lambda?: number;
}

function gtaCheck(c: GtaCase): OpCheck {
  const keys = c.weights.map((_, i) => dareKey(17, i, c.label));
  const gammas = c.gammas ?? c.weights.map(() => 0.01);
  const spec = { tensor: c.label, weights: c.weights, densities: c.densities, gammas, dareKeys: keys, sparsify: c.sparsify, rescale: c.rescale };
  return {
    op: `merge ${c.label}`,
    shape: shapeStr([c.models + 1, c.n]),
    tolerance: TOL_ELEMENTWISE,
    make: (rng) => {
      const s = stack(rng, c.models + 1, c.n);
      return [s, { shape: [c.models * 12], data: gtaParams(spec, rows(s)) }];
    },
    cpu: (s) => {
      const [base, ...models] = rows(s);
      const out = generalizedTaskArithmeticCpu(base, models, {
        weights: c.weights,
        sparsify: { method: c.sparsify, rescale: c.rescale, densities: c.densities, gammas, dareKeys: keys },
        consensus: c.consensus ? 'sum' : null,
        normalize: c.normalize,
        lambda: c.lambda ?? 1,
      }, c.label);
      return { shape: [c.n], data: out };
    },
    gpu: (s, params) => gtaGpu(s, params, { consensus: c.consensus, normalize: c.normalize, lambda: c.lambda ?? 1, weights: c.weights }),
  };
}

export function mergeOpChecks(): OpCheck[] {
  const checks: OpCheck[] = [
    {
      op: 'merge linear',
      shape: shapeStr([3, 1000]),
      tolerance: TOL_ELEMENTWISE,
      make: (rng) => [stack(rng, 3, 1000, 1)],
      cpu: (s) => ({ shape: [1000], data: linearCpu(rows(s), [0.2, 0.5, 0.3], true) }),
      gpu: (s) => linearGpu(s, [0.2, 0.5, 0.3], true),
    },
    gtaCheck({ label: 'task_arithmetic', models: 2, n: 1000, sparsify: null, consensus: false, normalize: true, rescale: 'none', densities: [1, 1], weights: [0.7, 0.6], lambda: 0.9 }),
    gtaCheck({ label: 'ties', models: 3, n: 777, sparsify: 'magnitude', consensus: true, normalize: true, rescale: 'none', densities: [0.2, 0.5, 0.8], weights: [1, 0.5, 0.8] }),
    gtaCheck({ label: 'dare_ties l1', models: 2, n: 1000, sparsify: 'random', consensus: true, normalize: false, rescale: 'l1', densities: [0.4, 0.6], weights: [1, 1] }),
    gtaCheck({ label: 'dare_linear 1/density', models: 2, n: 4099, sparsify: 'random', consensus: false, normalize: false, rescale: 'inverse_density', densities: [0.3, 0.9], weights: [0.5, 0.5] }),
    gtaCheck({ label: 'breadcrumbs', models: 2, n: 1000, sparsify: 'magnitude_outliers', consensus: false, normalize: false, rescale: 'none', densities: [0.5, 0.7], gammas: [0.05, 0.0005], weights: [1, 0.6] }),
    {
      op: 'merge gram (task vectors)',
      shape: `${shapeStr([4, 6 * 300])} rows of 300`,
      tolerance: TOL_REDUCTION,
      make: (rng) => [stack(rng, 4, 1800)],
      cpu: (s) => {
        const [base, ...ms] = rows(s);
        const taus = ms.map((m) => Float32Array.from(m, (x, i) => x - base[i]));
        const P = pairCount(3);
        const out = new Float32Array(6 * P);
        for (let seg = 0; seg < 6; seg++) {
          let p = 0;
          for (let a = 0; a < 3; a++) for (let b = a; b < 3; b++) {
            let acc = 0;
            for (let i = seg * 300; i < (seg + 1) * 300; i++) acc += taus[a][i] * taus[b][i];
            out[seg * P + p++] = acc;
          }
        }
        return { shape: [6, P], data: out };
      },
      gpu: (s) => gramGpu(s, { vectors: 3, segLen: 300, taskVectors: true }),
    },
    {
      op: 'merge axpby (slerp)',
      shape: shapeStr([2, 1000]),
      tolerance: TOL_ELEMENTWISE,
      make: (rng) => [stack(rng, 2, 1000, 1)],
      cpu: (s) => {
        const [a, b] = rows(s);
        return { shape: [1000], data: Float32Array.from(a, (x, i) => 0.6 * x + 0.45 * b[i]) };
      },
      gpu: (s) => axpbyGpu(s, 0.6, 0.45),
    },
    {
      op: 'merge model_stock combine',
      shape: `${shapeStr([3, 40 * 25])} rows of 25`,
      tolerance: TOL_ELEMENTWISE,
      make: (rng) => [stack(rng, 3, 1000), { shape: [40], data: Float32Array.from({ length: 40 }, () => rng.uniform()) }],
      cpu: (s, t) => {
        const [base, a, b] = rows(s);
        return { shape: [1000], data: Float32Array.from(base, (x, i) => t.data[Math.floor(i / 25)] * ((a[i] + b[i]) / 2) + (1 - t.data[Math.floor(i / 25)]) * x) };
      },
      gpu: (s, t) => modelStockCombineGpu(s, t, 25),
    },
  ];
  for (const [n, density] of [[1000, 0.5], [3001, 0.1]] as const) {
    const key = dareKey(5, 0, `check ${n}`);
    checks.push({
      op: 'merge dare mask',
      shape: `${shapeStr([n])} p=${density}`,
      tolerance: Number.MIN_VALUE, // bit-identical to the TypeScript stream
      make: (rng) => [{ shape: [1], data: Float32Array.of(rng.uniform()) }],
      cpu: () => ({ shape: [n], data: Float32Array.from(bernoulliMaskCpu(n, key, density)) }),
      gpu: (x) => bernoulliMaskGpu(x.ctx, n, key, density),
    });
  }
  return checks;
}
