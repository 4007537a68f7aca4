// The merge methods' CPU references, per tensor, written for clarity and to follow mergekit line by
// line (merge_methods/*.py, sparsify.py; see ../shared/background/merging.md). Task vectors are
// computed in float32 (mergekit works in the tensor's dtype, and the GPU path must see the very same
// |τ| to pick the same top-k elements); sums and products are float64.
//
// Public API:
//   mergeTensorCpu(recipe, inputs)                 one tensor, any method (recipe from planTensor)
//   linearCpu(tensors, weights, normalize)
//   slerpCpu(t, v0, v1), slerpCoefficients(t, dot, n0², n1²)
//   generalizedTaskArithmeticCpu(base, models, opts)   task_arithmetic / ties / dare_* / breadcrumbs*
//   modelStockCpu(base, models, rowLen)
//   magnitudeMaskCpu, magnitudeOutliersMaskCpu, bernoulliMaskCpu, rescaleFactorCpu  (sparsification)
//   topKBand, outlierBand, keepRankRange, dareUniform, keptBy  (host helpers shared with the GPU path)
//   taskVector(model, base)
import type { RescaleRule, Sparsification, TensorRecipe } from './config.ts';
import { pcgHash } from '../util/rng.ts';

/** mergekit's SLERP threshold: |cos| above it counts as colinear and falls back to lerp. */
export const SLERP_DOT_THRESHOLD = 0.9995;
/** mergekit normalises a SLERP endpoint only when its norm exceeds this. */
export const SLERP_EPS = 1e-8;
/** rescaled_masked_tensor leaves the masked tensor unscaled when either L1 norm is below this. */
export const RESCALE_EPS = 1e-7;

/** θ − θ_base in float32. */
export function taskVector(model: Float32Array, base: Float32Array): Float32Array {
  const out = new Float32Array(model.length);
  for (let i = 0; i < out.length; i++) out[i] = model[i] - base[i];
  return out;
}

// ---- linear --------------------------------------------------------------------------------------

/** Σ w_i θ_i, divided by Σ w_i when `normalize` (linear.py). */
export function linearCpu(tensors: Float32Array[], weights: number[], normalize: boolean): Float32Array {
  const n = tensors[0].length;
  const out = new Float32Array(n);
  const divisor = normalize ? weights.reduce((a, b) => a + b, 0) : 1;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let m = 0; m < tensors.length; m++) s += weights[m] * tensors[m][i];
    out[i] = s / divisor;
  }
  return out;
}

// ---- SLERP ---------------------------------------------------------------------------------------

export interface SlerpCoefficients {
  s0: number;
  s1: number;
  /** cos of the angle between the (normalised) endpoints. */
  dot: number;
  /** The angle θ₀ (radians); 0 when colinear. */
  theta: number;
  /** |dot| > 0.9995: mergekit interpolates linearly instead. */
  colinear: boolean;
}

/** slerp.py from the three reductions Σv0·v1, Σv0², Σv1² (shared by the CPU and GPU paths). */
export function slerpCoefficients(t: number, dot01: number, norm0sq: number, norm1sq: number): SlerpCoefficients {
  const n0 = Math.sqrt(norm0sq);
  const n1 = Math.sqrt(norm1sq);
  // normalize(v, eps) divides only when the norm exceeds eps.
  const dot = dot01 / (n0 > SLERP_EPS ? n0 : 1) / (n1 > SLERP_EPS ? n1 : 1);
  if (Math.abs(dot) > SLERP_DOT_THRESHOLD) return { s0: 1 - t, s1: t, dot, theta: 0, colinear: true };
  const theta = Math.acos(dot);
  const sinTheta = Math.sin(theta);
  return { s0: Math.sin(theta - theta * t) / sinTheta, s1: Math.sin(theta * t) / sinTheta, dot, theta, colinear: false };
}

/** Spherical interpolation of the flattened tensors, coefficients applied to the raw tensors. */
export function slerpCpu(t: number, v0: Float32Array, v1: Float32Array): Float32Array {
  let d = 0;
  let a = 0;
  let b = 0;
  for (let i = 0; i < v0.length; i++) {
    d += v0[i] * v1[i];
    a += v0[i] * v0[i];
    b += v1[i] * v1[i];
  }
  const { s0, s1 } = slerpCoefficients(t, d, a, b);
  const out = new Float32Array(v0.length);
  for (let i = 0; i < out.length; i++) out[i] = s0 * v0[i] + s1 * v1[i];
  return out;
}

