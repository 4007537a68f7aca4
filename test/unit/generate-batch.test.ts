// Batched decoding: K samples of one prompt decoded together give, sequence by sequence, exactly
// the tokens (and stop reasons) of K separate generate() calls with the same seeds — on a zoo
// teacher, so sequences end at different steps and the batch shrinks as they do.
import { describe, expect, it } from 'vitest';
import { type BatchSequence, generate, generateBatch, rankingKey } from '../../src/model/generate.ts';
import { AyaModel } from '../../src/model/model.ts';
import type { SamplingOptions } from '../../src/model/sample.ts';
import { gpu } from './gpu.ts';
import { loadFolder } from './oracle/llamacpp.ts';

async function sequential(model: AyaModel, prompt: number[], sampling: Omit<SamplingOptions, 'seed'>, seed: number): Promise<BatchSequence> {
  const ids: number[] = [];
  const it = generate(model, prompt, { ...sampling, seed });
  for (;;) {
    const r = await it.next();
    if (r.done) return { ids, stop: r.value };
    ids.push(r.value.id);
  }
}

describe('generateBatch', () => {
  const settings: Array<[string, Omit<SamplingOptions, 'seed'>]> = [
    ['top-k/top-p sampling, eos allowed at once', { temperature: 0.9, topK: 40, topP: 0.95, maxNewTokens: 24, minNewTokens: 0 }],
    ['min_new_tokens, then eos', { temperature: 1.2, topK: 8, topP: 1, maxNewTokens: 20, minNewTokens: 6 }],
    ['top-k off (host ranking of the full rows)', { temperature: 1, topK: 0, topP: 0.9, maxNewTokens: 12, minNewTokens: 0 }],
    ['greedy', { temperature: 0, topK: 40, topP: 1, maxNewTokens: 10 }],
  ];
  for (const [[what, sampling], path] of settings.flatMap((s) => (['gpu', 'host'] as const).map((p) => [s, p] as const))) {
    it(`matches sequential generation sequence by sequence: ${what}, ranked on the ${path}`, async () => {
      const ctx = await gpu();
      // Both ranking paths, whichever this device measures faster.
      ctx.choices.clear();
      for (let rows = 1; rows <= 6; rows++) ctx.choices.set(rankingKey(rows, 4096, sampling.temperature === 0 ? 1 : sampling.topK), path);
      const m = await loadFolder('public/models/teacher-romance', 'teacher-romance');
      const model = AyaModel.fromHost(ctx, m.folder.config, m.folder.weights);
      const prompt = m.tok.encodePrompt('Toute personne a droit au travail', 'fra');
      const seeds = [3, 17, 4, 99, 5, 12];
      const tokens: Array<[number, number]> = [];
      const batch = await generateBatch(model, prompt, sampling, seeds, undefined, (s, t) => tokens.push([s, t.index]));
      for (let i = 0; i < seeds.length; i++) expect(batch[i], `seed ${seeds[i]}`).toEqual(await sequential(model, prompt, sampling, seeds[i]));
      expect(tokens.length).toBe(batch.reduce((n, b) => n + b.ids.length, 0));
      if (sampling.temperature > 0 && sampling.topK !== 0) {
        // The case is a real one: sequences differ and end at different steps.
        expect(new Set(batch.map((b) => b.ids.join())).size).toBeGreaterThan(1);
        expect(new Set(batch.map((b) => b.ids.length)).size).toBeGreaterThan(1);
      }
      expect(ctx.choices.size).toBe(6); // nothing was measured: the forced path ran
      model.dispose();
    });
  }

  it('stops every sequence when cancelled, and handles no seeds', async () => {
    const ctx = await gpu();
    const m = await loadFolder('public/models/teacher-romance', 'teacher-romance');
    const model = AyaModel.fromHost(ctx, m.folder.config, m.folder.weights);
    const prompt = m.tok.encodePrompt('Hola', 'spa');
    let steps = 0;
    const out = await generateBatch(model, prompt, { temperature: 1, topK: 40, topP: 1, maxNewTokens: 30, minNewTokens: 30 }, [1, 2], () => steps++ >= 3);
    expect(out.map((o) => o.stop)).toEqual(['cancelled', 'cancelled']);
    expect(out.map((o) => o.ids.length)).toEqual([3, 3]);
    expect(await generateBatch(model, prompt, { temperature: 1, topK: 40, topP: 1, maxNewTokens: 4 }, [])).toEqual([]);
    model.dispose();
  });
});
