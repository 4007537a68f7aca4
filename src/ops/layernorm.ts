// Cohere LayerNorm over the last axis (weight only, no bias). Kernel: shaders/layernorm.wgsl.
import { grid1d, type Tensor } from '../gpu/context.ts';
import type { HostTensor } from '../gpu/host.ts';
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

export function layerNormCpu(x: HostTensor, w: HostTensor, eps: number): HostTensor {
  const { rows, dim } = dims(x, w);
  const out = new Float32Array(x.data.length);
  for (let r = 0; r < rows; r++) {
    const o = r * dim;
    let mean = 0;
    for (let i = 0; i < dim; i++) mean += x.data[o + i];
    mean /= dim;
    let v = 0;
    for (let i = 0; i < dim; i++) v += (x.data[o + i] - mean) ** 2;
    const inv = 1 / Math.sqrt(v / dim + Math.fround(eps));
    for (let i = 0; i < dim; i++) out[o + i] = (x.data[o + i] - mean) * inv * w.data[i];
  }
  return { shape: [...x.shape], data: out };
}
