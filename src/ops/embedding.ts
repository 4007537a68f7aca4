// Embedding gather: ids [...] (u32) and table [vocab, dim] → [..., dim]. Kernel: shaders/embedding.wgsl.
import { grid1d, type Tensor } from '../gpu/context.ts';
import { type HostTensor, like } from '../gpu/host.ts';
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
  const out = like(table.data, n * dim);
  for (let i = 0; i < n; i++) {
    const id = ids.data[i];
    if (id >= vocab) throw new Error(`embedding: id ${id} is outside the vocabulary (${vocab})`);
    out.set(table.data.subarray(id * dim, (id + 1) * dim), i * dim);
  }
  return { shape: outShape, data: out };
}

// ---- backward ------------------------------------------------------------------------------------

/** Positions grouped by id (CSR): the positions of id v are positions[offsets[v] .. offsets[v+1]). */
export function embeddingGradIndex(ids: ArrayLike<number>, vocab: number): { offsets: Uint32Array; positions: Uint32Array } {
  const offsets = new Uint32Array(vocab + 1);
  for (let j = 0; j < ids.length; j++) {
    const id = ids[j];
    if (!Number.isInteger(id) || id < 0 || id >= vocab) throw new Error(`embeddingBackward: id ${id} is outside the vocabulary (${vocab})`);
    offsets[id + 1]++;
  }
  for (let v = 0; v < vocab; v++) offsets[v + 1] += offsets[v];
  const fill = offsets.slice(0, vocab);
  const positions = new Uint32Array(ids.length);
  for (let j = 0; j < ids.length; j++) positions[fill[ids[j]]++] = j;
  return { offsets, positions };
}

function backwardDims(dout: { shape: readonly number[] }, ids: ArrayLike<number>) {
  const dim = dout.shape[dout.shape.length - 1];
  const n = dout.shape.slice(0, -1).reduce((a, b) => a * b, 1);
  if (n !== ids.length) throw new Error(`embeddingBackward: dout [${dout.shape}] has ${n} rows for ${ids.length} ids`);
  return { n, dim };
}

/** Gradient of the table for out = embedding(ids, table) given dout [..., dim]: dtable [vocab, dim].
 *  `ids` are the host-side token ids (as gathered, flattened). */
export function embeddingBackward(dout: Tensor, ids: ArrayLike<number>, vocab: number): Tensor {
  const { dim } = backwardDims(dout, ids);
  const ctx = dout.ctx;
  const { offsets, positions } = embeddingGradIndex(ids, vocab);
  const off = ctx.upload({ shape: [vocab + 1], data: offsets }, 'embedding.offsets');
  // A zero-length binding is invalid: keep one element when there are no positions.
  const pos = ctx.upload({ shape: [Math.max(1, positions.length)], data: positions.length ? positions : new Uint32Array(1) }, 'embedding.positions');
  const out = ctx.empty([vocab, dim]);
  ctx.dispatch({
    shader: 'embedding',
    entry: 'backward',
    bindings: [pos, dout, out, undefined, off],
    uniforms: packUniforms([vocab * dim, dim, vocab]),
    uniformBinding: 3,
    workgroups: grid1d(Math.ceil((vocab * dim) / 256)),
  });
  off.release();
  pos.release();
  return out;
}

export function embeddingBackwardCpu(dout: HostTensor, ids: ArrayLike<number>, vocab: number): HostTensor {
  const { n, dim } = backwardDims(dout, ids);
  const acc = new Float64Array(vocab * dim);
  for (let j = 0; j < n; j++) {
    const id = ids[j];
    if (!Number.isInteger(id) || id < 0 || id >= vocab) throw new Error(`embeddingBackward: id ${id} is outside the vocabulary (${vocab})`);
    for (let e = 0; e < dim; e++) acc[id * dim + e] += dout.data[j * dim + e];
  }
  const out = like(dout.data, vocab * dim);
  out.set(acc);
  return { shape: [vocab, dim], data: out };
}