// ---- sparsification ------------------------------------------------------------------------------
//
// Masks follow a total order on elements: by |τ| ascending, ties broken by index ascending (torch's
// argsort leaves ties unspecified; we fix one order so CPU and GPU agree bit for bit). Magnitude
// (TIES) keeps the k largest; magnitude_outliers (breadcrumbs) keeps ranks [n_bot, N − n_top).

/** Ranks kept by TIES's magnitude trim: the top ⌊density·n⌋. mergekit asserts k > 0; so do we. */
export function topKRange(n: number, density: number, where = 'tensor'): [number, number] | 'all' {
  if (density >= 1) return 'all';
  const k = Math.floor(density * n);
  if (k <= 0) {
    throw new Error(`${where}: density ${density} keeps ⌊${density}·${n}⌋ = 0 elements (mergekit refuses to zero a whole tensor); raise the density`);
  }
  return [n - k, n - 1];
}

/** Ranks kept by breadcrumbs (sparsify.magnitude_outliers), with the n_top = 0 guard: Python's
 *  `idx[n_bot:-0]` is empty and would zero the whole delta; we keep idx[n_bot:]. */
export function outlierRange(n: number, density: number, gamma: number): [number, number] | 'all' | 'none' {
  if (density >= 1) return 'all';
  const targetN = Math.floor(density * n);
  let nTop = Math.floor(gamma * n);
  let nBot = n - targetN - nTop;
  if (nBot < 0) {
    nTop += nBot;
    nBot = 0;
  }
  const last = n - nTop - 1;
  return last < nBot ? 'none' : [nBot, last];
}

/** The keep mask of the ranks [lo, hi] by the (|τ|, index) order — computed independently of the
 *  GPU path's thresholds by sorting indices. */
export function keepRankRange(tau: Float32Array, range: [number, number] | 'all' | 'none'): Uint8Array {
  const n = tau.length;
  const mask = new Uint8Array(n);
  if (range === 'all') return mask.fill(1);
  if (range === 'none') return mask;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => Math.abs(tau[a]) - Math.abs(tau[b]) || a - b);
  for (let r = range[0]; r <= range[1]; r++) mask[order[r]] = 1;
  return mask;
}

export function magnitudeMaskCpu(tau: Float32Array, density: number, where?: string): Uint8Array {
  return keepRankRange(tau, topKRange(tau.length, density, where));
}

export function magnitudeOutliersMaskCpu(tau: Float32Array, density: number, gamma: number): Uint8Array {
  return keepRankRange(tau, outlierRange(tau.length, density, gamma));
}

/** Element i's uniform draw in [0, 1) from a DARE stream (pcg_hash in shaders/merge.wgsl). */
export function dareUniform(key: number, i: number): number {
  return (pcgHash((key + pcgHash(i)) >>> 0) >>> 8) / 16777216;
}

/** DARE's Bernoulli(density) keep mask (sparsify.bernoulli); the comparison is in float32 like the shader's. */
export function bernoulliMaskCpu(n: number, key: number, density: number): Uint8Array {
  const mask = new Uint8Array(n);
  if (density >= 1) return mask.fill(1);
  const p = Math.fround(density);
  for (let i = 0; i < n; i++) mask[i] = dareUniform(key, i) < p ? 1 : 0;
  return mask;
}

/** The factor rescaled_masked_tensor applies after masking: mergekit's L1-norm matching
 *  (‖τ‖₁ / ‖τ ⊙ m‖₁, 1 when either is below 1e-7), or the DARE paper's 1/density. */
export function rescaleFactorCpu(tau: Float32Array, mask: Uint8Array, rule: RescaleRule, density: number): number {
  if (rule === 'none') return 1;
  if (rule === 'inverse_density') return density > 0 ? 1 / density : 1;
  let before = 0;
  let after = 0;
  for (let i = 0; i < tau.length; i++) {
    const a = Math.abs(tau[i]);
    before += a;
    if (mask[i]) after += a;
  }
  return before < RESCALE_EPS || after < RESCALE_EPS ? 1 : before / after;
}

