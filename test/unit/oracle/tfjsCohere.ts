// An independent implementation of HF CohereForCausalLM's forward in TensorFlow.js ops (pure-JS CPU
// backend), written from the transformers modeling code, not from ours: the oracle our CPU and GPU
// forwards must agree with.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// tfjs-core alone has no gradient functions; tf.variableGrads needs them registered.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import type { ModelConfig } from '../../../src/model/config.ts';
import type { HostWeights } from '../../../src/model/init.ts';

export async function useCpuBackend(): Promise<void> {
  await tf.setBackend('cpu');
  await tf.ready();
}

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

/** Logits [b·t, vocab] as a tf.Tensor; `W(name)` supplies each weight (constants or variables). */
export function logitsTfjs(config: ModelConfig, W: (name: string) => tf.Tensor, ids: number[][]): tf.Tensor2D {
    const b = ids.length;
    const t = ids[0].length;
    const hidden = config.hiddenSize;
    const hq = config.numAttentionHeads;
    const hkv = config.numKeyValueHeads;
    const d = hidden / hq;
    const embed = W('model.embed_tokens.weight');
    let x: tf.Tensor = tf.gather(embed, tf.tensor2d(ids, [b, t], 'int32')); // [b, t, hidden]

    const invFreq = tf.pow(config.ropeTheta, tf.div(tf.range(0, d, 2, 'float32'), -d)); // θ^(−2j/d)
    const freqs = tf.outerProduct(tf.range(0, t, 1, 'float32'), invFreq as tf.Tensor1D); // [t, d/2]
    const cos = tf.cos(freqs);
    const sin = tf.sin(freqs);
    const causal = tf.linalg.bandPart(tf.ones([t, t]), -1, 0); // lower triangle incl. diagonal
    const mask = tf.mul(tf.sub(1, causal), -1e9);

    const linear = (v: tf.Tensor, name: string): tf.Tensor => {
      const flat = tf.reshape(v, [-1, v.shape[v.shape.length - 1]]) as tf.Tensor2D;
      return tf.matMul(flat, W(name) as tf.Tensor2D, false, true);
    };
    for (let l = 0; l < config.numHiddenLayers; l++) {
      const p = `model.layers.${l}`;
      const h = layerNorm(x, W(`${p}.input_layernorm.weight`), config.layerNormEps);
      const q = applyRope(tf.reshape(linear(h, `${p}.self_attn.q_proj.weight`), [b, t, hq, d]) as tf.Tensor4D, cos, sin);
      const k = applyRope(tf.reshape(linear(h, `${p}.self_attn.k_proj.weight`), [b, t, hkv, d]) as tf.Tensor4D, cos, sin);
      const v = tf.reshape(linear(h, `${p}.self_attn.v_proj.weight`), [b, t, hkv, d]);
      // repeat_kv: each KV head serves hq/hkv consecutive query heads.
      const headIndex = tf.tensor1d(Array.from({ length: hq }, (_, i) => Math.floor(i / (hq / hkv))), 'int32');
      const qh = tf.transpose(q, [0, 2, 1, 3]); // [b, hq, t, d]
      const kh = tf.transpose(tf.gather(k, headIndex, 2), [0, 2, 1, 3]);
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
    const xn = layerNorm(x, W('model.norm.weight'), config.layerNormEps);
    return tf.mul(tf.matMul(tf.reshape(xn, [b * t, hidden]) as tf.Tensor2D, embed as tf.Tensor2D, false, true), config.logitScale) as tf.Tensor2D;
}

function constant(weights: HostWeights): (name: string) => tf.Tensor {
  return (name) => {
    const t = weights.get(name);
    if (!t) throw new Error(`missing ${name}`);
    return tf.tensor(Float32Array.from(t.data), t.shape as number[], 'float32');
  };
}

export function forwardTfjs(config: ModelConfig, weights: HostWeights, ids: number[][]): Float32Array {
  return tf.tidy(() => logitsTfjs(config, constant(weights), ids).dataSync() as Float32Array);
}

/** Σ weights · cross-entropy and its gradient for every weight, by name, from tf.variableGrads. */
export function lossAndGradsTfjs(
  config: ModelConfig,
  weights: HostWeights,
  ids: number[][],
  targets: number[],
  lossWeights: number[],
): { loss: number; grads: Map<string, Float32Array> } {
  const vars = new Map<string, tf.Variable>();
  for (const [name, t] of weights) vars.set(name, tf.variable(tf.tensor(Float32Array.from(t.data), t.shape as number[], 'float32'), true, name));
  try {
    const { value, grads } = tf.variableGrads(() => {
      const logits = logitsTfjs(config, (name) => vars.get(name)!, ids);
      const logp = tf.logSoftmax(logits, -1);
      const picked = tf.sum(tf.mul(logp, tf.oneHot(tf.tensor1d(targets, 'int32'), config.vocabSize)), -1);
      return tf.neg(tf.sum(tf.mul(picked, tf.tensor1d(lossWeights)))) as tf.Scalar;
    });
    const out = new Map<string, Float32Array>();
    for (const [name, v] of vars) out.set(name, grads[v.name].dataSync() as Float32Array);
    const loss = value.dataSync()[0];
    tf.dispose([value, ...Object.values(grads)]);
    return { loss, grads: out };
  } finally {
    for (const v of vars.values()) v.dispose();
  }
}
