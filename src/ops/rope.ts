// Rotary position embedding, Cohere's interleaved pairs. Kernel: shaders/rope.wgsl.
// cos/sin tables are computed once per model on the host in float64: [maxPositions, headDim/2].
import { grid1d, type GpuContext, type Tensor } from '../gpu/context.ts';
import { type HostTensor, like } from '../gpu/host.ts';
import { f32, packUniforms } from './uniforms.ts';

export interface RopeTable<T> {
  cos: T;
  sin: T;
}

/** inv_freq_j = θ^(−2j/headDim); angle(p, j) = p · inv_freq_j. */
export function ropeTableCpu(maxPositions: number, headDim: number, theta: number): RopeTable<HostTensor> {
  if (headDim % 2 !== 0) throw new Error(`rope: head_dim must be even, got ${headDim}`);
  const half = headDim / 2;
  const cos = new Float32Array(maxPositions * half);
  const sin = new Float32Array(maxPositions * half);
  for (let p = 0; p < maxPositions; p++) {
    for (let j = 0; j < half; j++) {
      const angle = p * Math.pow(theta, (-2 * j) / headDim);
      cos[p * half + j] = Math.cos(angle);
      sin[p * half + j] = Math.sin(angle);
    }
  }
  return { cos: { shape: [maxPositions, half], data: cos }, sin: { shape: [maxPositions, half], data: sin } };
}

export function uploadRopeTable(ctx: GpuContext, t: RopeTable<HostTensor>): RopeTable<Tensor> {
  return { cos: ctx.upload(t.cos, 'rope.cos'), sin: ctx.upload(t.sin, 'rope.sin') };
}

function dims(x: { shape: readonly number[] }, table: RopeTable<{ shape: readonly number[] }>, pos0: number) {
  if (x.shape.length !== 4) throw new Error(`rope: x must be [batch, seq, heads, head_dim], got [${x.shape}]`);
  const [batch, seq, heads, d] = x.shape;
  const half = d / 2;
  if (table.cos.shape[1] !== half) throw new Error(`rope: table is for head_dim ${table.cos.shape[1] * 2}, x has ${d}`);
  if (pos0 + seq > table.cos.shape[0]) {
    throw new Error(`rope: positions up to ${pos0 + seq} exceed the table's ${table.cos.shape[0]} (max_position_embeddings)`);
  }
  return { batch, seq, heads, half };
}

/** Rotates every pair by sign·θ (the forward pass is sign = 1, its gradient sign = −1). */
function rotate(x: Tensor, table: RopeTable<Tensor>, pos0: number, sign: 1 | -1): Tensor {
  const { batch, seq, heads, half } = dims(x, table, pos0);
  const pairs = batch * seq * heads * half;
  const out = x.ctx.empty(x.shape);
  x.ctx.dispatch({
    shader: 'rope',
    entry: 'main',
    bindings: [x, table.cos, table.sin, out],
    uniforms: packUniforms([pairs, seq, heads, half, pos0, f32(sign)]),
    workgroups: grid1d(Math.ceil(pairs / 256)),
  });
  return out;
}

function rotateCpu(x: HostTensor, table: RopeTable<HostTensor>, pos0: number, sign: 1 | -1): HostTensor {
  const { batch, seq, heads, half } = dims(x, table, pos0);
  const out = like(x.data, x.data.length);
  for (let i = 0; i < batch * seq * heads * half; i++) {
    const j = i % half;
    const t = Math.floor(i / (half * heads)) % seq;
    const c = table.cos.data[(pos0 + t) * half + j];
    const s = sign * table.sin.data[(pos0 + t) * half + j];
    const x0 = x.data[2 * i];
    const x1 = x.data[2 * i + 1];
    out[2 * i] = x0 * c - x1 * s;
    out[2 * i + 1] = x1 * c + x0 * s;
  }
  return { shape: [...x.shape], data: out };
}

export const rope = (x: Tensor, table: RopeTable<Tensor>, pos0 = 0): Tensor => rotate(x, table, pos0, 1);
export const ropeCpu = (x: HostTensor, table: RopeTable<HostTensor>, pos0 = 0): HostTensor => rotateCpu(x, table, pos0, 1);

/** Gradient of rope(x, table, pos0) given dy: the rotation is orthogonal, so dy rotated by −θ. */
export const ropeBackward = (dy: Tensor, table: RopeTable<Tensor>, pos0 = 0): Tensor => rotate(dy, table, pos0, -1);
export const ropeBackwardCpu = (dy: HostTensor, table: RopeTable<HostTensor>, pos0 = 0): HostTensor => rotateCpu(dy, table, pos0, -1);
