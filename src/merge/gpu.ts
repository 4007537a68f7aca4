// Per-tensor merge kernels on the GPU (shaders/merge.wgsl), checked against methods.ts.
//
// Public API:
//   mergeTensorGpu(ctx, recipe, inputs, shape) → Promise<Float32Array>   one tensor, any method
//   uploadStack(ctx, arrays)                      the K input copies as one [K, n] tensor
//   gtaParams(recipe-like, inputs)                per-model kernel parameters (host thresholds)
//   gtaGpu(stack, params, opts), linearGpu(stack, weights, normalize), gramGpu(stack, opts),
//   axpbyGpu(stack, a, b), modelStockCombineGpu(stack, ratios, segLen), bernoulliMaskGpu(ctx, n, key, p)
//     — synchronous dispatchers on tensors (no readback), used by the op checks
//
// Where the work happens: masks, L1 rescale (a two-stage GPU reduction), sign election and the
// combinations on the GPU; TIES / breadcrumbs thresholds on the host (a typed-array sort of |τ|,
// which the host has: it streamed the tensor from disk); SLERP and Model Stock read back their
// dot products (a few floats) and compute the coefficients on the host in float64. A tensor whose K
// copies exceed one storage binding (maxStorageBufferBindingSize) is merged by the CPU reference.
import common from '../../shaders/common.wgsl?raw';
import mergeWgsl from '../../shaders/merge.wgsl?raw';
import { grid1d, type GpuContext, Tensor } from '../gpu/context.ts';
import { registerShader } from '../gpu/shaders.ts';
import { f32, packUniforms } from '../ops/uniforms.ts';
import type { RescaleRule, Sparsification, TensorRecipe } from './config.ts';
import { mergeTensorCpu, modelStockRowLength, outlierRange, rankKeys, slerpCoefficients, taskVector, topKRange } from './methods.ts';

const SHADER = 'merge';
registerShader(SHADER, () => `${common}\n${mergeWgsl}`);

/** Words per ModelParam struct in merge.wgsl. */
export const PARAM_WORDS = 12;
/** Chunks per segment in the reductions (at most; fewer for short segments). */
const MAX_CHUNKS = 64;
const UNIFORM_BINDING = 6;

const MODE_ALL = 0;
const MODE_BAND = 1;
const MODE_BERNOULLI = 2;
const MODE_NONE = 3;

interface UniformFields {
  n: number;
  models: number;
  chunks?: number;
  segLen?: number;
  flags?: number;
  divisor?: number;
  lambda?: number;
  a?: number;
  b?: number;
  segs?: number;
  pairs?: number;
}

function uniforms(u: UniformFields): Uint32Array {
  return packUniforms([
    u.n,
    u.models,
    u.chunks ?? 0,
    u.segLen ?? 0,
    u.flags ?? 0,
    f32(u.divisor ?? 1),
    f32(u.lambda ?? 1),
    f32(u.a ?? 0),
    f32(u.b ?? 0),
    u.segs ?? 0,
    u.pairs ?? 0,
    0,
  ]);
}

/** The K copies of one tensor as a [K, n] GPU tensor, written straight into one buffer. */
export function uploadStack(ctx: GpuContext, arrays: Float32Array[]): Tensor {
  const n = arrays[0].length;
  for (const a of arrays) if (a.length !== n) throw new Error(`uploadStack: inputs have ${a.length} and ${n} elements`);
  const t = ctx.empty([arrays.length, n], 'f32', 'merge.inputs');
  ctx.flush(); // writeBuffer runs before unsubmitted commands: submit them first (see ctx.upload)
  arrays.forEach((a, k) => ctx.device.queue.writeBuffer(t.buffer, k * n * 4, a.buffer, a.byteOffset, a.byteLength));
  return t;
}

const chunksFor = (len: number) => Math.max(1, Math.min(MAX_CHUNKS, Math.ceil(len / 1024)));

// ---- per-model parameters ------------------------------------------------------------------------

export interface GtaParamSpec {
  tensor: string;
  weights: number[];
  densities: number[];
  gammas: number[];
  dareKeys: number[];
  sparsify: Sparsification;
  rescale: RescaleRule;
}

/** Packs the ModelParam structs; for magnitude methods the keep band is found here from the host's
 *  own float32 τ (the kernel computes the same τ, so CPU and GPU masks are identical). */
