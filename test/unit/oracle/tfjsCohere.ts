// The oracle our CPU and GPU forwards must agree with: HF CohereForCausalLM's forward in TensorFlow.js
// ops (src/bench/peers/tfjsCohere.ts, written from the transformers modeling code, not from ours),
// on tfjs's pure-JS CPU backend.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// tfjs-core alone has no gradient functions; tf.variableGrads needs them registered.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import type { ModelConfig } from '../../../src/model/config.ts';
import { logitsTfjs, weightedCrossEntropyTfjs } from '../../../src/bench/peers/tfjsCohere.ts';

export { logitsTfjs };
import type { HostWeights } from '../../../src/model/init.ts';

export async function useCpuBackend(): Promise<void> {
  await tf.setBackend('cpu');
  await tf.ready();
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
      return weightedCrossEntropyTfjs(config, logitsTfjs(config, (name) => vars.get(name)!, ids), targets, lossWeights);
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
