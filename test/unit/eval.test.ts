import { describe, expect, it } from 'vitest';
import { evalCsv, MIN_PROMPTS_TO_CALL, percentile, runHeadToHead, summarizeEval, type Transcript, wilsonInterval, winRate } from '../../src/eval/headToHead.ts';
import type { Arbiter } from '../../src/arbiter/arbiter.ts';
import type { Verdict } from '../../src/arbiter/arbiter.ts';

const t = (promptId: string, verdict: Verdict, language = 'fra'): Transcript => ({
  promptId,
  language,
  prompt: 'p',
  sample: 0,
  seed: 0,
  a: { completion: '', reward: verdict === 'a' ? 1 : 0, components: { language: 0, fluency: 0, adequacy: null } },
  b: { completion: '', reward: verdict === 'b' ? 1 : 0, components: { language: 0, fluency: 0, adequacy: null } },
  verdict,
});

describe('win-rate and bootstrap interval', () => {
  it('counts ties as half: 3 wins, 1 tie, 1 loss → 0.7', () => {
    const w = winRate([t('1', 'a'), t('2', 'a'), t('3', 'a'), t('4', 'tie'), t('5', 'b')], 1000, 1);
    expect([w.wins, w.ties, w.losses, w.n, w.prompts]).toEqual([3, 1, 1, 5, 5]);
    expect(w.winRate).toBeCloseTo(0.7, 12);
    expect(w.ci[0]).toBeLessThanOrEqual(0.7);
    expect(w.ci[1]).toBeGreaterThanOrEqual(0.7);
    expect(w.ci[0]).toBeGreaterThanOrEqual(0);
    expect(w.ci[1]).toBeLessThanOrEqual(1);
  });

  it('is seeded (same interval twice), degenerate when every comparison agrees, and narrows with more prompts', () => {
    const few = Array.from({ length: 10 }, (_, i) => t(String(i), i % 2 ? 'a' : 'b'));
    const many = Array.from({ length: 400 }, (_, i) => t(String(i), i % 2 ? 'a' : 'b'));
    expect(winRate(few, 1000, 7).ci).toEqual(winRate(few, 1000, 7).ci);
    // The bootstrap alone collapses when every prompt agrees; the reported interval does not.
    expect(winRate([t('1', 'a'), t('2', 'a')], 1000, 1).ciBootstrap).toEqual([1, 1]);
    const wf = winRate(few, 2000, 1);
    const wm = winRate(many, 2000, 1);
    expect(wm.ci[1] - wm.ci[0]).toBeLessThan((wf.ci[1] - wf.ci[0]) / 3);
    // Normal approximation for 400 fair coins: ±1.96·0.025 ≈ ±0.049.
    expect(wm.ci[0]).toBeGreaterThan(0.43);
    expect(wm.ci[1]).toBeLessThan(0.57);
  });

  it('resamples prompts, keeping a prompt’s samples together', () => {
    // Each prompt has one win and one loss: every resample has rate exactly 0.5.
    const ts = ['x', 'y', 'z'].flatMap((id) => [t(id, 'a'), { ...t(id, 'b'), sample: 1 }]);
    const w = winRate(ts, 1000, 3);
    expect(w.prompts).toBe(3);
    expect(w.ciBootstrap).toEqual([0.5, 0.5]);
    // Wilson over the 3 prompts (each scoring a half) is as wide as 3 prompts deserve.
    expect(w.ciWilson[0]).toBeCloseTo(wilsonInterval(1.5, 3)[0], 12);
    expect(w.ci[0]).toBeLessThan(0.15);
    expect(w.ci[1]).toBeGreaterThan(0.85);
  });

  it('stays honest at small n: 4 wins of 4 is not "100% – 100%", and no winner is called', () => {
    const w = winRate(['1', '2', '3', '4'].map((id) => t(id, 'a')), 2000, 1);
    expect(w.winRate).toBe(1);
    expect(w.ciBootstrap).toEqual([1, 1]);
    expect(w.ci[0]).toBeLessThan(0.6); // Wilson: 51.0%
    expect(w.ci[0]).toBeCloseTo(0.5101, 3);
    expect(w.ci[1]).toBe(1);
    expect(w.verdict).toBe('too-few');
    // Wilson's textbook values: 8 of 10 gives [0.490, 0.943].
    const [lo, hi] = wilsonInterval(8, 10);
    expect(lo).toBeCloseTo(0.4902, 4);
    expect(hi).toBeCloseTo(0.9433, 4);
    // From MIN_PROMPTS_TO_CALL prompts on, a clear result is called, and an even one is not.
    const many = Array.from({ length: MIN_PROMPTS_TO_CALL }, (_, i) => t(String(i), 'a'));
    expect(winRate(many, 2000, 1).verdict).toBe('a');
    expect(winRate(many.map((x) => ({ ...x, verdict: 'b' as const })), 2000, 1).verdict).toBe('b');
    expect(winRate(Array.from({ length: 40 }, (_, i) => t(String(i), i % 2 ? 'a' : 'b')), 2000, 1).verdict).toBe('none');
  });

  it('percentile interpolates like numpy', () => {
    expect(percentile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(percentile([0, 10], 0.025)).toBeCloseTo(0.25, 12);
  });

  it('summarises per language and overall, and writes CSV', () => {
    const r = summarizeEval({ a: 'A', b: 'B', samples: 1, seed: 1, sampling: { temperature: 1, topK: 0, topP: 1, maxNewTokens: 4 }, bootstrap: 1000 }, { a: 'Model A', b: 'Model "B"' }, 'reference', [t('1', 'a'), t('2', 'b', 'rus'), t('3', 'tie', 'rus')], false);
    expect(r.perLanguage.fra.winRate).toBe(1);
    expect(r.perLanguage.rus.winRate).toBe(0.25);
    expect(r.overall.winRate).toBeCloseTo(0.5, 12);
    const csv = evalCsv(r).trim().split('\n');
    expect(csv[0]).toBe('language,model_a,model_b,n,prompts,wins,ties,losses,win_rate,ci_low,ci_high,mean_reward_a,mean_reward_b,verdict,ci_bootstrap_low,ci_bootstrap_high,ci_wilson_low,ci_wilson_high,judge');
    expect(csv[1].startsWith('fra,Model A,"Model ""B""",1,1,1,0,0,1,0.206549,1,')).toBe(true);
    expect(csv[1]).toContain(',too-few,1,1,0.206549,1');
    expect(r.interval).toMatch(/Wilson/);
    expect(csv.at(-1)!.startsWith('overall,')).toBe(true);
  });
});

describe('runHeadToHead', () => {
  const arbiter: Arbiter & { tieMargin: number } = {
    name: 'length',
    weights: { language: 1, fluency: 0, adequacy: 0 },
    tieMargin: 0,
    score: (_p, c) => ({ reward: c.length / 10, components: { language: c.length / 10, fluency: null, adequacy: null }, details: { detectedLanguage: 'und', logProbPerChar: null, chrF: null, chars: c.length } }),
    judge: () => 'tie',
  };
  const prompts = [
    { id: 'fra-1', prompt: 'a', language: 'fra' },
    { id: 'rus-1', prompt: 'b', language: 'rus' },
  ];
  const spec = { a: 'long', b: 'short', samples: 2, seed: 5, sampling: { temperature: 1, topK: 0, topP: 1, maxNewTokens: 4 }, bootstrap: 1000 };

  it('gives A and B the same seed per prompt and sample, and judges every pair', async () => {
    const seen: Array<[string, number]> = [];
    const r = await runHeadToHead(prompts, spec, { a: 'Long', b: 'Short' }, {
      arbiter,
      generate: async (m, _p, o) => {
        seen.push([m, o.seed]);
        return m === 'long' ? 'xxxxx' : 'x';
      },
    });
    expect(r.transcripts).toHaveLength(4);
    expect(r.overall.wins).toBe(4);
    for (let i = 0; i < seen.length; i += 2) expect(seen[i][1]).toBe(seen[i + 1][1]);
    expect(new Set(seen.map((s) => s[1])).size).toBe(4);
    // A cancel while B generates: that comparison is dropped, not judged on cut-off text.
    let stop = false;
    const partial = await runHeadToHead(prompts, spec, { a: 'Long', b: 'Short' }, {
      arbiter,
      shouldStop: () => stop,
      generate: async (m) => {
        if (m === 'short' && seen.length > 0) stop = true;
        seen.push([m, 0]);
        return m === 'long' ? 'xxxxx' : 'x';
      },
    });
    expect(partial.cancelled).toBe(true);
    expect(partial.transcripts).toHaveLength(0);
    await expect(runHeadToHead(prompts, { ...spec, bootstrap: 100 }, { a: '', b: '' }, { arbiter, generate: async () => '' })).rejects.toThrow(/at least 1000/);
  });
});
