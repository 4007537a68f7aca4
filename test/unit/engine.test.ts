import { memoryStore } from './memoryStore.ts';
import { afterAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.ts';
import { nodePlatform } from '../../src/cli/platform.ts';
import { TextStream } from '../../src/tokenizer/stream.ts';


const store = memoryStore();
const engine = new Engine({ ...nodePlatform, models: store });
afterAll(() => engine.dispose());

describe('Engine models and sampling', () => {
  it('creates an untrained model, lists it, and samples the same text for the same seed', async () => {
    const m = await engine.createModel('tiny one', 'tiny', 5);
    expect(m.trained).toBe(false);
    expect(m.config.hiddenSize).toBe(64);
    expect((await engine.listModels()).map((x) => x.id)).toContain(m.id);
    const opts = { temperature: 1, topK: 0, topP: 1, maxNewTokens: 6, seed: 9 };
    const streamed: string[] = [];
    const a = await engine.sample('j1', m.id, 'Tous les êtres humains', 'fra', opts, (e) => streamed.push(e.delta));
    const b = await engine.sample('j2', m.id, 'Tous les êtres humains', 'fra', opts);
    expect(a.ids).toHaveLength(6);
    expect(b.ids).toEqual(a.ids);
    expect(b.text).toBe(a.text);
    expect(streamed.join('')).toBe(a.text.slice(0, streamed.join('').length));
    expect(a.promptIds.slice(0, 2)).toEqual([1, 3 + 5]); // <bos>, <lang:fra> (fra is the 6th language)
  });

  it('a second model made with the same preset and seed has identical weights', async () => {
    const [x, y] = await Promise.all([engine.createModel('x', 'tiny', 77), engine.createModel('y', 'tiny', 77)]);
    const fx = await engine.exportModel(x.id);
    const fy = await engine.exportModel(y.id);
    const same = Buffer.from(fx.get('model.safetensors')!).equals(Buffer.from(fy.get('model.safetensors')!));
    expect(same).toBe(true);
  });

  it('exports a folder that imports again, and rejects a malformed one naming the problem', async () => {
    const m = (await engine.listModels())[0];
    const files = await engine.exportModel(m.id);
    const again = await engine.importModel('re-imported', files);
    expect(again.parameters).toBe(m.parameters);
    expect(again.origin).toBe('imported');
    expect(again.trained).toBe(false); // playground.json travels with the folder

    const broken = new Map(files);
    broken.set('config.json', new TextEncoder().encode('{"hidden_size": 64,'));
    await expect(engine.importModel('broken', broken)).rejects.toThrow(/config\.json/);
    const truncated = new Map(files);
    const st = files.get('model.safetensors')!;
    truncated.set('model.safetensors', st.subarray(0, st.length - 100));
    await expect(engine.importModel('truncated', truncated)).rejects.toThrow(/model\.safetensors/);
    expect((await engine.listModels()).some((x) => x.name === 'broken' || x.name === 'truncated')).toBe(false);
  });

  it('cancels a running generation', async () => {
    const m = (await engine.listModels())[0];
    const r = await engine.sample('cancel-me', m.id, 'Hello', 'eng', { temperature: 1, topK: 0, topP: 1, maxNewTokens: 50, seed: 1 }, (e) => {
      if (e.index === 1) engine.cancel('cancel-me');
    });
    expect(r.stopReason).toBe('cancelled');
    expect(r.ids.length).toBe(2);
  });

  it('held-out prompts and tokenization come from the corpus and the universal tokenizer', async () => {
    const prompts = await engine.prompts('heb');
    expect(prompts.length).toBeGreaterThan(5);
    expect(prompts.every((p) => p.article >= 23 && p.reference.length > 0)).toBe(true);
    const t = await engine.tokenize(null, prompts[0].prompt);
    expect(t.decoded).toBe(prompts[0].prompt);
    expect(t.ids.length).toBeGreaterThan(10);
    await expect(engine.prompts('xx')).rejects.toThrow(/unknown language/);
  });
});

describe('Engine training job', () => {
  it('trains a stored model, reports steps and checkpoints, and saves the result as a new trained model', async () => {
    const base = await engine.createModel('to-train', 'tiny', 8);
    const events: string[] = [];
    const r = await engine.train(
      'train-1',
      { modelId: base.id, name: 'trained-fra', mix: [{ language: 'fra', weight: 1 }], useCorpus: true, steps: 4, batchSize: 2, seqLen: 16, lr: 3e-3, seed: 1, evalEvery: 2, checkpointEvery: 2 },
      (e) => events.push(e.type === 'step' ? `step ${e.point.step}` : e.type === 'checkpoint' ? `checkpoint ${e.step}` : e.type),
    );
    expect(r.stopped).toBe('done');
    expect(r.steps).toBe(4);
    expect(events).toEqual(['step 1', 'step 2', 'eval', 'checkpoint 2', 'step 3', 'step 4', 'eval']);
    expect(r.model?.trained).toBe(true);
    expect(r.model?.origin).toBe('trained');
    const pg = r.model!.playground as { training: { steps_done: number; status: string }; held_out_loss: Record<string, number>; parent: { id: string } };
    expect(pg.training.steps_done).toBe(4);
    expect(pg.training.status).toBe('complete');
    expect(pg.parent.id).toBe(base.id);
    expect(pg.held_out_loss.fra).toBeGreaterThan(0);
    // The base model is untouched; the trained one differs from it.
    const a = (await engine.exportModel(base.id)).get('model.safetensors')!;
    const b = (await engine.exportModel(r.model!.id)).get('model.safetensors')!;
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
  });

  it('a cancelled training job keeps what it trained so far', async () => {
    const base = (await engine.listModels()).find((m) => m.name === 'to-train')!;
    const r = await engine.train(
      'train-2',
      { modelId: base.id, name: 'cut-short', mix: [{ language: 'eng', weight: 1 }], useCorpus: true, steps: 50, batchSize: 2, seqLen: 16, lr: 3e-3, seed: 1, evalEvery: 0, checkpointEvery: 0 },
      (e) => {
        if (e.type === 'step' && e.point.step === 2) engine.cancel('train-2');
      },
    );
    expect(r.stopped).toBe('cancelled');
    expect(r.steps).toBe(2);
    expect((r.model!.playground as { training: { status: string } }).training.status).toBe('cancelled at step 2');
  });
});

describe('TextStream', () => {
  it('holds back an incomplete UTF-8 character until it is complete', () => {
    // Tokens that are single bytes of "é" (C3 A9) then "a".
    const bytes: Record<number, number[]> = { 1: [0xc3], 2: [0xa9], 3: [0x61] };
    const dec = new TextDecoder();
    const s = new TextStream((ids) => dec.decode(new Uint8Array(ids.flatMap((i) => bytes[i]))));
    expect(s.push(1)).toBe('');
    expect(s.push(2)).toBe('é');
    expect(s.push(3)).toBe('a');
    expect(s.text).toBe('éa');
  });
});
