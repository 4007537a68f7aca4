// Sum and max over the last axis: [..., dim] → [...]. Kernels: shaders/reduce.wgsl.
import { grid1d, type Tensor } from '../gpu/context.ts';
import { type HostTensor, like } from '../gpu/host.ts';
import { f32, packUniforms } from './uniforms.ts';
import { rowsDim } from './softmax.ts';

function reduceRows(entry: 'sum_rows' | 'max_rows', x: Tensor): Tensor {
  const { rows, dim } = rowsDim(x.shape);
  const out = x.ctx.empty(x.shape.length > 1 ? x.shape.slice(0, -1) : [1]);
  x.ctx.dispatch({ shader: 'reduce', entry, bindings: [x, out], uniforms: packUniforms([rows, dim]), workgroups: grid1d(rows) });
  return out;
}

export const sum = (x: Tensor): Tensor => reduceRows('sum_rows', x);
export const max = (x: Tensor): Tensor => reduceRows('max_rows', x);

function reduceRowsCpu(x: HostTensor, init: number, f: (acc: number, v: number) => number): HostTensor {
  const { rows, dim } = rowsDim(x.shape);
  const out = like(x.data, rows);
  for (let r = 0; r < rows; r++) {
    let acc = init;
    for (let i = 0; i < dim; i++) acc = f(acc, x.data[r * dim + i]);
    out[r] = acc;
  }
  return { shape: x.shape.length > 1 ? x.shape.slice(0, -1) : [1], data: out };
}

export const sumCpu = (x: HostTensor): HostTensor => reduceRowsCpu(x, 0, (a, v) => a + v);
export const maxCpu = (x: HostTensor): HostTensor => reduceRowsCpu(x, -Infinity, Math.max);

// ---- sum of squares and gradient clipping -------------------------------------------------------

/** Workgroups per tensor in the first stage of sumOfSquares. */
const SUMSQ_GROUPS = 256;

/** Σ x² over every element of every tensor → [1] (the squared global gradient norm). Two stages:
 *  up to 256 workgroup partials per tensor, then one workgroup sums them; deterministic. */
export function sumOfSquares(...tensors: Tensor[]): Tensor {
  if (tensors.length === 0) throw new Error('sumOfSquares: no tensors');
  const ctx = tensors[0].ctx;
  const groups = tensors.map((t) => Math.max(1, Math.min(SUMSQ_GROUPS, Math.ceil(t.size / 256))));
  const total = groups.reduce((a, b) => a + b, 0);
  const partials = ctx.empty([1, total], 'f32', 'sumsq.partials');
  let offset = 0;
  tensors.forEach((t, i) => {
    ctx.dispatch({
      shader: 'reduce',
      entry: 'sumsq_partial',
      bindings: [t, partials],
      uniforms: packUniforms([t.size, offset, groups[i], f32(0)]),
      uniformBinding: 3,
      workgroups: [groups[i]],
    });
    offset += groups[i];
  });
  const out = sum(partials);
  partials.release();
  return out;
}

/** The clipping factor min(1, maxNorm / (‖g‖ + 1e-6)) → [1], from sumOfSquares' result, on the GPU
 *  (no readback): pass it to adamw as `gscale`. */
export function clipFactor(sumsq: Tensor, maxNorm: number): Tensor {
  const out = sumsq.ctx.empty([1]);
  sumsq.ctx.dispatch({
    shader: 'reduce',
    entry: 'clip_factor',
    bindings: [sumsq, out],
    uniforms: packUniforms([0, 0, 0, f32(maxNorm)]),
    uniformBinding: 3,
    workgroups: [1],
  });
  return out;
}

export function sumOfSquaresCpu(...tensors: HostTensor[]): HostTensor {
  let s = 0;
  for (const t of tensors) for (let i = 0; i < t.data.length; i++) s += t.data[i] * t.data[i];
  const out = like(tensors[0]?.data ?? [], 1);
  out[0] = s;
  return { shape: [1], data: out };
}

export function clipFactorCpu(sumsq: HostTensor, maxNorm: number): HostTensor {
  const out = like(sumsq.data, 1);
  out[0] = Math.min(1, Math.fround(maxNorm) / (Math.sqrt(sumsq.data[0]) + 1e-6));
  return { shape: [1], data: out };
}
