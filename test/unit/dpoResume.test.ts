// Resumable preference training (issue 15): a DPO stage's checkpoint and a cancelled stage keep
// AdamW's moments, the pair sampler's RNG, the online stage's sampled pairs and the run's curves;
// resuming finishes bit-identically to a run that never stopped — cut in the offline stage, in an
// online stage, and while a later stage samples (its start is a checkpoint).
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.ts';
import type { DpoRequest } from '../../src/engine/api.ts';
import type { PreferenceEvent } from '../../src/train/preference.ts';
import { nodePlatform } from '../../src/cli/platform.ts';
import { memoryStore } from './memoryStore.ts';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const engine = new Engine({ ...nodePlatform, models: memoryStore() });
afterAll(() => engine.dispose());

const pairs = [
  { prompt: 'Tous les êtres', chosen: ' humains naissent libres', rejected: ' zzz qqq', language: 'fra' },
  { prompt: 'All human beings', chosen: ' are born free', rejected: ' xx yy', language: 'eng' },
  { prompt: 'Toda persona', chosen: ' tiene derecho', rejected: ' jj kk', language: 'spa' },
];

const request = (modelId: string, name: string): DpoRequest => ({
  modelId,
  name,
  mode: 'offline+online',
  pairs,
  onlinePrompts: { source: { kind: 'udhr', split: 'train' }, languages: ['fra', 'eng'], perLanguage: 1 },
  evalPrompts: { source: { kind: 'udhr', split: 'heldout' }, languages: ['fra'], perLanguage: 1 },
  loss: 'sigmoid',
  beta: 0.1,
  lr: 1e-3,
  batchPairs: 2,
  seqLen: 24,
  seed: 5,
  offlineSteps: 4,
  onlineSteps: 3,
  iterations: 2,
  samplesPerPrompt: 3,
  sampling: { maxNewTokens: 6, minNewTokens: 2, temperature: 1, topK: 0, topP: 1 },
  evalEvery: 3,
  checkpointEvery: 2,
});

type Cut = (e: PreferenceEvent) => boolean;

async function run(req: DpoRequest, cutWhen?: Cut) {
  const job = engine.start('dpo', req);
  const steps: Array<[number, number, number]> = [];
  const evals: Array<[number, number, number]> = [];
  job.on((e: PreferenceEvent) => {
    if (e.type === 'step') steps.push([e.globalStep, e.point.loss, e.point['rewards/margins']]);
    if (e.type === 'eval') evals.push([e.globalStep, e.point.kl, e.point.meanReward]);
    if (cutWhen?.(e)) void job.cancel();
  });
  const outcome = await job.outcome;
  if (outcome.status === 'failed') throw new Error(`dpo failed: ${outcome.error}`);
  const r = outcome.result!;
  const weights = new Map<string, string>();
  for (const m of r.models) weights.set(m.stage, sha((await engine.exportModel(m.id)).get('model.safetensors')!));
  return { r, steps, evals, weights };
}

