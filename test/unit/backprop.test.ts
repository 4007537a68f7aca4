import { beforeAll, describe, expect, it } from 'vitest';
import type { Tensor } from '../../src/gpu/context.ts';
import { type HostTensor, relativeError } from '../../src/gpu/host.ts';
import type { ModelConfig } from '../../src/model/config.ts';
import { cpuTrainOps, gpuTrainOps, lossAndGrads, type LossBatch } from '../../src/model/backprop.ts';
import { initWeights } from '../../src/model/init.ts';
import { ropeTableCpu, uploadRopeTable } from '../../src/ops/rope.ts';
import { Rng } from '../../src/util/rng.ts';
import { lossAndGradsTfjs, useCpuBackend } from './oracle/tfjsCohere.ts';
import { gpu } from './gpu.ts';

const config: ModelConfig = {
  vocabSize: 31,
  hiddenSize: 16,
  intermediateSize: 24,
  numHiddenLayers: 2,
  numAttentionHeads: 4,
  numKeyValueHeads: 2,
  maxPositionEmbeddings: 16,
  ropeTheta: 10000,
  layerNormEps: 1e-5,
  logitScale: 0.7,
  bosTokenId: 1,
  eosTokenId: 2,
  padTokenId: 0,
};

const weights = initWeights(config, 3, 0.3);
const nr = new Rng(9);
for (const [name, t] of weights) if (name.endsWith('norm.weight')) for (let i = 0; i < t.data.length; i++) t.data[i] = 1 + 0.2 * nr.normal();

const rng = new Rng(4);
const T = 6;
const ids = [0, 1].map(() => Array.from({ length: T }, () => rng.int(config.vocabSize)));
const targets = Array.from({ length: 2 * T }, () => rng.int(config.vocabSize));
const mask: number[] = targets.map((_, i) => (i % 5 === 2 ? 0 : 1)); // a few positions masked out
const count = mask.reduce((a, b) => a + b, 0);
const batch: LossBatch = { ids, targets, weights: mask.map((m) => m / count) };

function toF64(w: Map<string, HostTensor>): Map<string, HostTensor> {
  return new Map([...w].map(([k, t]) => [k, { shape: t.shape, data: Float64Array.from(t.data) }]));
}

function table64() {
  const t = ropeTableCpu(T, config.hiddenSize / config.numAttentionHeads, config.ropeTheta);
  return { cos: { shape: t.cos.shape, data: Float64Array.from(t.cos.data) }, sin: { shape: t.sin.shape, data: Float64Array.from(t.sin.data) } };
}

describe('whole-model gradients', () => {
  beforeAll(useCpuBackend);

  it('float64 CPU gradients match central finite differences for every parameter', () => {
    const ops = cpuTrainOps(true);
    const w64 = toF64(weights);
    const table = table64();
    const { grads } = lossAndGrads(ops, config, w64, table, batch);
    const lossAt = (w: Map<string, HostTensor>) => lossAndGrads(ops, config, w, table, batch, { grads: false }).loss.data[0];
    const dr = new Rng(12);
    const eps = 1e-5;
    for (const [name, t] of w64) {
      // Directional derivative along a random direction: one pair of loss evaluations per tensor.
      const dir = Float64Array.from(t.data, () => dr.normal());
      const shifted = (sign: number) => new Map(w64).set(name, { shape: t.shape, data: Float64Array.from(t.data, (x, i) => x + sign * eps * dir[i]) });
      const numeric = (lossAt(shifted(1)) - lossAt(shifted(-1))) / (2 * eps);
      const g = grads.get(name)!.data;
      const analytic = dir.reduce((s, d, i) => s + d * g[i], 0);
      expect(Math.abs(numeric - analytic) / Math.max(1e-8, Math.abs(analytic)), name).toBeLessThan(1e-6);
    }
    expect(grads.size).toBe(w64.size);
  });

  it('CPU gradients agree with TensorFlow.js tf.variableGrads by name', () => {
    const ops = cpuTrainOps(false);
    const table = ropeTableCpu(T, config.hiddenSize / config.numAttentionHeads, config.ropeTheta);
    const ours = lossAndGrads(ops, config, weights, table, batch);
    const oracle = lossAndGradsTfjs(config, weights, ids, targets, batch.weights);
    expect(Math.abs(ours.loss.data[0] - oracle.loss) / oracle.loss).toBeLessThan(1e-5);
    for (const [name, g] of oracle.grads) {
      expect(relativeError(ours.grads.get(name)!.data, g), name).toBeLessThan(1e-4);
    }
  });

  it('GPU loss and every parameter gradient match the CPU reference, by name', async () => {
    const ctx = await gpu();
    const ops = gpuTrainOps(ctx);
    const wg = new Map<string, Tensor>([...weights].map(([k, t]) => [k, ctx.upload(t)]));
    const tableG = uploadRopeTable(ctx, ropeTableCpu(T, config.hiddenSize / config.numAttentionHeads, config.ropeTheta));
    ctx.poisonOutputs = true;
    const r = lossAndGrads(ops, config, wg, tableG, batch);
    ctx.poisonOutputs = false;
    const cpu = lossAndGrads(cpuTrainOps(false), config, weights, ropeTableCpu(T, 4, config.ropeTheta), batch);
    const loss = (await r.loss.read()).data[0];
    expect(Math.abs(loss - cpu.loss.data[0]) / cpu.loss.data[0]).toBeLessThan(1e-5);
    for (const [name, g] of r.grads) {
      expect(relativeError((await g.read()).data, cpu.grads.get(name)!.data), name).toBeLessThan(1e-4);
      g.release();
    }
    expect(r.grads.size).toBe(weights.size);
    r.loss.release();
    r.tokenLosses.release();
    for (const t of wg.values()) t.release();
  });
});