export function gtaParams(spec: GtaParamSpec, inputs: Float32Array[]): Uint32Array {
  const N = inputs.length - 1;
  const n = inputs[0].length;
  const words = new Uint32Array(Math.max(1, N) * PARAM_WORDS);
  const floats = new Float32Array(words.buffer);
  for (let m = 0; m < N; m++) {
    const o = m * PARAM_WORDS;
    const density = spec.densities[m] ?? 1;
    floats[o] = spec.weights[m];
    floats[o + 1] = density;
    let mode = MODE_ALL;
    if (spec.sparsify && density < 1) {
      if (spec.sparsify === 'random') {
        mode = MODE_BERNOULLI;
        words[o + 6] = spec.dareKeys[m];
      } else {
        const range = spec.sparsify === 'magnitude' ? topKRange(n, density, spec.tensor) : outlierRange(n, density, spec.gammas[m] ?? 0);
        if (range === 'none') mode = MODE_NONE;
        else if (range !== 'all') {
          mode = MODE_BAND;
          const [lo, hi] = rankKeys(taskVector(inputs[m + 1], inputs[0]), range);
          floats[o + 2] = lo.value;
          words[o + 3] = lo.index;
          floats[o + 4] = hi.value;
          words[o + 5] = hi.index;
        }
      }
    }
    words[o + 7] = mode;
    // density ≥ 1 (mode 0) returns τ untouched in mergekit: no rescale either.
    const sparsified = mode !== MODE_ALL;
    floats[o + 8] = sparsified && spec.rescale === 'inverse_density' && density > 0 ? 1 / density : 1;
    words[o + 9] = sparsified && spec.rescale === 'l1' ? 1 : 0;
  }
  return words;
}

// ---- dispatchers (tensors in, tensors out, no readback) ------------------------------------------

export interface GtaKernelOptions {
  consensus: boolean;
  normalize: boolean;
  lambda: number;
  /** The contributing models' weights (also in params): the consensus-free divisor Σw (1 when
   *  |Σw| < 1e-8) is passed as a uniform. */
  weights: number[];
}

/** Generalized task arithmetic on a [N+1, n] stack (row 0 the base) with packed params [N·12]. */
export function gtaGpu(stack: Tensor, params: Tensor, opts: GtaKernelOptions): Tensor {
  const ctx = stack.ctx;
  const [K, n] = stack.shape;
  const N = K - 1;
  const out = ctx.empty([n], 'f32', 'merge.out');
  if (N === 0) {
    ctx.copy(stack, 0, out, 0, n);
    return out;
  }
  const deltas = ctx.empty([N, n], 'f32', 'merge.deltas');
  const chunks = chunksFor(n);
  const partials = ctx.empty([N * chunks * 2], 'f32', 'merge.partials');
  const scales = ctx.empty([N], 'f32', 'merge.scales');
  const base = { n, models: N, chunks };
  ctx.dispatch({ shader: SHADER, entry: 'gta_sparsify', bindings: [stack, params, deltas], uniforms: uniforms(base), uniformBinding: UNIFORM_BINDING, workgroups: grid1d(Math.ceil((N * n) / 256)) });
  ctx.dispatch({ shader: SHADER, entry: 'l1_partials', bindings: [stack, undefined, deltas, partials], uniforms: uniforms(base), uniformBinding: UNIFORM_BINDING, workgroups: grid1d(N * chunks) });
  ctx.dispatch({ shader: SHADER, entry: 'rescale_factors', bindings: [undefined, params, undefined, partials, scales], uniforms: uniforms(base), uniformBinding: UNIFORM_BINDING, workgroups: [Math.ceil(N / 64)] });
  ctx.dispatch({
    shader: SHADER,
    entry: 'gta_combine',
    bindings: [stack, params, deltas, undefined, scales, out],
    uniforms: uniforms({ ...base, flags: (opts.consensus ? 1 : 0) | (opts.normalize ? 2 : 0), divisor: plainDivisor(opts.weights), lambda: opts.lambda }),
    uniformBinding: UNIFORM_BINDING,
    workgroups: grid1d(Math.ceil(n / 256)),
  });
  deltas.release();
  partials.release();
  scales.release();
  return out;
}

function plainDivisor(weights: number[]): number {
  const d = weights.reduce((a, b) => a + b, 0);
  return Math.abs(d) < 1e-8 ? 1 : d;
}

