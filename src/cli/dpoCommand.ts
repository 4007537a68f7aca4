// `aya-playground dpo`: offline and/or online iterative DPO; one JSON line per event with --json.
import { checkOutputFolder, readTextFile } from '../util/fs.node.ts';
import { existsSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import type { ParseArgsConfig } from 'node:util';
import type { DpoRequest, EngineApi } from '../engine/api.ts';
import { runJob } from './jobs.ts';
import { withResumeHint } from './checkpointHint.ts';
import { DPO_LOSSES, type DpoLossType } from '../ops/dpo.ts';
import { parseDpoPairsJsonl } from '../train/dpo.ts';
import { TRAINER_STATE_FILE } from '../model/folder.ts';
import { PREFERENCE_MODES, type PreferenceMode } from '../train/preference.ts';
import { LANGUAGE_CODES } from '../data/languages.ts';
import { DEFAULT_MIN_NEW_TOKENS } from '../model/sample.ts';
import { int, need, num, UsageError, type Values } from './args.ts';

export const DPO_USAGE = `  dpo --model DIR --out DIR [--mode ${PREFERENCE_MODES.join('|')}] [--data preferences.jsonl]
      [--loss ${DPO_LOSSES.join('|')}] [--beta 0.1] [--lr LR] [--steps N] [--online-steps N]
      [--iterations 3] [--k 4] [--batch PAIRS] [--seq T] [--seed S] [--langs xx,…]
      [--per-language N] [--eval-per-language N] [--eval-every N] [--max-new-tokens N]
      [--min-new-tokens 16] [--temperature T] [--checkpoint-every N]
                                             preference training from an SFT model: each stage's
                                             model in DIR/<stage>; TRL-named metrics per step, KL,
                                             top-10 entropy/mass and Arbiter reward per evaluation
      | --resume DIR/<stage>                 continue an interrupted run from a stage's checkpoint
                                             (a cancelled stage, or --checkpoint-every's saves)
`;

export const DPO_OPTIONS: Record<string, ParseArgsConfig['options']> = {
  dpo: {
    model: { type: 'string' },
    out: { type: 'string' },
    mode: { type: 'string' },
    data: { type: 'string' },
    loss: { type: 'string' },
    beta: { type: 'string' },
    lr: { type: 'string' },
    steps: { type: 'string' },
    'online-steps': { type: 'string' },
    iterations: { type: 'string' },
    k: { type: 'string' },
    batch: { type: 'string' },
    seq: { type: 'string' },
    seed: { type: 'string' },
    langs: { type: 'string' },
    'per-language': { type: 'string' },
    'eval-per-language': { type: 'string' },
    'eval-every': { type: 'string' },
    'max-new-tokens': { type: 'string' },
    'min-new-tokens': { type: 'string' },
    temperature: { type: 'string' },
    'checkpoint-every': { type: 'string' },
    resume: { type: 'string' },
  },
};

export async function runDpoCommand(engine: EngineApi, command: string, values: Values, asJson: boolean): Promise<number | null> {
  if (command !== 'dpo') return null;
  if (typeof values.resume === 'string') {
    // The stage's checkpoint holds the run's request: nothing else may be given.
    const others = Object.keys(DPO_OPTIONS.dpo!).filter((k) => k !== 'resume' && values[k] !== undefined);
    if (others.length) throw new UsageError(`--resume continues a saved run with its own settings; drop ${others.map((k) => `--${k}`).join(', ')}`);
    const dir = resolve(values.resume);
    await checkOutputFolder(dir, '--resume');
    return dpoJob(engine, { resumeFrom: dir } as DpoRequest, asJson);
  }
  const mode = (values.mode ?? 'offline') as PreferenceMode;
  if (!PREFERENCE_MODES.includes(mode)) throw new UsageError(`--mode: expected ${PREFERENCE_MODES.join(', ')}`);
  const loss = (values.loss ?? 'sigmoid') as DpoLossType;
  if (!DPO_LOSSES.includes(loss)) throw new UsageError(`--loss: expected ${DPO_LOSSES.join(', ')}`);
  const outDir = resolve(need(values, 'out'));
  await checkOutputFolder(outDir);
  let pairs;
  if (typeof values.data === 'string') pairs = parseDpoPairsJsonl(await readTextFile(values.data, '--data'), values.data);
  else if (mode !== 'online') throw new UsageError(`--mode ${mode} needs --data (TRL preference JSONL)`);
  const langs = typeof values.langs === 'string' ? values.langs.split(',').map((l) => l.trim()) : [...LANGUAGE_CODES];
  for (const l of langs) if (!LANGUAGE_CODES.includes(l)) throw new UsageError(`--langs: unknown language '${l}'`);
  const evalPer = int(values, 'eval-per-language', 1);
  return dpoJob(
    engine,
    {
      modelId: resolve(need(values, 'model')),
      name: 'dpo',
      outPrefix: outDir + sep,
      mode,
      pairs,
      onlinePrompts: { source: { kind: 'udhr', split: 'train' }, languages: langs, perLanguage: int(values, 'per-language', 2) },
      evalPrompts: evalPer > 0 ? { source: { kind: 'udhr', split: 'heldout' }, languages: langs, perLanguage: evalPer } : undefined,
      loss,
      beta: num(values, 'beta', 0.1),
      lr: num(values, 'lr', 1e-3),
      batchPairs: int(values, 'batch', 4),
      seqLen: int(values, 'seq', 64),
      seed: int(values, 'seed', 1),
      offlineSteps: int(values, 'steps', 30),
      onlineSteps: int(values, 'online-steps', 10),
      iterations: int(values, 'iterations', 3),
      samplesPerPrompt: int(values, 'k', 4),
      sampling: { maxNewTokens: int(values, 'max-new-tokens', 24), minNewTokens: int(values, 'min-new-tokens', DEFAULT_MIN_NEW_TOKENS), temperature: num(values, 'temperature', 0.9), topK: 40, topP: 0.95 },
      evalEvery: int(values, 'eval-every', 0),
      checkpointEvery: int(values, 'checkpoint-every', 0),
    },
    asJson,
  );
}

async function dpoJob(engine: EngineApi, req: DpoRequest, asJson: boolean): Promise<number> {
  let checkpoint: string | null = null;
  const saved: string[] = [];
  const r = await runJob(
    engine,
    'dpo',
    req,
    (e) => {
      if (asJson) {
        const { examples: _x, ...point } = e.type === 'eval' ? e.point : ({ examples: null } as never);
        process.stdout.write(JSON.stringify(e.type === 'eval' ? { ...e, point } : e) + '\n');
      } else if (e.type === 'step') {
        const p = e.point;
        process.stderr.write(`\r${e.stage} step ${p.step}: loss ${p.loss.toFixed(4)} margin ${p['rewards/margins'].toFixed(4)} acc ${p['rewards/accuracies'].toFixed(2)}, about ${Math.round(e.etaSeconds)} s left`.padEnd(90));
      } else if (e.type === 'eval') {
        const p = e.point;
        process.stderr.write(`\n${e.stage} eval at step ${e.globalStep}: KL ${p.kl.toFixed(4)} top-10 entropy ${p.top10Entropy.toFixed(4)} bits, mass ${p.top10Mass.toFixed(4)}, reward ${p.meanReward.toFixed(4)}\n`);
        for (const w of e.warnings.filter((x) => x.step === e.globalStep)) process.stderr.write(`  ⚠ ${w.message}\n`);
      } else if (e.type === 'sampling') process.stderr.write(`\r${e.stage}: sampling ${e.done}/${e.total}`.padEnd(90));
      else if (e.type === 'pairs') process.stderr.write(`\n${e.stage}: ${e.pairs} pairs (${e.skipped} prompts skipped: all samples scored the same)\n`);
      else if (e.type === 'saved') process.stderr.write(`\nsaved ${e.stage} → ${e.modelId}\n`);
      else if (e.type === 'checkpoint') process.stderr.write(`\ncheckpoint of ${e.stage} at its step ${e.step} → ${e.modelId}\n`);
      if (e.type === 'checkpoint') checkpoint = e.modelId;
      if (e.type === 'saved') saved.push(e.modelId);
    },
  ).catch((e: unknown) => {
    if (!asJson) process.stderr.write('\n');
    // A stage that finished no longer holds its state; its successor's start checkpoint does.
    throw withResumeHint(e, 'dpo', [...saved, checkpoint]);
  });
  const summary = { type: 'done', stopped: r.stopped, error: r.error ?? null, models: r.models, seconds: r.seconds, warnings: r.warnings };
  if (asJson) process.stdout.write(JSON.stringify(summary) + '\n');
  else {
    // A cancel keeps the cut stage's state (or the last checkpoint's): say how to continue.
    const resumable = r.stopped === 'cancelled' ? [r.models.at(-1)?.id, checkpoint].find((d) => d && existsSync(join(d, TRAINER_STATE_FILE))) : undefined;
    process.stderr.write(`\n${r.stopped} after ${r.seconds.toFixed(0)} s; models: ${r.models.map((m) => m.id).join(', ')}${resumable ? ` (continue it with: aya-playground dpo --resume ${resumable})` : ''}\n`);
  }
  return r.stopped === 'non-finite' ? 1 : 0;
}