describe('resuming a preference (DPO) run', () => {
  let base: string;
  let straight: Awaited<ReturnType<typeof run>>;

  it('runs uninterrupted: three stages, no state left on any stage model', async () => {
    base = (await engine.createModel({ name: 'dpo resume base', preset: 'tiny', seed: 3 })).id;
    straight = await run(request(base, 'straight'));
    expect(straight.r.stopped).toBe('done');
    expect(straight.r.models.map((m) => m.stage)).toEqual(['offline', 'online 1', 'online 2']);
    expect(straight.steps.map(([g]) => g)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    for (const m of straight.r.models) {
      const files = await engine.exportModel(m.id);
      expect(files.has('optimizer.safetensors') || files.has('trainer_state.json')).toBe(false);
    }
  }, 300_000);

  // Cut at steps with no evaluation due (a cancel drops an evaluation it cuts short).
  const cuts: Array<[string, Cut, number]> = [
    // Step 1 drew 2 of the 3 pairs' permutation: the rest of it is part of the state.
    ['a cancel in the offline stage (step 1)', (e) => e.type === 'step' && e.globalStep === 1, 1],
    ['a cancel in online 2 (its step 1)', (e) => e.type === 'step' && e.globalStep === 8, 8],
    ['a cancel while online 2 samples (from its start checkpoint)', (e) => e.type === 'sampling' && e.stage === 'online 2', 7],
  ];
  for (const [what, cut, at] of cuts) {
    it(`${what}, then resume: the same steps, evaluations and stage weights`, async () => {
      const first = await run(request(base, 'cut'), cut);
      expect(first.r.stopped).toBe('cancelled');
      expect(first.steps.at(-1)![0]).toBe(at);
      // The model to resume from: the cut-short stage (saved on cancel) or the later stage's start checkpoint.
      const saved = await engine.listModels();
      const resumable = saved.filter((m) => (m.playground as { preference?: { resumable?: boolean } })?.preference?.resumable && m.name.startsWith('cut · '));
      expect(resumable).toHaveLength(1);
      const stage = resumable[0].name.split(' · ')[1];
      const second = await run({ ...request('nothing', 'ignored'), offlineSteps: 99, resumeFrom: resumable[0].id });
      expect(second.r.stopped).toBe('done');
      expect(second.steps[0][0]).toBe(at + 1);
      expect([...first.steps, ...second.steps]).toEqual(straight.steps);
      expect([...first.evals, ...second.evals]).toEqual(straight.evals);
      // The whole run's record comes back (stages before the cut from the state).
      expect(second.r.steps.map((s) => s.globalStep)).toEqual(straight.steps.map(([g]) => g));
      expect(second.r.models.map((m) => m.stage)).toEqual(['offline', 'online 1', 'online 2']);
      expect(second.r.models.find((m) => m.stage === stage)!.id).toBe(resumable[0].id); // saved in place
      expect(second.weights).toEqual(straight.weights);
      const files = await engine.exportModel(resumable[0].id);
      expect(files.has('optimizer.safetensors') || files.has('trainer_state.json')).toBe(false);
      for (const m of saved.filter((x) => x.name.startsWith('cut · '))) await engine.deleteModel(m.id);
      for (const m of second.r.models) if (!saved.some((x) => x.id === m.id)) await engine.deleteModel(m.id);
    }, 300_000);
  }

  it('refuses a finished stage, and an SFT checkpoint', async () => {
    await expect(engine.start('dpo', { ...request(base, 'x'), resumeFrom: straight.r.models[0].id }).result()).rejects.toThrow(/nothing to resume/);
    const sft = engine.start('train', { modelId: base, name: 'sft', mix: [{ language: 'fra', weight: 1 }], useCorpus: true, steps: 2, batchSize: 1, seqLen: 8, lr: 1e-3, seed: 1, evalEvery: 0, checkpointEvery: 0 });
    sft.on((e) => e.type === 'step' && void sft.cancel());
    const outcome = await sft.outcome;
    const cancelled = outcome.status === 'failed' ? null : outcome.result;
    expect(cancelled?.stopped).toBe('cancelled');
    await expect(engine.start('dpo', { ...request(base, 'x'), resumeFrom: cancelled!.model!.id }).result()).rejects.toThrow(/the state of a training \(SFT\) run; resume it as one/);
  }, 120_000);
});

describe('resuming a preference run after the CLI was killed', () => {
  const cli = (...args: string[]) => execFileSync('node', ['bin/aya-playground.js', ...args], { encoding: 'utf8', timeout: 240_000 });
  const dir = mkdtempSync(join(tmpdir(), 'aya-dpo-resume-cli-'));
  const data = join(dir, 'prefs.jsonl');
  const run = ['--mode', 'offline+online', '--data', data, '--steps', '2', '--online-steps', '3', '--iterations', '1', '--k', '3', '--batch', '2', '--seq', '16', '--langs', 'fra', '--per-language', '2', '--eval-per-language', '0', '--max-new-tokens', '6', '--min-new-tokens', '2', '--temperature', '1', '--seed', '4', '--checkpoint-every', '2'];

  it('SIGKILL after online 1 checkpoints its step 2, then dpo --resume: the weights of an uninterrupted run', async () => {
    writeFileSync(data, pairs.map((p) => JSON.stringify(p)).join('\n') + '\n');
    cli('create', '--out', join(dir, 'base'), '--size', 'tiny', '--seed', '6');
    cli('dpo', '--model', join(dir, 'base'), '--out', join(dir, 'straight'), ...run);

    const killed = join(dir, 'killed');
    const child = spawn('node', ['bin/aya-playground.js', 'dpo', '--model', join(dir, 'base'), '--out', killed, ...run, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const seen = await new Promise<string>((resolve) => {
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (/"type":"checkpoint","stage":"online 1","step":2/.test(out)) {
          child.kill('SIGKILL');
          resolve('checkpoint');
        }
      });
      child.on('exit', () => resolve(`exited before the checkpoint: ${out.slice(-300)}`));
    });
    expect(seen).toBe('checkpoint');
    await new Promise((r) => child.once('exit', r).listenerCount('exit') && setTimeout(r, 100));
    const stage = join(killed, 'online-1');
    expect(JSON.parse(readFileSync(join(stage, 'trainer_state.json'), 'utf8'))).toMatchObject({ step: 2, stage_index: 1 });

    expect(() => cli('dpo', '--resume', stage, '--steps', '9')).toThrow(/--resume continues a saved run with its own settings; drop --steps/);
    const lines = cli('dpo', '--resume', stage, '--json').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.filter((l) => l.type === 'step').map((l) => l.globalStep)).toEqual([5]);
    expect(lines.at(-1)).toMatchObject({ type: 'done', stopped: 'done' });
    for (const s of ['offline', 'online-1']) expect(sha(readFileSync(join(killed, s, 'model.safetensors')))).toBe(sha(readFileSync(join(dir, 'straight', s, 'model.safetensors'))));
    expect(existsSync(join(stage, 'optimizer.safetensors'))).toBe(false);
    expect(existsSync(join(stage, 'trainer_state.json'))).toBe(false);
  }, 600_000);
});
