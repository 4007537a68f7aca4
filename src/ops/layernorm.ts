// Cohere LayerNorm over the last axis (weight only, no bias). Kernel: shaders/layernorm.wgsl.
import { grid1d, type Tensor } from '../gpu/context.ts';
import { type HostTensor, like } from '../gpu/host.ts';
import { add3Cpu } from './elementwise.ts';
import { f32, packUniforms } from './uniforms.ts';

function dims(x: { shape: readonly number[] }, w: { shape: readonly number[] }): { rows: number; dim: number } {
  const dim = x.shape[x.shape.length - 1];
  if (w.shape.length !== 1 || w.shape[0] !== dim) throw new Error(`layerNorm: weight [${w.shape}] does not match x [${x.shape}]`);
  return { rows: x.shape.slice(0, -1).reduce((a, b) => a * b, 1), dim };
}

export function layerNorm(x: Tensor, w: Tensor, eps: number): Tensor {
  const { rows, dim } = dims(x, w);
  const out = x.ctx.empty(x.shape);
  x.ctx.dispatch({
    shader: 'layernorm',
    entry: 'main',
    bindings: [x, w, out],
    uniforms: packUniforms([rows, dim, f32(eps)]),
    workgroups: grid1d(rows),
  });
  return out;
}

/** The residual stream's step and the next LayerNorm in one pass: sum = (x + a) + b (rounded as two
 *  adds) and normed = layerNorm(sum, w, eps), bit for bit as add3 then layerNorm. */
export function addLayerNorm(x: Tensor, a: Tensor, b: Tensor, w: Tensor, eps: number): { sum: Tensor; normed: Tensor } {
  const { rows, dim } = dims(x, w);
  for (const t of [a, b]) if (t.size !== x.size) throw new Error(`addLayerNorm: [${t.shape}] does not match x [${x.shape}]`);
  const sum = x.ctx.empty(x.shape);
  const normed = x.ctx.empty(x.shape);
  x.ctx.dispatch({
    shader: 'layernorm',
    entry: 'add3_main',
    bindings: [x, w, normed, undefined, undefined, undefined, a, b, sum],
    uniforms: packUniforms([rows, dim, f32(eps)]),
    uniformBinding: 3,
    workgroups: grid1d(rows),
  });
  return { sum, normed };
}

export function addLayerNormCpu(x: HostTensor, a: HostTensor, b: HostTensor, w: HostTensor, eps: number): { sum: HostTensor; normed: HostTensor } {
  const sum = add3Cpu(x, a, b);
  return { sum, normed: layerNormCpu(sum, w, eps) };
}

/** Mean and 1/sqrt(var + eps) of x[o .. o + dim) (centred two-pass variance, as the kernel). */
function rowStats(x: ArrayLike<number>, o: number, dim: number, eps: number): { mean: number; rstd: number } {
  let mean = 0;
  for (let i = 0; i < dim; i++) mean += x[o + i];
  mean /= dim;
  let v = 0;
  for (let i = 0; i < dim; i++) v += (x[o + i] - mean) ** 2;
  return { mean, rstd: 1 / Math.sqrt(v / dim + Math.fround(eps)) };
}

export function layerNormCpu(x: HostTensor, w: HostTensor, eps: number): HostTensor {
  const { rows, dim } = dims(x, w);
  const out = like(x.data, x.data.length);
  for (let r = 0; r < rows; r++) {
    const o = r * dim;
    const { mean, rstd: inv } = rowStats(x.data, o, dim, eps);
    for (let i = 0; i < dim; i++) out[o + i] = (x.data[o + i] - mean) * inv * w.data[i];
  }
  return { shape: [...x.shape], data: out };
}

// ---- backward ------------------------------------------------------------------------------------

/** Gradients of y = layerNorm(x, w, eps) given dy: dx [x's shape] and dw [dim] (summed over rows). */
export function layerNormBackward(dy: Tensor, x: Tensor, w: Tensor, eps: number): { dx: Tensor; dw: Tensor } {
  const { rows, dim } = dims(x, w);
  if (dy.size !== x.size) throw new Error(`layerNormBackward: dy [${dy.shape}] does not match x [${x.shape}]`);
  const ctx = x.ctx;
  const dx = ctx.empty(x.shape);
  const dw = ctx.empty([dim]);
  const stats = ctx.empty([rows, 2], 'f32', 'layernorm.stats');
  const uniforms = packUniforms([rows, dim, f32(eps)]);
  ctx.dispatch({ shader: 'layernorm', entry: 'backward_dx', bindings: [x, w, dx, undefined, dy, stats], uniforms, uniformBinding: 3, workgroups: grid1d(rows) });
  ctx.dispatch({
    shader: 'layernorm',
    entry: 'backward_dw',
    bindings: [x, undefined, dw, undefined, dy, stats],
    uniforms,
    uniformBinding: 3,
    workgroups: grid1d(Math.ceil(dim / 64)),
  });
  stats.release();
  return { dx, dw };
}

export function layerNormBackwardCpu(dy: HostTensor, x: HostTensor, w: HostTensor, eps: number): { dx: HostTensor; dw: HostTensor } {
  const { rows, dim } = dims(x, w);
  if (dy.data.length !== x.data.length) throw new Error(`layerNormBackward: dy [${dy.shape}] does not match x [${x.shape}]`);
  const dx = like(x.data, x.data.length);
  const dwAcc = new Float64Array(dim);
  const xh = new Float64Array(dim);
  for (let r = 0; r < rows; r++) {
    const o = r * dim;
    const { mean, rstd } = rowStats(x.data, o, dim, eps);
    let mg = 0;
    let mgx = 0;
    for (let i = 0; i < dim; i++) {
      xh[i] = (x.data[o + i] - mean) * rstd;
      const g = dy.data[o + i] * w.data[i];
      mg += g;
      mgx += g * xh[i];
      dwAcc[i] += dy.data[o + i] * xh[i];
    }
    mg /= dim;
    mgx /= dim;
    for (let i = 0; i < dim; i++) dx[o + i] = rstd * (dy.data[o + i] * w.data[i] - mg - xh[i] * mgx);
  }
  const dw = like(x.data, dim);
  dw.set(dwAcc);
  return { dx: { shape: [...x.shape], data: dx }, dw: { shape: [dim], data: dw } };
}
