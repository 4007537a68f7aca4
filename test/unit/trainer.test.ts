import { describe, expect, it } from 'vitest';
import type { Tensor } from '../../src/gpu/context.ts';
import { relativeError } from '../../src/gpu/host.ts';
import type { ModelConfig } from '../../src/model/config.ts';
import { cpuTrainOps, gpuTrainOps, type LossBatch } from '../../src/model/backprop.ts';
import { initWeights } from '../../src/model/init.ts';
import { ropeTableCpu, uploadRopeTable } from '../../src/ops/rope.ts';
import { DEFAULT_OPTIMIZER, NonFiniteError, Trainer } from '../../src/train/trainer.ts';
import { Rng } from '../../src/util/rng.ts';
import { gpu } from './gpu.ts';

const config: ModelConfig = {
  vocabSize: 40,
  hiddenSize: 16,
  intermediateSize: 32,
  numHiddenLayers: 2,
  numAttentionHeads: 4,
  numKeyValueHeads: 2,
  maxPositionEmbeddings: 16,
  ropeTheta: 10000,
  layerNormEps: 1e-5,
  logitScale: 1,
  bosTokenId: 1,
  eosTokenId: 2,
  padTokenId: 0,
};
const T = 8;
const rng = new Rng(2);
const seqs = [0, 1, 2].map(() => Array.from({ length: T + 1 }, () => rng.int(config.vocabSize)));
const batch: LossBatch = {
  ids: seqs.map((s) => s.slice(0, T)),
  targets: seqs.flatMap((s) => s.slice(1)),
  weights: new Array(3 * T).fill(1 / (3 * T)),
};
const opt = { ...DEFAULT_OPTIMIZER, lr: 1e-2, warmup: 2, totalSteps: 8 };
const table = ropeTableCpu(T, 4, config.ropeTheta);

describe('Trainer', () => {
  it('a few AdamW steps reduce the loss on a fixed batch, and the GPU matches the CPU step for step', async () => {
    const ctx = await gpu();
    const host = initWeights(config, 5, 0.1);
    const cpu = new Trainer(cpuTrainOps(), config, new Map([...host].map(([k, t]) => [k, { shape: t.shape, data: Float32Array.from(t.data) }])), table, opt);
    const wg = new Map<string, Tensor>([...host].map(([k, t]) => [k, ctx.upload(t)]));
    const g = new Trainer(gpuTrainOps(ctx), config, wg, uploadRopeTable(ctx, table), opt);
    const losses: number[] = [];
    for (let s = 0; s < 8; s++) {
      const a = await cpu.trainStep(batch);
      const b = await g.trainStep(batch);
      expect(Math.abs(b.loss - a.loss) / a.loss, `loss at step ${s + 1}`).toBeLessThan(1e-4);
      expect(Math.abs(b.gradNorm - a.gradNorm) / a.gradNorm, `grad norm at step ${s + 1}`).toBeLessThan(1e-3);
      expect(b.lr).toBe(a.lr);
      losses.push(a.loss);
    }
    expect(losses[7]).toBeLessThan(losses[0] * 0.8);
    for (const [name, w] of wg) {
      expect(relativeError((await w.read()).data, cpu.weights.get(name)!.data), name).toBeLessThan(1e-4);
    }
    g.dispose();
    for (const w of wg.values()) w.release();
  });

  it('a non-finite loss stops at that step and leaves the weights as they were', async () => {
    const host = initWeights(config, 6, 0.1);
    const weights = new Map([...host].map(([k, t]) => [k, { shape: t.shape, data: Float32Array.from(t.data) }]));
    const t = new Trainer(cpuTrainOps(), config, weights, table, opt);
    await t.trainStep(batch);
    const before = Float32Array.from(weights.get('model.layers.0.mlp.up_proj.weight')!.data);
    weights.get('model.norm.weight')!.data[3] = Number.NaN;
    const err = await t.trainStep(batch).catch((e) => e);
    expect(err).toBeInstanceOf(NonFiniteError);
    expect((err as NonFiniteError).step).toBe(2);
    expect((err as Error).message).toMatch(/step 2: the loss is NaN/);
    expect(t.step).toBe(1);
    expect(Array.from(weights.get('model.layers.0.mlp.up_proj.weight')!.data)).toEqual(Array.from(before));
  });
});
