// HF CohereForCausalLM's forward in TensorFlow.js ops, written from the transformers modeling code
// (not from ours): the whole-model oracle of the tests (on tfjs's CPU backend) and the TF.js peer of
// the bench (on its WebGPU backend). With a cache it continues from earlier positions, as
// transformers' DynamicCache does: the new keys and values are appended per layer.
import * as tf from '@tensorflow/tfjs-core';
import type { ModelConfig } from '../../model/config.ts';

function layerNorm(x: tf.Tensor, w: tf.Tensor, eps: number): tf.Tensor {
  // CohereLayerNorm: mean-centred, biased variance, weight only.
  const mean = tf.mean(x, -1, true);
  const centred = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centred), -1, true);
  return tf.mul(tf.mul(centred, tf.rsqrt(tf.add(variance, eps))), w);
}

/** Cohere's rotary embedding: rotate_half on interleaved pairs, freqs repeated per pair. */
function applyRope(x: tf.Tensor4D, cos: tf.Tensor, sin: tf.Tensor): tf.Tensor4D {
  const [b, t, h, d] = x.shape;
  const pairs = tf.reshape(x, [b, t, h, d / 2, 2]);
  const [x1, x2] = tf.split(pairs, 2, 4); // x[..., ::2], x[..., 1::2]
  const rotated = tf.reshape(tf.concat([tf.neg(x2), x1], 4), [b, t, h, d]); // interleaved (-x2, x1)
  const cosFull = tf.reshape(tf.stack([cos, cos], -1), [1, t, 1, d]); // repeat_interleave(·, 2)
  const sinFull = tf.reshape(tf.stack([sin, sin], -1), [1, t, 1, d]);
  return tf.add(tf.mul(x, cosFull), tf.mul(rotated, sinFull)) as tf.Tensor4D;
}

/** Keys and values of earlier positions, per layer ([b, past, kv_heads, d]); kept out of tidy scopes. */
export interface TfjsCache {
  k: Array<tf.Tensor | null>;
  v: Array<tf.Tensor | null>;
  length: number;
}

export function emptyTfjsCache(config: ModelConfig): TfjsCache {
  return { k: new Array(config.numHiddenLayers).fill(null), v: new Array(config.numHiddenLayers).fill(null), length: 0 };
}

export function disposeTfjsCache(c: TfjsCache): void {
  for (const t of [...c.k, ...c.v]) t?.dispose();
}

/** Logits [b·t, vocab] as a tf.Tensor; `W(name)` supplies each weight (constants or variables).
 *  With `cache`, the ids continue after its positions and their keys and values are appended. */
