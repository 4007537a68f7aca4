// Causal attention with grouped KV heads. Kernel: shaders/attention.wgsl.
// q: [batch, T, Hq, D]; k, v: [batch, S, Hkv, D] → [batch, T, Hq, D]. Query t is at position
// pos0 + t and attends to keys 0..pos0+t (pos0 defaults to S − T: the queries are the last T).
import { grid1d, type Tensor } from '../gpu/context.ts';
import { type HostTensor, like } from '../gpu/host.ts';
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
  const out = like(q.data, q.data.length);
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

// ---- backward ------------------------------------------------------------------------------------

export interface AttentionGrads<T> {
  dq: T;
  dk: T;
  dv: T;
}

/** Gradients of attention(q, k, v, pos0) given dout = ∂L/∂out. k and v must be contiguous
 *  [batch, S, Hkv, D] (no cache stride). Kernel: shaders/attention_backward.wgsl; probabilities are
 *  recomputed into scratch [batch, Hq, T, S] (2 buffers), released when the passes are recorded. */
export function attentionBackward(dout: Tensor, q: Tensor, k: Tensor, v: Tensor, pos0?: number): AttentionGrads<Tensor> {
  const dm = dims(q, k, v, pos0);
  if (dout.shape.some((x, i) => x !== q.shape[i])) throw new Error(`attentionBackward: dout [${dout.shape}] does not match q [${q.shape}]`);
  const ctx = q.ctx;
  const rows = dm.batch * dm.t * dm.hq;
  const scratch = [dm.batch, dm.hq, dm.t, dm.s];
  const probs = ctx.empty(scratch, 'f32', 'attention.probs');
  const dscores = ctx.empty(scratch, 'f32', 'attention.dscores');
  const dq = ctx.empty(q.shape);
  const dk = ctx.empty(k.shape);
  const dv = ctx.empty(v.shape);
  const params = (n: number) => packUniforms([n, dm.t, dm.s, dm.hq, dm.hkv, dm.d, dm.pos0, f32(1 / Math.sqrt(dm.d))]);
  ctx.dispatch({
    shader: 'attention_backward',
    entry: 'scores',
    bindings: [q, k, v, dout, probs, dscores],
    uniforms: params(rows),
    uniformBinding: 9,
    workgroups: grid1d(Math.ceil(rows / 64)),
  });
  ctx.dispatch({
    shader: 'attention_backward',
    entry: 'grad_q',
    bindings: [undefined, k, undefined, undefined, undefined, dscores, dq],
    uniforms: params(q.size),
    uniformBinding: 9,
    workgroups: grid1d(Math.ceil(q.size / 64)),
  });
  ctx.dispatch({
    shader: 'attention_backward',
    entry: 'grad_kv',
    bindings: [q, undefined, undefined, dout, probs, dscores, undefined, dk, dv],
    uniforms: params(k.size),
    uniformBinding: 9,
    workgroups: grid1d(Math.ceil(k.size / 64)),
  });
  probs.release();
  dscores.release();
  return { dq, dk, dv };
}

export function attentionBackwardCpu(dout: HostTensor, q: HostTensor, k: HostTensor, v: HostTensor, pos0?: number): AttentionGrads<HostTensor> {
  const { batch, t, s, hq, hkv, d, pos0: p0 } = dims(q, k, v, pos0);
  const scale = 1 / Math.sqrt(d);
  const group = hq / hkv;
  // Accumulated in float64, stored in q's float type.
  const dq = new Float64Array(q.data.length);
  const dk = new Float64Array(k.data.length);
  const dv = new Float64Array(v.data.length);
  const pr = new Float64Array(s);
  const dp = new Float64Array(s);
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < t; i++) {
      for (let h = 0; h < hq; h++) {
        const qo = ((b * t + i) * hq + h) * d;
        const kh = Math.floor(h / group);
        const kvo = (j: number) => ((b * s + j) * hkv + kh) * d;
        const last = Math.min(s, p0 + i + 1);
        let max = -Infinity;
        for (let j = 0; j < last; j++) {
          let dot = 0;
          for (let e = 0; e < d; e++) dot += q.data[qo + e] * k.data[kvo(j) + e];
          pr[j] = dot * scale;
          max = Math.max(max, pr[j]);
        }
        let sum = 0;
        for (let j = 0; j < last; j++) sum += (pr[j] = Math.exp(pr[j] - max));
        let delta = 0;
        for (let j = 0; j < last; j++) {
          pr[j] /= sum;
          let g = 0;
          for (let e = 0; e < d; e++) g += dout.data[qo + e] * v.data[kvo(j) + e];
          dp[j] = g;
          delta += pr[j] * g;
        }
        for (let j = 0; j < last; j++) {
          const ds = pr[j] * (dp[j] - delta) * scale; // ∂L/∂(q·k_j)
          for (let e = 0; e < d; e++) {
            dq[qo + e] += ds * k.data[kvo(j) + e];
            dk[kvo(j) + e] += ds * q.data[qo + e];
            dv[kvo(j) + e] += pr[j] * dout.data[qo + e];
          }
        }
      }
    }
  }
  const store = (acc: Float64Array, shape: readonly number[]): HostTensor => {
    const out = like(q.data, acc.length);
    out.set(acc);
    return { shape: [...shape], data: out };
  };
  return { dq: store(dq, q.shape), dk: store(dk, k.shape), dv: store(dv, v.shape) };
}
