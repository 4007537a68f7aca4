// The Engine contract, run twice: in process, and through `serve` (the desktop runtime) over a real
// WebSocket on 127.0.0.1. Every test records what it saw; the last test checks that both
// transports gave identical results for identical seeds.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryStore } from './memoryStore.ts';
import { Engine } from '../../src/engine/engine.ts';
import type { EngineApi, TrainEvent } from '../../src/engine/api.ts';
import type { RemoteEngineApi } from '../../src/engine/protocol.ts';
import { wsClient } from './runtimeClient.ts';
import { nodePlatform } from '../../src/cli/platform.ts';
import { startRuntime } from '../../src/runtime/server.ts';
import { readModelFolder } from '../../src/model/folder.ts';

interface Side {
  name: string;
  api: EngineApi;
  /** A second client of the same engine (for re-attaching). */
  second(): EngineApi;
  close(): Promise<void>;
}

async function inProcess(): Promise<Side> {
  const engine = new Engine({ ...nodePlatform, models: memoryStore() });
  return { name: 'in process', api: engine, second: () => engine, close: async () => engine.dispose() };
}

async function throughServe(): Promise<Side> {
  // The library folder is called "lib", so model ids are "lib/<name>" on both sides.
  const lib = join(mkdtempSync(join(tmpdir(), 'aya-contract-')), 'lib');
  mkdirSync(lib);
  const runtime = await startRuntime({ port: 0, roots: [lib], zooDir: null, appDir: null });
  const api = wsClient(runtime);
  await api.connection.ready();
  const others: RemoteEngineApi[] = [];
  return {
    name: 'through serve over a WebSocket',
    api,
    second: () => {
      const c = wsClient(runtime);
      others.push(c);
      return c;
    },
    close: async () => {
      for (const c of [api, ...others]) c.close();
      await runtime.close();
    },
  };
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
/** test → transport → what it saw */
const seen: Record<string, Record<string, unknown>> = {};
const record = (test: string, side: string, value: unknown) => ((seen[test] ??= {})[side] = value);

const sampling = { temperature: 1, topK: 0, topP: 1, maxNewTokens: 6, seed: 9 };
const train = (modelId: string, name: string, steps: number) => ({ modelId, name, mix: [{ language: 'fra', weight: 1 }], useCorpus: true, steps, batchSize: 2, seqLen: 16, lr: 3e-3, seed: 1, evalEvery: 2, checkpointEvery: 2 });

describe.each([
  ['in process', inProcess],
  ['through serve over a WebSocket', throughServe],
] as const)('Engine contract, %s', (sideName, make) => {
  let side: Side;
  let api: EngineApi;
  const ids: Record<string, string> = {};
  beforeAll(async () => {
    side = await make();
    api = side.api;
  });
  afterAll(async () => side?.close());

  it('models: create, list, export, import again; a malformed folder is refused naming the file', async () => {
    const m = await api.createModel({ name: 'tiny one', preset: 'tiny', seed: 5, outId: 'lib/tiny-one' });
    const n = await api.createModel({ name: 'tiny two', preset: 'tiny', seed: 6, outId: 'lib/tiny-two' });
    expect([m.id, n.id]).toEqual(['lib/tiny-one', 'lib/tiny-two']);
    ids.a = m.id;
    ids.b = n.id;
    expect(m.trained).toBe(false);
    expect(m.config.hiddenSize).toBe(64);
    expect((await api.listModels()).map((x) => x.id)).toEqual(expect.arrayContaining([m.id, n.id]));
    const files = await api.exportModel(m.id);
    expect(files).toBeInstanceOf(Map);
    const again = await api.importModel('re-imported', files);
    expect(again.parameters).toBe(m.parameters);
    expect(again.origin).toBe('imported');
    const broken = new Map(files);
    broken.set('config.json', new TextEncoder().encode('{"hidden_size": 64,'));
    await expect(api.importModel('broken', broken)).rejects.toThrow(/config\.json/);
    expect((await api.listModels()).some((x) => x.name === 'broken')).toBe(false);
    record('models', sideName, { weights: sha(files.get('model.safetensors')!), reimported: sha((await api.exportModel(again.id)).get('model.safetensors')!) });
  });

  it('sample: tokens stream as events; the same seed gives the same text', async () => {
    const job = api.start('sample', { modelId: ids.a, prompt: 'Tous les êtres humains', lang: 'fra', sampling });
    const streamed: string[] = [];
    job.on((e) => streamed.push(e.delta));
    const a = await job.result();
    const b = await api.start('sample', { modelId: ids.a, prompt: 'Tous les êtres humains', lang: 'fra', sampling }).result();
    expect(a.ids).toHaveLength(6);
    expect(b.ids).toEqual(a.ids);
    expect(streamed.join('')).toBe(a.text.slice(0, streamed.join('').length));
    expect(a.promptIds.slice(0, 2)).toEqual([1, 3 + 5]); // <bos>, <lang:fra>
    record('sample', sideName, a.ids);
  });

  it('cancel: a cancelled job ends "cancelled" with its partial result', async () => {
    const job = api.start('sample', { modelId: ids.a, prompt: 'Hello', lang: 'eng', sampling: { ...sampling, maxNewTokens: 50, seed: 1 } });
    let streamed = 0;
    job.on((e) => {
      streamed++;
      if (e.index === 1) void job.cancel();
    });
    const o = await job.outcome;
    expect(o.status).toBe('cancelled');
    if (o.status !== 'cancelled') return;
    expect(o.result?.stopReason).toBe('cancelled');
    // Over a socket the cancel may land a token or two later; the partial result is what streamed.
    expect(o.result!.ids.length).toBeGreaterThanOrEqual(2);
    expect(o.result!.ids.length).toBeLessThan(50);
    expect(o.result!.ids.length).toBe(streamed);
    await expect(job.result()).rejects.toThrow(/cancelled/);
    const jobs = await api.jobs();
    expect(jobs.find((j) => j.id === job.id)?.state).toBe('cancelled');
  });

  it('train: steps, evaluations and checkpoints as events; the result is a new trained model', async () => {
    const job = api.start('train', train(ids.a, 'trained-fra', 4));
    const events: string[] = [];
    const losses: number[] = [];
    job.on((e: TrainEvent) => {
      events.push(e.type === 'step' ? `step ${e.point.step}` : e.type === 'checkpoint' ? `checkpoint ${e.step}` : e.type);
      if (e.type === 'step') losses.push(e.point.loss);
    });
    const r = await job.result();
    expect(r.stopped).toBe('done');
    expect(events).toEqual(['step 1', 'step 2', 'eval', 'checkpoint 2', 'step 3', 'step 4', 'eval']);
    expect(r.model?.trained).toBe(true);
    const pg = r.model!.playground as { training: { steps_done: number; status: string }; parent: { id: string } };
    expect(pg.training.steps_done).toBe(4);
    expect(pg.training.status).toBe('complete');
    expect(pg.parent.id).toBe(ids.a);
    ids.trained = r.model!.id;
    // A second client re-attaches to the finished job and sees its whole history.
    const again = await side.second().attach<'train'>(job.id);
    const replay: string[] = [];
    again.on((e) => replay.push(e.type));
    expect((await again.outcome).status).toBe('done');
    expect(replay).toEqual(['step', 'step', 'eval', 'checkpoint', 'step', 'step', 'eval']);
    record('train', sideName, { losses, weights: sha((await api.exportModel(r.model!.id)).get('model.safetensors')!) });
  });

  it('pause and resume: a paused job makes no steps until it is resumed', async () => {
    const job = api.start('train', { ...train(ids.a, 'paused-run', 3), evalEvery: 0, checkpointEvery: 0 });
    const events: string[] = [];
    let pausedAt = -1;
    const paused = new Promise<void>((res) =>
      job.on((e) => {
        events.push(e.type === 'step' ? `step ${e.point.step}` : e.type);
        if (e.type === 'step' && e.point.step === 1) void job.pause();
        if (e.type === 'paused') {
          pausedAt = events.length;
          res();
        }
      }),
    );
    await paused;
    await new Promise((r) => setTimeout(r, 400));
    expect(events.length).toBe(pausedAt); // nothing happened while paused
    expect((await api.jobs()).find((j) => j.id === job.id)?.state).toBe('paused');
    await job.resume();
    const r = await job.result();
    expect(r.steps).toBe(3);
    // The pause lands before the next step (over a socket, maybe one step later); then the rest.
    const steps = events.filter((e) => e.startsWith('step'));
    expect(steps).toEqual(['step 1', 'step 2', 'step 3']);
    expect(events.indexOf('resumed')).toBe(events.indexOf('paused') + 1);
    expect(events.at(-1)).toBe('eval'); // the final held-out evaluation
  });

  it('dpo: offline steps with TRL metrics; each stage saved', async () => {
    const pairs = [
      { prompt: 'Tous les êtres', chosen: ' humains naissent libres', rejected: ' zzz qqq', language: 'fra' },
      { prompt: 'All human beings', chosen: ' are born free', rejected: ' xx yy', language: 'eng' },
    ];
    const job = api.start('dpo', {
      modelId: ids.a,
      name: 'dpo-run',
      mode: 'offline',
      pairs,
      loss: 'sigmoid',
      beta: 0.1,
      lr: 1e-3,
      batchPairs: 2,
      seqLen: 24,
      seed: 3,
      offlineSteps: 2,
      onlineSteps: 0,
      iterations: 0,
      samplesPerPrompt: 2,
      sampling: { maxNewTokens: 4, temperature: 1, topK: 0, topP: 1 },
      evalEvery: 0,
    });
    const r = await job.result();
    expect(r.stopped).toBe('done');
    expect(r.steps).toHaveLength(2);
    expect(r.models.map((m) => m.stage)).toEqual(['offline']);
    record('dpo', sideName, r.steps.map((s) => [s.loss, s['rewards/margins']]));
  });

  it('arbitrage: reward-based routing keeps the best teacher per prompt', async () => {
    const job = api.start('arbitrage', {
      teachers: [ids.a, ids.b],
      prompts: { source: { kind: 'udhr', split: 'train' }, languages: ['fra'], perLanguage: 2 },
      strategy: 'reward',
      samplesPerTeacher: 1,
      seed: 2,
      sampling: { maxNewTokens: 4, temperature: 1, topK: 0, topP: 1 },
    });
    let progress = 0;
    job.on(() => progress++);
    const r = await job.result();
    expect(r.generations).toHaveLength(4);
    expect(progress).toBe(4);
    expect(r.outcomes).toHaveLength(2);
    record('arbitrage', sideName, r.outcomes.map((o) => [ids.a === o.best.teacher ? 'a' : 'b', o.best.reward, o.best.completion]));
  });

  it('merge: a linear merge of two models is saved as a new model', async () => {
    const job = api.start('merge', { config: { method: 'linear', models: [{ model: ids.a, parameters: { weight: 0.5 } }, { model: ids.b, parameters: { weight: 0.5 } }] }, name: 'merged' });
    let last = 0;
    job.on((p) => (last = p.fraction));
    const r = await job.result();
    expect(last).toBe(1);
    expect(r.model.files).toContain('mergekit_config.yml');
    const folder = readModelFolder(await api.exportModel(r.model.id), 'merged');
    record('merge', sideName, Object.fromEntries([...folder.weights].map(([name, t]) => [name, sha(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength))])));
  });

  it('evaluate: head-to-head win/tie/loss with a seeded interval', async () => {
    const r = await api.start('evaluate', { a: ids.trained, b: ids.b, prompts: { source: { kind: 'udhr', split: 'heldout' }, languages: ['fra'], perLanguage: 2 }, samples: 1, seed: 4, sampling: { maxNewTokens: 4, temperature: 1, topK: 0, topP: 1 }, bootstrap: 1000 }).result();
    expect(r.overall.n).toBe(2);
    expect(r.transcripts).toHaveLength(2);
    record('evaluate', sideName, { overall: r.overall, completions: r.transcripts.map((t) => [t.a.completion, t.b.completion]) });
  });

  it('a failed job ends "failed" with the error; an unknown job cannot be attached', async () => {
    const o = await api.start('sample', { modelId: 'no-such-model', prompt: 'x', lang: 'fra', sampling }).outcome;
    expect(o.status).toBe('failed');
    await expect(api.attach('never-started')).rejects.toThrow(/no job 'never-started'/);
  });
});

describe('both transports', () => {
  it('gave identical results for identical seeds', () => {
    const tests = ['models', 'sample', 'train', 'dpo', 'arbitrage', 'merge', 'evaluate'];
    for (const t of tests) {
      const [a, b] = ['in process', 'through serve over a WebSocket'].map((s) => seen[t]?.[s]);
      expect(a, `${t}: in process`).toBeDefined();
      expect(b, `${t}: through serve`).toEqual(a);
    }
  });
});
