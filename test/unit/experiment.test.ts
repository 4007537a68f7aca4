import { describe, expect, it } from 'vitest';
import { runArbitrage, type ArbitragePrompt, type TeacherInfo } from '../../src/arbitrage/arbitrage.ts';
import { experimentTable, runArbitrageExperiment, type ExperimentSpec } from '../../src/arbitrage/experiment.ts';
import { summarizeEval, type Transcript } from '../../src/eval/headToHead.ts';
import type { Arbiter } from '../../src/arbiter/arbiter.ts';

// Fake teachers write completions whose length is the reward; the fake SFT "student" remembers the
// mean reward of its data, and the fake evaluation lets the better-trained student win.
const arbiter: Arbiter = {
  name: 'length',
  weights: { language: 1, fluency: 0, adequacy: 0 },
  score: (_p, c) => ({ reward: c.length / 100, components: { language: c.length / 100, fluency: null, adequacy: null }, details: { detectedLanguage: 'und', logProbPerChar: null, chrF: null, chars: c.length } }),
  judge: () => 'tie',
};
const teachers: TeacherInfo[] = [
  { id: 'short', name: 'short', family: 'romance' },
  { id: 'long', name: 'long', family: 'slavic' },
];
const prompts: ArbitragePrompt[] = ['fra', 'rus'].flatMap((l) => [1, 2, 3].map((i) => ({ id: `${l}-${i}`, prompt: `p${i}`, language: l })));
const write = (teacher: string, p: ArbitragePrompt) => (teacher === 'long' ? 'x'.repeat(p.language === 'rus' ? 30 : 5) : 'x'.repeat(p.language === 'fra' ? 20 : 2));

describe('the arbitrage experiment', () => {
  it('runs reward-based first, picks the single best teacher from it, trains one student per strategy and compares each with the single-teacher student', async () => {
    const order: string[] = [];
    const quality = new Map<string, number>();
    const spec: ExperimentSpec = {
      teachers,
      student: { id: 'student', name: 'student' },
      strategies: ['random', 'single', 'fixed', 'reward'],
      samplesPerTeacher: 1,
      seed: 1,
      sampling: { temperature: 1, topK: 0, topP: 1, maxNewTokens: 8 },
      sft: { steps: 1, batchSize: 1, seqLen: 8, lr: 1e-3 },
      evalSamples: 1,
      bootstrap: 1000,
    };
    const r = await runArbitrageExperiment(prompts, spec, {
      shouldStop: () => false,
      arbitrage: async (s) => {
        order.push(`arbitrage:${s.strategy}`);
        return runArbitrage(prompts, s, { arbiter, generate: async (t, p) => write(t, p) });
      },
      sft: async (strategy, pairs) => {
        order.push(`sft:${strategy}`);
        quality.set(strategy, pairs.reduce((s, p) => s + p.completion.length, 0));
        return { id: `student-${strategy}`, name: strategy };
      },
      evaluate: async (a, b) => {
        order.push(`eval:${a.name}`);
        const qa = quality.get(a.name)!;
        const qb = quality.get(b.name)!;
        const ts: Transcript[] = prompts.map((p) => ({ promptId: p.id, language: p.language, prompt: p.prompt, sample: 0, seed: 0, a: { completion: '', reward: qa, components: { language: 0, fluency: 0, adequacy: null } }, b: { completion: '', reward: qb, components: { language: 0, fluency: 0, adequacy: null } }, verdict: qa > qb ? 'a' : qa < qb ? 'b' : 'tie' }));
        return summarizeEval({ a: a.id, b: b.id, samples: 1, seed: 1, sampling: spec.sampling, bootstrap: 1000 }, { a: a.name, b: b.name }, 'fake', ts, false);
      },
    });
    expect(order.slice(0, 4)).toEqual(['arbitrage:reward', 'arbitrage:random', 'arbitrage:single', 'arbitrage:fixed']);
    // mean reward: long = (5·3 + 30·3)/6 = 17.5/100, short = (20·3 + 2·3)/6 = 11/100.
    expect(r.singleTeacher).toBe('long');
    expect(r.rows.map((x) => x.strategy)).toEqual(['random', 'single', 'fixed', 'reward']);
    expect(r.rows.find((x) => x.strategy === 'single')!.vsSingle).toBeNull();
    const reward = r.rows.find((x) => x.strategy === 'reward')!;
    expect(reward.completions).toBe(12);
    expect(reward.vsSingle!.overall.winRate).toBe(1); // best-of-both (20, 30) beats always-long (5, 30)
    expect(r.rows.find((x) => x.strategy === 'fixed')!.completions).toBe(6);
    expect(experimentTable(r)).toContain('| reward | 12 |');
  });

  it('needs the single-teacher baseline', async () => {
    const deps = { shouldStop: () => false, arbitrage: async () => { throw new Error('no'); }, sft: async () => ({ id: '', name: '' }), evaluate: async () => { throw new Error('no'); } };
    await expect(runArbitrageExperiment(prompts, { strategies: ['reward'] } as unknown as ExperimentSpec, deps)).rejects.toThrow(/single-teacher strategy is the baseline/);
  });
});
