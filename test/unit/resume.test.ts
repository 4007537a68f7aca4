// Resumable training (issue 15): a checkpoint and a cancelled run keep AdamW's moments, the data
// sampler's RNG and the curves; resuming finishes bit-identically to a run that never stopped —
// after a cancel in process, and after the CLI's process is killed (SIGKILL) past a checkpoint.
import { spawn, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.ts';
import type { TrainEvent, TrainRequest } from '../../src/engine/api.ts';
import { nodePlatform } from '../../src/cli/platform.ts';
import { memoryStore } from './memoryStore.ts';
import { Rng } from '../../src/util/rng.ts';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const engine = new Engine({ ...nodePlatform, models: memoryStore() });
afterAll(() => engine.dispose());

const request = (modelId: string, name: string): TrainRequest => ({ modelId, name, mix: [{ language: 'fra', weight: 2 }, { language: 'spa', weight: 1 }], useCorpus: true, steps: 6, batchSize: 2, seqLen: 16, lr: 3e-3, seed: 7, evalEvery: 2, checkpointEvery: 2 });

async function run(req: TrainRequest, cancelAfter?: number) {
  const job = engine.start('train', req);
  const losses: Array<[number, number]> = [];
  const evals: Array<[number, number]> = [];
  const continues: Array<Extract<TrainEvent, { type: 'continues' }>> = [];
  job.on((e: TrainEvent) => {
    if (e.type === 'continues') continues.push(e);
    if (e.type === 'step') {
      losses.push([e.point.step, e.point.loss]);
      if (e.point.step === cancelAfter) void job.cancel();
    }
    if (e.type === 'eval') evals.push([e.point.step, e.point.mean]);
  });
  const outcome = await job.outcome;
  const r = outcome.status === 'failed' ? null : outcome.result;
  if (!r) throw new Error(`train ended ${outcome.status}: ${outcome.status === 'failed' ? outcome.error : ''}`);
  return { r, losses, evals, continues, files: r.model ? await engine.exportModel(r.model.id) : null };
}

describe('resuming a training run', () => {
  it('the RNG continues from its saved state', () => {
    const a = new Rng(3);
    for (let i = 0; i < 5; i++) a.normal();
    const b = new Rng(3).restore(a.state());
    expect([b.normal(), b.u32(), b.uniform()]).toEqual([a.normal(), a.u32(), a.uniform()]);
    expect(() => new Rng(3).restore({ counter: -1, spare: null })).toThrow(/not an RNG state/);
  });

  it('a cancelled run resumes to the same weights, losses and evaluations as one that never stopped', async () => {
    const base = await engine.createModel({ name: 'resume base', preset: 'tiny', seed: 2 });
    const straight = await run(request(base.id, 'straight'));
    expect(straight.r.stopped).toBe('done');
    expect(straight.files!.has('optimizer.safetensors')).toBe(false); // a finished model has no optimizer state

    const cut = await run(request(base.id, 'interrupted'), 3);
    expect(cut.r.stopped).toBe('cancelled');
    expect(cut.r.steps).toBe(3);
    expect([...cut.files!.keys()]).toEqual(expect.arrayContaining(['optimizer.safetensors', 'trainer_state.json']));
    expect((cut.r.model!.playground as { training: { resumable: boolean } }).training.resumable).toBe(true);

    // Only the id: the run's own request comes from its folder (these other fields are ignored).
    const resumed = await run({ ...request('nothing', 'ignored'), steps: 99, resumeFrom: cut.r.model!.id });
    expect(resumed.r.stopped).toBe('done');
    expect(resumed.r.steps).toBe(6);
    expect(resumed.r.model!.id).toBe(cut.r.model!.id); // saved in place
    expect(resumed.losses.map(([s]) => s)).toEqual([4, 5, 6]);
    // Its first event says what it continues: the checkpoint's request and the curves before it.
    expect(resumed.continues).toHaveLength(1);
    expect(resumed.continues[0]).toMatchObject({ from: 3, request: { name: 'interrupted', steps: 6, seed: 7, pairs: 0 }, checkpoint: { id: cut.r.model!.id } });
    expect(resumed.continues[0].steps.map((p) => [p.step, p.loss])).toEqual(cut.losses);
    expect(resumed.continues[0].evals.map((p) => [p.step, p.mean])).toEqual(cut.evals);
    expect(straight.continues).toHaveLength(0);
    expect([...cut.losses, ...resumed.losses]).toEqual(straight.losses);
    expect([...cut.evals, ...resumed.evals]).toEqual(straight.evals);
    expect(sha(resumed.files!.get('model.safetensors')!)).toBe(sha(straight.files!.get('model.safetensors')!));
    expect(resumed.files!.has('optimizer.safetensors')).toBe(false);
    expect((resumed.r.model!.playground as { training: { resumed_at: number[]; status: string } }).training).toMatchObject({ resumed_at: [3], status: 'complete' });

    // A finished model has nothing to resume.
    await expect(engine.start('train', { ...request(base.id, 'x'), resumeFrom: straight.r.model!.id }).result()).rejects.toThrow(/nothing to resume/);
  }, 300_000);
});

describe('resuming after the CLI was killed', () => {
  const cli = (...args: string[]) => execFileSync('node', ['bin/aya-playground.js', ...args], { encoding: 'utf8', timeout: 240_000 });
  const dir = mkdtempSync(join(tmpdir(), 'aya-resume-cli-'));
  const run = ['--steps', '4', '--batch', '2', '--seq', '16', '--langs', 'fra', '--seed', '3', '--checkpoint-every', '2', '--eval-every', '0'];

  it('SIGKILL after the checkpoint at step 2, then train --resume: the weights of an uninterrupted run', async () => {
    cli('create', '--out', join(dir, 'base'), '--size', 'tiny', '--seed', '4');
    cli('train', '--model', join(dir, 'base'), '--out', join(dir, 'straight'), ...run);

    const killed = join(dir, 'killed');
    const child = spawn('node', ['bin/aya-playground.js', 'train', '--model', join(dir, 'base'), '--out', killed, ...run, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const seen = await new Promise<string>((resolve) => {
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (/"type":"checkpoint","step":2/.test(out)) {
          child.kill('SIGKILL');
          resolve('checkpoint 2');
        }
      });
      child.on('exit', () => resolve(`exited before the checkpoint: ${out.slice(-300)}`));
    });
    expect(seen).toBe('checkpoint 2');
    await new Promise((r) => child.once('exit', r).listenerCount('exit') && setTimeout(r, 100));
    expect(JSON.parse(readFileSync(join(killed, 'trainer_state.json'), 'utf8')).step).toBe(2);

    // Options besides --resume are refused (the run's own settings are in its folder).
    expect(() => cli('train', '--resume', killed, '--steps', '9')).toThrow(/--resume continues a saved run with its own settings; drop --steps/);
    const lines = cli('train', '--resume', killed, '--json').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.filter((l) => l.type === 'step').map((l) => l.point.step)).toEqual([3, 4]);
    expect(lines.at(-1)).toMatchObject({ type: 'done', steps: 4, stopped: 'done' });
    expect(sha(readFileSync(join(killed, 'model.safetensors')))).toBe(sha(readFileSync(join(dir, 'straight', 'model.safetensors'))));
    expect(existsSync(join(killed, 'optimizer.safetensors'))).toBe(false);
    expect(existsSync(join(killed, 'trainer_state.json'))).toBe(false);
  }, 600_000);
});
