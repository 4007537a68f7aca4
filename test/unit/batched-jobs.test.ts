// The jobs that sample many completions of one prompt (arbitrage's samples per teacher, Evaluate's
// samples) decode them together, and every completion is still exactly the text a sample job gives
// for its seed.
import { afterAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.ts';
import { nodePlatform } from '../../src/cli/platform.ts';
import { rankingKey } from '../../src/model/generate.ts';
import { memoryStore } from './memoryStore.ts';

describe('batched sampling in jobs', () => {
  const engine = new Engine({ ...nodePlatform, models: memoryStore() });
  afterAll(() => engine.dispose());
  const sampling = { maxNewTokens: 6, temperature: 1, topK: 40, topP: 0.95 };
  const alone = async (modelId: string, prompt: string, lang: string, seed: number) => (await engine.start('sample', { modelId, prompt, lang, sampling: { ...sampling, seed } }).result()).text;

  it('arbitrage with 3 samples per teacher: one batch per teacher and prompt, the same texts', async () => {
    const a = await engine.createModel({ name: 'a', preset: 'tiny', seed: 5 });
    const b = await engine.createModel({ name: 'b', preset: 'tiny', seed: 6 });
    const ctx = await engine.core.device.context();
    ctx.choices.clear();
    const r = await engine.start('arbitrage', { teachers: [a.id, b.id], prompts: { source: { kind: 'udhr', split: 'train' }, languages: ['fra'], perLanguage: 2 }, strategy: 'reward', samplesPerTeacher: 3, seed: 2, sampling }).result();
    expect(r.generations).toHaveLength(12);
    // The ranking of 3 rows at once was measured: the samples were decoded as a batch.
    expect(ctx.choices.has(rankingKey(3, a.config.vocabSize, 40))).toBe(true);
    for (const g of r.generations) expect(g.completion, `${g.teacher} sample ${g.sample}`).toBe(await alone(g.teacher, g.prompt, g.language, g.seed));
    expect(new Set(r.generations.map((g) => g.completion)).size).toBeGreaterThan(6);
  });

  it('evaluate with 3 samples: A and B each decode a prompt’s samples together, the same texts', async () => {
    const [a, b] = (await engine.listModels()).filter((m) => m.name === 'a' || m.name === 'b');
    const ctx = await engine.core.device.context();
    ctx.choices.clear();
    const r = await engine.start('evaluate', { a: a.id, b: b.id, prompts: { source: { kind: 'udhr', split: 'heldout' }, languages: ['fra'], perLanguage: 2 }, samples: 3, seed: 4, sampling, bootstrap: 1000 }).result();
    expect(r.transcripts).toHaveLength(6);
    expect(ctx.choices.has(rankingKey(3, a.config.vocabSize, 40))).toBe(true);
    for (const t of r.transcripts) {
      expect(t.a.completion).toBe(await alone(a.id, t.prompt, t.language, t.seed));
      expect(t.b.completion).toBe(await alone(b.id, t.prompt, t.language, t.seed));
    }
  });
});
