import { describe, expect, it } from 'vitest';
import { logSoftmax, top10Stats } from '../../src/model/logprobs.ts';
import { DEFAULT_SAMPLING, rankedIds, sampleToken, type SamplingOptions, validateSampling } from '../../src/model/sample.ts';
import { generate } from '../../src/model/generate.ts';
import { Rng } from '../../src/util/rng.ts';
import type { GpuContext } from '../../src/gpu/context.ts';
import { hostTensor } from '../../src/gpu/host.ts';
import { gpu } from './gpu.ts';

describe('sampling', () => {
  const logits = [1, 3, 2, 3, -1];

  it('temperature 0 is arg-max, lowest id on ties', () => {
    expect(sampleToken(logits, { temperature: 0, topK: 0, topP: 1 }, 0.99)).toBe(1);
  });

  it('top-k 1 always returns the best token', () => {
    for (const u of [0, 0.3, 0.999]) expect(sampleToken(logits, { temperature: 1, topK: 1, topP: 1 }, u)).toBe(1);
  });

  it('walks the cumulative distribution with the uniform draw', () => {
    // probabilities ∝ e^1, e^3, e^2, e^3, e^-1, ranked 1, 3, 2, 0, 4
    const z = Math.exp(1) + 2 * Math.exp(3) + Math.exp(2) + Math.exp(-1);
    const p3 = Math.exp(3) / z;
    expect(sampleToken(logits, { temperature: 1, topK: 0, topP: 1 }, p3 * 0.5)).toBe(1);
    expect(sampleToken(logits, { temperature: 1, topK: 0, topP: 1 }, p3 * 1.5)).toBe(3);
    expect(sampleToken(logits, { temperature: 1, topK: 0, topP: 1 }, 0.9999)).toBe(4);
  });

  it('top-p keeps the smallest prefix reaching p', () => {
    // The two tied best tokens hold 0.79 of the mass; with top-p 0.75 token 2 can never be drawn.
    for (let u = 0; u < 1; u += 0.01) expect([1, 3]).toContain(sampleToken(logits, { temperature: 1, topK: 0, topP: 0.75 }, u));
  });

  it('rejects NaN logits', () => {
    expect(() => sampleToken([0, Number.NaN], { temperature: 1, topK: 0, topP: 1 }, 0.5)).toThrow(/NaN/);
  });

  it('top-10 entropy and mass: uniform over 10 of 10 tokens is log2(10) bits with mass 1', () => {
    const s = top10Stats(logSoftmax(new Array(10).fill(0.3)));
    expect(s.entropy).toBeCloseTo(Math.log2(10), 10);
    expect(s.mass).toBeCloseTo(1, 12);
    const twenty = top10Stats(logSoftmax(new Array(20).fill(0)));
    expect(twenty.mass).toBeCloseTo(0.5, 12);
    expect(twenty.entropy).toBeCloseTo(10 * 0.05 * Math.log2(20), 10);
  });
});

describe('min new tokens (HF min_new_tokens)', () => {
  // A stand-in model whose next-token logits (a real GPU tensor, ranked by the real sampler) always
  // favour <eos> (id 2): the generation loop's handling of min_new_tokens. Token 5 is second best.
  const fakeModel = (ctx: GpuContext) => {
    let length = 0;
    return {
      config: { eosTokenId: 2, maxPositionEmbeddings: 64 },
      createCache: () => ({ get length() { return length; }, release() {} }),
      forward: (batch: number[][]) => {
        length += batch[0].length;
        const row = new Float32Array(8).fill(0);
        row[2] = 10;
        row[5] = 5;
        return ctx.upload(hostTensor([1, 1, 8], row));
      },
    } as unknown as Parameters<typeof generate>[0];
  };
  const run = async (o: Partial<SamplingOptions>) => {
    const ids: number[] = [];
    const it = generate(fakeModel(await gpu()), [1, 3], { temperature: 0, topK: 0, topP: 1, maxNewTokens: 8, seed: 1, ...o });
    for (;;) {
      const r = await it.next();
      if (r.done) return { ids, reason: r.value };
      ids.push(r.value.id);
    }
  };

  it('suppresses <eos> until that many new tokens, then lets it through; capped by max new tokens', async () => {
    expect(await run({})).toEqual({ ids: [2], reason: 'eos' });
    expect(await run({ minNewTokens: 4 })).toEqual({ ids: [5, 5, 5, 5, 2], reason: 'eos' });
    expect(await run({ minNewTokens: 20, maxNewTokens: 3 })).toEqual({ ids: [5, 5, 5], reason: 'max-tokens' });
    // Sampled (not greedy): same seed, same tokens, and still no <eos> before 4.
    const a = await run({ minNewTokens: 4, temperature: 1.5, seed: 9 });
    expect(await run({ minNewTokens: 4, temperature: 1.5, seed: 9 })).toEqual(a);
    expect(a.ids.slice(0, 4)).not.toContain(2);
  });

  it('refuses a min new tokens that is not a whole number ≥ 0', () => {
    expect(() => validateSampling({ ...DEFAULT_SAMPLING, minNewTokens: -1 })).toThrow(/min new tokens/);
    expect(() => validateSampling({ ...DEFAULT_SAMPLING, minNewTokens: 1.5 })).toThrow(/min new tokens/);
    expect(DEFAULT_SAMPLING.minNewTokens).toBeGreaterThan(0);
  });

  it('the top-k selection ranks exactly as a full sort (ties by id, −inf, ±0)', () => {
    const rng = new Rng(5);
    for (let trial = 0; trial < 40; trial++) {
      const n = 1 + Math.floor(rng.uniform() * 300);
      const row = Array.from({ length: n }, () => {
        const u = rng.uniform();
        if (u < 0.1) return -Infinity;
        if (u < 0.15) return -0;
        return Math.round((rng.uniform() * 2 - 1) * 8) / 2;
      });
      const full = Array.from({ length: n }, (_, i) => i).sort((a, b) => row[b] - row[a] || a - b);
      for (const k of [1, 2, 7, 40, n - 1, n, n + 3]) if (k > 0) expect(rankedIds(row, k), `n ${n}, k ${k}`).toEqual(full.slice(0, k));
      expect(rankedIds(row, 0)).toEqual(full);
    }
  });
});