/** Σ w_m θ_m (/ Σ w_m when normalizing) on a [K, n] stack. */
export function linearGpu(stack: Tensor, weights: number[], normalize: boolean): Tensor {
  const ctx = stack.ctx;
  const [K, n] = stack.shape;
  if (weights.length !== K) throw new Error(`linearGpu: ${weights.length} weights for ${K} models`);
  const words = new Uint32Array(K * PARAM_WORDS);
  const floats = new Float32Array(words.buffer);
  weights.forEach((w, m) => (floats[m * PARAM_WORDS] = w));
  const params = ctx.upload({ shape: [words.length], data: words }, 'merge.params');
  const out = ctx.empty([n], 'f32', 'merge.out');
  const divisor = normalize ? weights.reduce((a, b) => a + b, 0) : 1;
  ctx.dispatch({
    shader: SHADER,
    entry: 'linear_combine',
    bindings: [stack, params, undefined, undefined, undefined, out],
    uniforms: uniforms({ n, models: K, divisor }),
    uniformBinding: UNIFORM_BINDING,
    workgroups: grid1d(Math.ceil(n / 256)),
  });
  params.release();
  return out;
}

/** Number of pairs a ≤ b among k vectors (the Gram matrix's upper triangle, row by row). */
export const pairCount = (k: number) => (k * (k + 1)) / 2;

/** Index of pair (a, b), a ≤ b, in gram outputs. */
export function pairIndex(a: number, b: number, k: number): number {
  if (a > b) [a, b] = [b, a];
  return a * k - (a * (a - 1)) / 2 + (b - a);
}

/** Gram matrices of K vectors per segment: [segments, pairs]. With `taskVectors`, the vectors are
 *  rows 1..K of a [K+1, n] stack minus row 0; otherwise rows 0..K−1. */
export function gramGpu(stack: Tensor, opts: { vectors: number; segLen?: number; taskVectors: boolean }): Tensor {
  const ctx = stack.ctx;
  const n = stack.shape[1];
  const segLen = opts.segLen ?? n;
  if (n % segLen !== 0) throw new Error(`gramGpu: segment length ${segLen} does not divide ${n}`);
  const segs = n / segLen;
  const chunks = chunksFor(segLen);
  const pairs = pairCount(opts.vectors);
  const partials = ctx.empty([segs * chunks * pairs], 'f32', 'merge.partials');
  const out = ctx.empty([segs, pairs], 'f32', 'merge.gram');
  const u = uniforms({ n, models: opts.vectors, chunks, segLen, segs, pairs, flags: opts.taskVectors ? 4 : 0 });
  ctx.dispatch({ shader: SHADER, entry: 'gram_partials', bindings: [stack, undefined, undefined, partials], uniforms: u, uniformBinding: UNIFORM_BINDING, workgroups: grid1d(segs * chunks) });
  ctx.dispatch({ shader: SHADER, entry: 'gram_reduce', bindings: [undefined, undefined, undefined, partials, undefined, out], uniforms: u, uniformBinding: UNIFORM_BINDING, workgroups: grid1d(Math.ceil((segs * pairs) / 256)) });
  partials.release();
  return out;
}

/** a·row0 + b·row1 of a [2, n] stack. */
export function axpbyGpu(stack: Tensor, a: number, b: number): Tensor {
  const n = stack.shape[1];
  const out = stack.ctx.empty([n], 'f32', 'merge.out');
  stack.ctx.dispatch({ shader: SHADER, entry: 'axpby', bindings: [stack, undefined, undefined, undefined, undefined, out], uniforms: uniforms({ n, models: 2, a, b }), uniformBinding: UNIFORM_BINDING, workgroups: grid1d(Math.ceil(n / 256)) });
  return out;
}

/** t·mean(rows 1..N) + (1 − t)·row 0 with t = ratios[i / segLen]. */
export function modelStockCombineGpu(stack: Tensor, ratios: Tensor, segLen: number): Tensor {
  const [K, n] = stack.shape;
  const out = stack.ctx.empty([n], 'f32', 'merge.out');
  stack.ctx.dispatch({
    shader: SHADER,
    entry: 'model_stock_combine',
    bindings: [stack, undefined, undefined, undefined, undefined, out, undefined, ratios],
    uniforms: uniforms({ n, models: K - 1, segLen }),
    uniformBinding: UNIFORM_BINDING,
    workgroups: grid1d(Math.ceil(n / 256)),
  });
  return out;
}

