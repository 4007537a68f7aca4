// The CPU reference forward: the training forward (backprop.ts) over the ops' plain TypeScript
// references, for tests and for checking a GPU. Slow and clear, never used for serving.
import type { HostTensor } from '../gpu/host.ts';
import { ropeTableCpu } from '../ops/rope.ts';
import { cpuTrainOps, forward } from './backprop.ts';
import { type ModelConfig, headDim } from './config.ts';
import type { HostWeights } from './init.ts';

/** Logits [batch, T, vocab] for token ids [batch][T] (all rows the same length). */
export function forwardCpu(config: ModelConfig, weights: HostWeights, ids: number[][]): HostTensor {
  const t = ids[0].length;
  const table = ropeTableCpu(t, headDim(config), config.ropeTheta);
  const { logits } = forward(cpuTrainOps(false), config, weights, table, ids);
  return { shape: [ids.length, t, config.vocabSize], data: logits.data };
}
