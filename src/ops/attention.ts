// Causal attention with grouped KV heads. Kernel: shaders/attention.wgsl.
// q: [batch, T, Hq, D]; k, v: [batch, S, Hkv, D] → [batch, T, Hq, D]. Query t is at position
// pos0 + t and attends to keys 0..pos0+t (pos0 defaults to S − T: the queries are the last T).
import { grid1d, type Tensor } from '../gpu/context.ts';
import type { HostTensor } from '../gpu/host.ts';
import { f32, packUniforms } from './uniforms.ts';

export const ATTENTION_MAX_HEAD_DIM = 256;

function dims(q: { shape: readonly number[] }, k: { shape: readonly number[] }, v: { shape: readonly number[] }, pos0?: number) {
  if (q.shape.length !== 4 || k.shape.length !== 4) throw new Error('attention: q, k, v must be [batch, seq, heads, head_dim]');
  const [batch, t, hq, d] = q.shape;
  const [kb, s, hkv, kd] = k.shape;
  if (v.shape.some((x, i) => x !== k.shape[i])) throw new Error(`attention: k [${k.shape}] and v [${v.shape}] differ`);
  if (kb !== batch || kd !== d) throw new Error(`attention: q [${q.shape}] and k [${k.shape}] do not match`);
  if (hq % hkv !== 0) throw new Error(`attention: ${hq} query heads are not a multiple of ${hkv} KV heads`);
  if (d > ATTENTION_MAX_HEAD_DIM) throw new Error(`attention: head_dim ${d} > ${ATTENTION_MAX_HEAD_DIM}`);
  const p0 = pos0 ?? s - t;
  if (p0 < 0) throw new Error(`attention: ${t} queries but only ${s} keys`);
  return { batch, t, s, hq, hkv, d, pos0: p0 };
}

/** `kvStride`: rows per batch in k/v's buffers when they are a cache view longer than S. */
export function attention(q: Tensor, k: Tensor, v: Tensor, pos0?: number, kvStride?: number): Tensor {
  const dm = dims(q, k, v, pos0);
  const stride = kvStride ?? dm.s;
  if (stride < dm.s) throw new Error(`attention: kvStride ${stride} < ${dm.s} keys`);
  const rows = dm.batch * dm.t * dm.hq;
  const out = q.ctx.empty(q.shape);
  q.ctx.dispatch({
    shader: 'attention',
    entry: 'main',
    bindings: [q, k, v, out],
    uniforms: packUniforms([rows, dm.t, dm.s, dm.hq, dm.hkv, dm.d, dm.pos0, f32(1 / Math.sqrt(dm.d)), stride]),
    workgroups: grid1d(Math.ceil(rows / 64)),
  });
  return out;
}

export function attentionCpu(q: HostTensor, k: HostTensor, v: HostTensor, pos0?: number): HostTensor {
  const { batch, t, s, hq, hkv, d, pos0: p0 } = dims(q, k, v, pos0);
  const out = new Float32Array(q.data.length);
  const scale = 1 / Math.sqrt(d);
  const group = hq / hkv;
  const scores = new Float64Array(s);
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < t; i++) {
      for (let h = 0; h < hq; h++) {
        const qo = ((b * t + i) * hq + h) * d;
        const kh = Math.floor(h / group);
        const last = Math.min(s, p0 + i + 1);
        let max = -Infinity;
        for (let j = 0; j < last; j++) {
          const ko = ((b * s + j) * hkv + kh) * d;
          let dot = 0;
          for (let e = 0; e < d; e++) dot += q.data[qo + e] * k.data[ko + e];
          scores[j] = dot * scale;
          max = Math.max(max, scores[j]);
        }
        let sum = 0;
        for (let j = 0; j < last; j++) sum += (scores[j] = Math.exp(scores[j] - max));
        for (let e = 0; e < d; e++) {
          let acc = 0;
          for (let j = 0; j < last; j++) acc += scores[j] * v.data[((b * s + j) * hkv + kh) * d + e];
          out[qo + e] = acc / sum;
        }
      }
    }
  }
  return { shape: [...q.shape], data: out };
}
