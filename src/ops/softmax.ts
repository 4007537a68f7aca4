// Row softmax over the last axis. Kernel: shaders/softmax.wgsl.
import { grid1d, type Tensor } from '../gpu/context.ts';
import { type HostTensor, like } from '../gpu/host.ts';
import { packUniforms } from './uniforms.ts';

function rowsDim(shape: readonly number[]): { rows: number; dim: number } {
  return { rows: shape.slice(0, -1).reduce((a, b) => a * b, 1), dim: shape[shape.length - 1] };
}

export function softmax(x: Tensor): Tensor {
  const { rows, dim } = rowsDim(x.shape);
  const out = x.ctx.empty(x.shape);
  x.ctx.dispatch({ shader: 'softmax', entry: 'main', bindings: [x, out], uniforms: packUniforms([rows, dim]), workgroups: grid1d(rows) });
  return out;
}

export function softmaxCpu(x: HostTensor): HostTensor {
  const { rows, dim } = rowsDim(x.shape);
  const out = like(x.data, x.data.length);
  for (let r = 0; r < rows; r++) {
    const o = r * dim;
    let max = -Infinity;
    for (let i = 0; i < dim; i++) max = Math.max(max, x.data[o + i]);
    let sum = 0;
    for (let i = 0; i < dim; i++) sum += Math.exp(x.data[o + i] - max);
    for (let i = 0; i < dim; i++) out[o + i] = Math.exp(x.data[o + i] - max) / sum;
  }
  return { shape: [...x.shape], data: out };
}

export { rowsDim };