export interface SparsifySpec {
  method: Sparsification;
  density: number;
  gamma: number;
  dareKey: number;
  rescale: RescaleRule;
}

/** sparsify(): the masked (and rescaled) task vector, with the mask and factor for inspection.
 *  density ≥ 1 returns τ unchanged, without rescaling, as mergekit does. */
export function sparsifyCpu(tau: Float32Array, spec: SparsifySpec, where = 'tensor'): { delta: Float64Array; mask: Uint8Array; scale: number } {
  const n = tau.length;
  if (!spec.method || spec.density >= 1) return { delta: Float64Array.from(tau), mask: new Uint8Array(n).fill(1), scale: 1 };
  let mask: Uint8Array;
  if (spec.method === 'magnitude') mask = magnitudeMaskCpu(tau, spec.density, where);
  else if (spec.method === 'magnitude_outliers') mask = magnitudeOutliersMaskCpu(tau, spec.density, spec.gamma);
  else mask = bernoulliMaskCpu(n, spec.dareKey, spec.density);
  const scale = rescaleFactorCpu(tau, mask, spec.rescale, spec.density);
  const delta = new Float64Array(n);
  for (let i = 0; i < n; i++) delta[i] = mask[i] ? tau[i] * scale : 0;
  return { delta, mask, scale };
}

// ---- generalized task arithmetic -----------------------------------------------------------------

export interface GtaOptions {
  weights: number[];
  sparsify: Omit<SparsifySpec, 'dareKey' | 'density' | 'gamma'> & { densities: number[]; gammas: number[]; dareKeys: number[] };
  consensus: 'sum' | null;
  normalize: boolean;
  lambda: number;
}

/** GTATask.execute: sparsify each τ_i, weight it, elect signs (mass vote, ≥ 0 → +) and keep the
 *  agreeing entries, divide by the (agreeing) weights when normalising, scale by λ, add the base. */
export function generalizedTaskArithmeticCpu(base: Float32Array, models: Float32Array[], opts: GtaOptions, where = 'tensor'): Float32Array {
  const n = base.length;
  if (models.length === 0) return Float32Array.from(base);
  const weighted = models.map((m, i) => {
    const tau = taskVector(m, base);
    const { delta } = sparsifyCpu(
      tau,
      { method: opts.sparsify.method, rescale: opts.sparsify.rescale, density: opts.sparsify.densities[i], gamma: opts.sparsify.gammas[i], dareKey: opts.sparsify.dareKeys[i] ?? 0 },
      where,
    );
    for (let j = 0; j < n; j++) delta[j] *= opts.weights[i];
    return delta;
  });
  let plainDivisor = opts.weights.reduce((a, b) => a + b, 0);
  if (Math.abs(plainDivisor) < 1e-8) plainDivisor = 1;
  const out = new Float32Array(n);
  for (let j = 0; j < n; j++) {
    let mixed = 0;
    let divisor = plainDivisor;
    if (opts.consensus === 'sum') {
      let vote = 0;
      for (const d of weighted) vote += d[j];
      const majority = vote >= 0 ? 1 : -1;
      divisor = 0;
      weighted.forEach((d, i) => {
        if (Math.sign(d[j]) === majority) {
          mixed += d[j];
          divisor += opts.weights[i];
        }
      });
      if (divisor === 0) divisor = 1;
    } else {
      for (const d of weighted) mixed += d[j];
    }
    if (opts.normalize) mixed /= divisor;
    out[j] = base[j] + mixed * opts.lambda;
  }
  return out;
}

// ---- Model Stock ---------------------------------------------------------------------------------

/** The interpolation ratio per row (rowLen = n: one for the whole tensor): t = N·cosθ / (1 + (N−1)·cosθ)
 *  from the mean pairwise cosine of the task vectors, each clamped to [−1, 1], norms clamped ≥ 1e-6. */
