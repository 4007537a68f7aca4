// Embedding gather: ids [...] (u32) and table [vocab, dim] → [..., dim]. Kernel: shaders/embedding.wgsl.
import { grid1d, type Tensor } from '../gpu/context.ts';
import type { HostTensor } from '../gpu/host.ts';
import { packUniforms } from './uniforms.ts';

function dims(ids: { shape: readonly number[] }, table: { shape: readonly number[] }) {
  if (table.shape.length !== 2) throw new Error(`embedding: table must be [vocab, dim], got [${table.shape}]`);
  const n = ids.shape.reduce((a, b) => a * b, 1);
  const [vocab, dim] = table.shape;
  return { n, vocab, dim, outShape: [...ids.shape, dim] };
}

export function embedding(ids: Tensor, table: Tensor): Tensor {
  if (ids.dtype !== 'u32') throw new Error('embedding: ids must be a u32 tensor');
  const { n, vocab, dim, outShape } = dims(ids, table);
  const out = ids.ctx.empty(outShape);
  ids.ctx.dispatch({
    shader: 'embedding',
    entry: 'main',
    bindings: [ids, table, out],
    uniforms: packUniforms([n * dim, dim, vocab]),
    workgroups: grid1d(Math.ceil((n * dim) / 256)),
  });
  return out;
}

export function embeddingCpu(ids: HostTensor, table: HostTensor): HostTensor {
  const { n, vocab, dim, outShape } = dims(ids, table);
  const out = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const id = ids.data[i];
    if (id >= vocab) throw new Error(`embedding: id ${id} is outside the vocabulary (${vocab})`);
    out.set(table.data.subarray(id * dim, (id + 1) * dim), i * dim);
  }
  return { shape: outShape, data: out };
}
