// Sum and max over the last axis: [..., dim] → [...]. Kernels: shaders/reduce.wgsl.
import { grid1d, type Tensor } from '../gpu/context.ts';
import type { HostTensor } from '../gpu/host.ts';
import { packUniforms } from './uniforms.ts';
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
  const out = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let acc = init;
    for (let i = 0; i < dim; i++) acc = f(acc, x.data[r * dim + i]);
    out[r] = acc;
  }
  return { shape: x.shape.length > 1 ? x.shape.slice(0, -1) : [1], data: out };
}

export const sumCpu = (x: HostTensor): HostTensor => reduceRowsCpu(x, 0, (a, v) => a + v);
export const maxCpu = (x: HostTensor): HostTensor => reduceRowsCpu(x, -Infinity, Math.max);