export function logitsTfjs(config: ModelConfig, W: (name: string) => tf.Tensor, ids: number[][], cache?: TfjsCache): tf.Tensor2D {
  const b = ids.length;
  const t = ids[0].length;
  const pos0 = cache?.length ?? 0;
  const total = pos0 + t;
  const hidden = config.hiddenSize;
  const hq = config.numAttentionHeads;
  const hkv = config.numKeyValueHeads;
  const d = hidden / hq;
  const embed = W('model.embed_tokens.weight');
  let x: tf.Tensor = tf.gather(embed, tf.tensor2d(ids, [b, t], 'int32')); // [b, t, hidden]

  const invFreq = tf.pow(config.ropeTheta, tf.div(tf.range(0, d, 2, 'float32'), -d)); // θ^(−2j/d)
  const freqs = tf.outerProduct(tf.range(pos0, total, 1, 'float32'), invFreq as tf.Tensor1D); // [t, d/2]
  const cos = tf.cos(freqs);
  const sin = tf.sin(freqs);
  // Query i (position pos0 + i) sees keys j ≤ pos0 + i.
  const allowed = tf.linalg.bandPart(tf.ones([t, total]), -1, pos0);
  const mask = tf.mul(tf.sub(1, allowed), -1e9);

  const linear = (v: tf.Tensor, name: string): tf.Tensor => {
    const flat = tf.reshape(v, [-1, v.shape[v.shape.length - 1]]) as tf.Tensor2D;
    return tf.matMul(flat, W(name) as tf.Tensor2D, false, true);
  };
  for (let l = 0; l < config.numHiddenLayers; l++) {
    const p = `model.layers.${l}`;
    const h = layerNorm(x, W(`${p}.input_layernorm.weight`), config.layerNormEps);
    const q = applyRope(tf.reshape(linear(h, `${p}.self_attn.q_proj.weight`), [b, t, hq, d]) as tf.Tensor4D, cos, sin);
    let k: tf.Tensor = applyRope(tf.reshape(linear(h, `${p}.self_attn.k_proj.weight`), [b, t, hkv, d]) as tf.Tensor4D, cos, sin);
    let v: tf.Tensor = tf.reshape(linear(h, `${p}.self_attn.v_proj.weight`), [b, t, hkv, d]);
    if (cache) {
      if (cache.k[l]) {
        k = tf.concat([cache.k[l]!, k], 1);
        v = tf.concat([cache.v[l]!, v], 1);
      }
      cache.k[l]?.dispose();
      cache.v[l]?.dispose();
      cache.k[l] = tf.keep(k);
      cache.v[l] = tf.keep(v);
    }
    // repeat_kv: each KV head serves hq/hkv consecutive query heads.
    const headIndex = tf.tensor1d(Array.from({ length: hq }, (_, i) => Math.floor(i / (hq / hkv))), 'int32');
    const qh = tf.transpose(q, [0, 2, 1, 3]); // [b, hq, t, d]
    const kh = tf.transpose(tf.gather(k, headIndex, 2), [0, 2, 1, 3]); // [b, hq, total, d]
    const vh = tf.transpose(tf.gather(v, headIndex, 2), [0, 2, 1, 3]);
    const scores = tf.add(tf.div(tf.matMul(qh, kh, false, true), Math.sqrt(d)), mask);
    const attn = tf.matMul(tf.softmax(scores, -1), vh); // [b, hq, t, d]
    const merged = tf.reshape(tf.transpose(attn, [0, 2, 1, 3]), [b * t, hidden]);
    const attnOut = tf.matMul(merged as tf.Tensor2D, W(`${p}.self_attn.o_proj.weight`) as tf.Tensor2D, false, true);
    const gate = linear(h, `${p}.mlp.gate_proj.weight`);
    const up = linear(h, `${p}.mlp.up_proj.weight`);
    const act = tf.mul(tf.mul(gate, tf.sigmoid(gate)), up);
    const mlpOut = tf.matMul(act as tf.Tensor2D, W(`${p}.mlp.down_proj.weight`) as tf.Tensor2D, false, true);
    x = tf.add(tf.add(x, tf.reshape(attnOut, [b, t, hidden])), tf.reshape(mlpOut, [b, t, hidden]));
  }
  if (cache) cache.length = total;
  const xn = layerNorm(x, W('model.norm.weight'), config.layerNormEps);
  return tf.mul(tf.matMul(tf.reshape(xn, [b * t, hidden]) as tf.Tensor2D, embed as tf.Tensor2D, false, true), config.logitScale) as tf.Tensor2D;
}

/** Σ weights · cross-entropy of the logits at `targets` (the SFT loss, as a scalar tensor). */
export function weightedCrossEntropyTfjs(config: ModelConfig, logits: tf.Tensor2D, targets: number[], lossWeights: number[]): tf.Scalar {
  const logp = tf.logSoftmax(logits, -1);
  const picked = tf.sum(tf.mul(logp, tf.oneHot(tf.tensor1d(targets, 'int32'), config.vocabSize)), -1);
  return tf.neg(tf.sum(tf.mul(picked, tf.tensor1d(lossWeights)))) as tf.Scalar;
}
