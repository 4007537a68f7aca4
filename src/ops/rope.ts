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

// ---- fused q/k/v: rotate q and k, append k and v to the cache (shaders/rope_qkv.wgsl) -----------

export interface QkvHeads {
  q: number;
  kv: number;
}

function qkvDims(qkv: { shape: readonly number[] }, table: RopeTable<{ shape: readonly number[] }>, pos0: number, heads: QkvHeads, kvShape: readonly number[]) {
  if (qkv.shape.length !== 4 || qkv.shape[2] !== heads.q + 2 * heads.kv) throw new Error(`ropeQkv: qkv must be [batch, seq, ${heads.q} + 2·${heads.kv} heads, head_dim], got [${qkv.shape}]`);
  const [batch, seq, , d] = qkv.shape;
  dims({ shape: [batch, seq, heads.q, d] }, table, pos0);
  if (kvShape.length !== 4 || kvShape[0] !== batch || kvShape[2] !== heads.kv || kvShape[3] !== d || kvShape[1] < pos0 + seq) {
    throw new Error(`ropeQkv: the cache must be [${batch}, ≥ ${pos0 + seq}, ${heads.kv}, ${d}], got [${kvShape}]`);
  }
  return { batch, seq, half: d / 2, kvRows: kvShape[1] };
}

/** Splits a fused projection qkv [batch, seq, hq + 2·hkv, hd]: returns q rotated [batch, seq, hq, hd]
 *  and writes k rotated and v into kCache / vCache [batch, rows, hkv, hd] at rows pos0 … pos0+seq−1.
 *  Bit-identical to rope() on q and k plus copies into the cache. */
export function ropeQkv(qkv: Tensor, table: RopeTable<Tensor>, pos0: number, heads: QkvHeads, kCache: Tensor, vCache: Tensor): Tensor {
  const { batch, seq, half, kvRows } = qkvDims(qkv, table, pos0, heads, kCache.shape);
  const q = qkv.ctx.empty([batch, seq, heads.q, 2 * half]);
  const pairs = batch * seq * (heads.q + 2 * heads.kv) * half;
  qkv.ctx.dispatch({
    shader: 'rope_qkv',
    entry: 'main',
    bindings: [qkv, table.cos, table.sin, q, kCache, vCache],
    uniforms: packUniforms([pairs, seq, heads.q, heads.kv, half, pos0, kvRows]),
    workgroups: grid1d(Math.ceil(pairs / 256)),
  });
  return q;
}

/** CPU reference: q rotated, and copies of the caches with the new rows written. */
export function ropeQkvCpu(qkv: HostTensor, table: RopeTable<HostTensor>, pos0: number, heads: QkvHeads, kCache: HostTensor, vCache: HostTensor): { q: HostTensor; k: HostTensor; v: HostTensor } {
  const { batch, seq, half, kvRows } = qkvDims(qkv, table, pos0, heads, kCache.shape);
  const d = 2 * half;
  const all = heads.q + 2 * heads.kv;
  const part = (h0: number, n: number): HostTensor => {
    const data = like(qkv.data, batch * seq * n * d);
    for (let tok = 0; tok < batch * seq; tok++) for (let h = 0; h < n; h++) for (let e = 0; e < d; e++) data[(tok * n + h) * d + e] = qkv.data[(tok * all + h0 + h) * d + e];
    return { shape: [batch, seq, n, d], data };
  };
  const q = ropeCpu(part(0, heads.q), table, pos0);
  const kNew = ropeCpu(part(heads.q, heads.kv), table, pos0);
  const vNew = part(heads.q + heads.kv, heads.kv);
  const append = (cache: HostTensor, rows: HostTensor): HostTensor => {
    const data = cache.data.slice();
    const row = heads.kv * d;
    for (let b = 0; b < batch; b++) for (let t = 0; t < seq; t++) for (let e = 0; e < row; e++) data[(b * kvRows + pos0 + t) * row + e] = rows.data[(b * seq + t) * row + e];
    return { shape: [...cache.shape], data };
  };
  return { q, k: append(kCache, kNew), v: append(vCache, vNew) };
}