/** The DARE keep mask (1/0) of one stream, as the GTA kernels draw it. */
export function bernoulliMaskGpu(ctx: GpuContext, n: number, key: number, density: number): Tensor {
  const words = new Uint32Array(PARAM_WORDS);
  const floats = new Float32Array(words.buffer);
  floats[1] = density;
  words[6] = key;
  const params = ctx.upload({ shape: [PARAM_WORDS], data: words }, 'merge.params');
  const out = ctx.empty([n], 'f32', 'merge.mask');
  ctx.dispatch({ shader: SHADER, entry: 'bernoulli_mask', bindings: [undefined, params, undefined, undefined, undefined, out], uniforms: uniforms({ n, models: 1 }), uniformBinding: UNIFORM_BINDING, workgroups: grid1d(Math.ceil(n / 256)) });
  params.release();
  return out;
}

// ---- one tensor, any method ----------------------------------------------------------------------

/** Merges one tensor on the GPU; `inputs` follow recipe.inputs (base first when the method has one). */
export async function mergeTensorGpu(ctx: GpuContext, recipe: TensorRecipe, inputs: Float32Array[], shape: readonly number[]): Promise<Float32Array> {
  const n = inputs[0].length;
  // The kernels bind all K copies as one buffer; a tensor too big for one binding (an 8B model's
  // embeddings on a small GPU) is merged by the CPU reference instead of failing validation.
  if (inputs.length * n * 4 > ctx.device.limits.maxStorageBufferBindingSize) return mergeTensorCpu(recipe, inputs, shape);
  const stack = uploadStack(ctx, inputs);
  let out: Tensor | null = null;
  try {
    switch (recipe.method) {
      case 'linear':
        out = linearGpu(stack, recipe.weights, recipe.normalize);
        break;
      case 'slerp': {
        const gram = gramGpu(stack, { vectors: 2, taskVectors: false });
        const g = (await gram.read()).data;
        gram.release();
        const { s0, s1 } = slerpCoefficients(recipe.t, g[pairIndex(0, 1, 2)], g[pairIndex(0, 0, 2)], g[pairIndex(1, 1, 2)]);
        out = axpbyGpu(stack, s0, s1);
        break;
      }
      case 'model_stock': {
        const N = inputs.length - 1;
        const segLen = modelStockRowLength(shape, recipe.filterWise);
        const gram = gramGpu(stack, { vectors: N, segLen, taskVectors: true });
        const g = (await gram.read()).data;
        gram.release();
        const ratios = modelStockRatiosFromGram(g, N, n / segLen);
        const ratioTensor = ctx.upload({ shape: [ratios.length], data: ratios }, 'merge.ratios');
        out = modelStockCombineGpu(stack, ratioTensor, segLen);
        ratioTensor.release();
        break;
      }
      default: {
        const words = gtaParams(recipe, inputs);
        const params = ctx.upload({ shape: [words.length], data: words }, 'merge.params');
        out = gtaGpu(stack, params, { consensus: recipe.consensus === 'sum', normalize: recipe.normalize, lambda: recipe.lambda, weights: recipe.weights });
        params.release();
      }
    }
    return (await out.read()).data as Float32Array;
  } finally {
    out?.release();
    stack.release();
  }
}

/** Model Stock's t per segment from the task vectors' Gram matrices (same clamps as model_stock.py). */
export function modelStockRatiosFromGram(gram: ArrayLike<number>, N: number, segs: number): Float32Array {
  const P = pairCount(N);
  const ratios = new Float32Array(segs);
  for (let s = 0; s < segs; s++) {
    let cosSum = 0;
    let pairs = 0;
    for (let a = 0; a < N; a++) {
      for (let b = a + 1; b < N; b++) {
        const g = (x: number, y: number) => gram[s * P + pairIndex(x, y, N)];
        const norms = Math.sqrt(Math.max(0, g(a, a))) * Math.sqrt(Math.max(0, g(b, b)));
        cosSum += Math.min(1, Math.max(-1, g(a, b) / Math.max(norms, 1e-6)));
        pairs++;
      }
    }
    const cos = cosSum / pairs;
    ratios[s] = (N * cos) / (1 + (N - 1) * cos);
  }
  return ratios;
}
