import { describe, expect, it } from 'vitest';
import { logSoftmax, top10Stats } from '../../src/model/logprobs.ts';
import { sampleToken } from '../../src/model/sample.ts';

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
