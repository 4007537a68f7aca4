import { beforeAll, describe, expect, it } from 'vitest';
import { relativeError } from '../../src/gpu/host.ts';
import type { ModelConfig } from '../../src/model/config.ts';
import { forwardCpu } from '../../src/model/cpu.ts';
import { initWeights } from '../../src/model/init.ts';
import { AyaModel } from '../../src/model/model.ts';
import { generate } from '../../src/model/generate.ts';
import { sequenceLogprobs } from '../../src/model/logprobs.ts';
import { Rng } from '../../src/util/rng.ts';
import { forwardTfjs, useCpuBackend } from './oracle/tfjsCohere.ts';
import { gpu } from './gpu.ts';

const config: ModelConfig = {
  vocabSize: 97,
  hiddenSize: 32,
  intermediateSize: 48,
  numHiddenLayers: 2,
  numAttentionHeads: 4,
  numKeyValueHeads: 2,
  maxPositionEmbeddings: 64,
  ropeTheta: 10000,
  layerNormEps: 1e-5,
  logitScale: 0.5,
  bosTokenId: 1,
  eosTokenId: 2,
  padTokenId: 0,
};

// Larger-than-default init so logits vary a lot, and non-trivial norm weights so they are exercised.
const weights = initWeights(config, 11, 0.2);
const nrng = new Rng(5);
for (const [name, t] of weights) if (name.endsWith('norm.weight')) for (let i = 0; i < t.data.length; i++) t.data[i] = 1 + 0.3 * nrng.normal();

const rng = new Rng(3);
const seq = (n: number): number[] => Array.from({ length: n }, () => rng.int(config.vocabSize));
const ids = [seq(13), seq(13)];

describe('Aya-style model', () => {
  beforeAll(useCpuBackend);

  it('CPU reference forward agrees with an independent TensorFlow.js implementation', () => {
    const ours = forwardCpu(config, weights, ids);
    const oracle = forwardTfjs(config, weights, ids);
    expect(ours.shape).toEqual([2, 13, config.vocabSize]);
    expect(relativeError(ours.data, oracle)).toBeLessThan(1e-4);
  });

  it('GPU forward agrees with the CPU reference', async () => {
    const ctx = await gpu();
    const model = AyaModel.fromHost(ctx, config, weights);
    ctx.poisonOutputs = true;
    const logits = model.forward(ids);
    const got = await logits.read();
    ctx.poisonOutputs = false;
    expect(got.shape).toEqual([2, 13, config.vocabSize]);
    expect(relativeError(got.data, forwardCpu(config, weights, ids).data)).toBeLessThan(1e-4);
    logits.release();
    model.dispose();
  });

  it('KV-cache decoding gives the same logits as a full forward, and lastOnly the last row', async () => {
    const ctx = await gpu();
    const model = AyaModel.fromHost(ctx, config, weights);
    const full = (await model.forward([ids[0]]).read()).data;
    const v = config.vocabSize;
    const cache = model.createCache(1, 32);
    // Prefill 5 tokens (last row only), then decode the remaining 8 one at a time.
    const pre = model.forward([ids[0].slice(0, 5)], { cache, lastOnly: true });
    const preRow = (await pre.read()).data;
    expect(relativeError(preRow, full.subarray(4 * v, 5 * v))).toBeLessThan(1e-4);
    for (let i = 5; i < 13; i++) {
      const step = (await model.forward([[ids[0][i]]], { cache }).read()).data;
      expect(relativeError(step, full.subarray(i * v, (i + 1) * v)), `position ${i}`).toBeLessThan(1e-4);
    }
    expect(cache.length).toBe(13);
    cache.release();
    model.dispose();
  });

  it('batched KV-cache decoding matches per-sequence full forwards', async () => {
    const ctx = await gpu();
    const model = AyaModel.fromHost(ctx, config, weights);
    const full = (await model.forward(ids).read()).data;
    const cache = model.createCache(2, 16);
    model.forward(ids.map((r) => r.slice(0, 9)), { cache }).release();
    const step = (await model.forward(ids.map((r) => [r[9]]), { cache }).read()).data;
    const v = config.vocabSize;
    expect(relativeError(step.subarray(0, v), full.subarray(9 * v, 10 * v))).toBeLessThan(1e-4);
    expect(relativeError(step.subarray(v, 2 * v), full.subarray((13 + 9) * v, (13 + 10) * v))).toBeLessThan(1e-4);
    cache.release();
    model.dispose();
  });

  it('rejects out-of-vocabulary ids and over-long sequences', async () => {
    const ctx = await gpu();
    const model = AyaModel.fromHost(ctx, config, weights);
    expect(() => model.forward([[1, 97]])).toThrow(/outside the vocabulary/);
    const cache = model.createCache(1, 4);
    expect(() => model.forward([[1, 2, 3, 4, 5]], { cache })).toThrow(/exceed the cache capacity/);
    cache.release();
    model.dispose();
  });

  it('generation is deterministic by seed, and greedy decoding follows the full-forward arg-max', async () => {
    const ctx = await gpu();
    const model = AyaModel.fromHost(ctx, config, weights);
    const run = async (seed: number, temperature: number): Promise<number[]> => {
      const out: number[] = [];
      const it = generate(model, [1, 5, 9], { temperature, topK: 0, topP: 1, maxNewTokens: 6, seed });
      for await (const tok of it) out.push(tok.id);
      return out;
    };
    const a = await run(7, 1);
    expect(await run(7, 1)).toEqual(a);
    const others = await Promise.all([8, 9, 10].map((s) => run(s, 1)));
    expect(others.some((o) => o.join() !== a.join())).toBe(true);
    const greedy = await run(0, 0);
    const seq = [1, 5, 9];
    for (const id of greedy) {
      if (id === config.eosTokenId) break;
      const logits = (await model.forward([seq]).read()).data;
      const last = logits.subarray((seq.length - 1) * config.vocabSize);
      expect(id).toBe(last.indexOf(Math.max(...last)));
      seq.push(id);
    }
    model.dispose();
  });

  it('logprobs match a log-softmax of the CPU reference logits', async () => {
    const ctx = await gpu();
    const model = AyaModel.fromHost(ctx, config, weights);
    const seq = ids[0].slice(0, 6);
    const r = await sequenceLogprobs(model, seq);
    expect(r.logprobs[0]).toBeNull();
    const ref = forwardCpu(config, weights, [seq]).data;
    const v = config.vocabSize;
    for (let i = 1; i < seq.length; i++) {
      const row = Array.from(ref.subarray((i - 1) * v, i * v));
      const lse = Math.log(row.reduce((s, x) => s + Math.exp(x), 0));
      expect(r.logprobs[i]).toBeCloseTo(row[seq[i]] - lse, 4);
      expect(r.top10_mass[i]).toBeGreaterThan(0);
      expect(r.top10_mass[i]).toBeLessThanOrEqual(1 + 1e-9);
    }
    model.dispose();
  });
});