export function modelStockRatiosCpu(base: Float32Array, models: Float32Array[], rowLen: number): Float64Array {
  const rows = base.length / rowLen;
  const taus = models.map((m) => taskVector(m, base));
  const N = models.length;
  const ratios = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let cosSum = 0;
    let pairs = 0;
    for (let a = 0; a < N; a++) {
      for (let b = a + 1; b < N; b++) {
        let dot = 0;
        let na = 0;
        let nb = 0;
        for (let i = r * rowLen; i < (r + 1) * rowLen; i++) {
          dot += taus[a][i] * taus[b][i];
          na += taus[a][i] * taus[a][i];
          nb += taus[b][i] * taus[b][i];
        }
        cosSum += Math.min(1, Math.max(-1, dot / Math.max(Math.sqrt(na) * Math.sqrt(nb), 1e-6)));
        pairs++;
      }
    }
    const cos = cosSum / pairs;
    ratios[r] = (N * cos) / (1 + (N - 1) * cos);
  }
  return ratios;
}

/** model_stock.py: θ = t·mean(θ_i) + (1 − t)·θ_base. */
export function modelStockCpu(base: Float32Array, models: Float32Array[], rowLen: number): Float32Array {
  const ratios = modelStockRatiosCpu(base, models, rowLen);
  const out = new Float32Array(base.length);
  for (let i = 0; i < out.length; i++) {
    let sum = 0;
    for (const m of models) sum += m[i];
    const t = ratios[Math.floor(i / rowLen)];
    out[i] = t * (sum / models.length) + (1 - t) * base[i];
  }
  return out;
}

/** Row length for Model Stock: rows of the last axis with filter_wise (a 1-D tensor is one row). */
export function modelStockRowLength(shape: readonly number[], filterWise: boolean): number {
  const n = shape.reduce((a, b) => a * b, 1);
  return filterWise && shape.length > 0 ? shape[shape.length - 1] : n;
}

// ---- one tensor, any method ----------------------------------------------------------------------

/** The reference for one tensor: `inputs` follow recipe.inputs (base first when the method has one). */
export function mergeTensorCpu(recipe: TensorRecipe, inputs: Float32Array[], shape: readonly number[]): Float32Array {
  const where = recipe.tensor;
  switch (recipe.method) {
    case 'linear':
      return linearCpu(inputs, recipe.weights, recipe.normalize);
    case 'slerp':
      return slerpCpu(recipe.t, inputs[0], inputs[1]);
    case 'model_stock':
      return modelStockCpu(inputs[0], inputs.slice(1), modelStockRowLength(shape, recipe.filterWise));
    default:
      return generalizedTaskArithmeticCpu(
        inputs[0],
        inputs.slice(1),
        {
          weights: recipe.weights,
          sparsify: { method: recipe.sparsify, rescale: recipe.rescale, densities: recipe.densities, gammas: recipe.gammas, dareKeys: recipe.dareKeys },
          consensus: recipe.consensus,
          normalize: recipe.normalize,
          lambda: recipe.lambda,
        },
        where,
      );
  }
}

// ---- host helpers for the GPU path ---------------------------------------------------------------

/** A position in the (|τ|, index) order: the kernel keeps i when lo ≤ (|τ_i|, i) ≤ hi. */
export interface RankKey {
  value: number;
  index: number;
}

/** The (|τ|, index) keys at ranks lo and hi, found without sorting indices: sort the magnitudes (a
 *  native typed-array sort), then walk the ties at each threshold in index order. */
export function rankKeys(tau: Float32Array, ranks: [number, number]): [RankKey, RankKey] {
  const abs = new Float32Array(tau.length);
  for (let i = 0; i < abs.length; i++) abs[i] = Math.abs(tau[i]);
  const sorted = Float32Array.from(abs).sort();
  const keyAt = (r: number): RankKey => {
    const value = sorted[r];
    let first = r;
    while (first > 0 && sorted[first - 1] === value) first--;
    let want = r - first; // this many equal magnitudes come before it (they have smaller indices)
    for (let i = 0; i < abs.length; i++) {
      if (abs[i] === value) {
        if (want === 0) return { value, index: i };
        want--;
      }
    }
    throw new Error('rankKeys: inconsistent ranks'); // unreachable unless tau holds NaN
  };
  return [keyAt(ranks[0]), keyAt(ranks[1])];
}

/** Whether the (|τ_i|, i) key lies in [lo, hi] — the rule the shader applies. */
export function keptBy(absValue: number, index: number, lo: RankKey, hi: RankKey): boolean {
  const aboveLo = absValue > lo.value || (absValue === lo.value && index >= lo.index);
  const belowHi = absValue < hi.value || (absValue === hi.value && index <= hi.index);
  return aboveLo && belowHi;
}
