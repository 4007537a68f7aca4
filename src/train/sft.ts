// A training run: model + data mix + schedule → trained weights, a loss history, and held-out loss
// per language. Runs on any ops backend (the GPU in the app and CLI). Progress, pause and cancel go
// through hooks, so the Engine can make it a job and the CLI can log it.
import type { GpuContext, Tensor } from '../gpu/context.ts';
import type { RngState } from '../util/rng.ts';
import type { ModelConfig } from '../model/config.ts';
import type { HostWeights } from '../model/init.ts';
import { gpuTrainOps, lossAndGrads, type LossBatch } from '../model/backprop.ts';
import { ropeTableCpu, uploadRopeTable } from '../ops/rope.ts';
import type { BpeTokenizer } from '../tokenizer/bpe.ts';
import type { UdhrDocument } from '../data/corpus.ts';
import { heldOutParagraphs, trainParagraphs } from '../data/corpus.ts';
import { type Batch, BatchSampler, type MixEntry, type PairRecord, type TrainExample, pairExample, textExample, window } from './data.ts';
import { DEFAULT_OPTIMIZER, type OptimizerOptions, type StepResult, Trainer } from './trainer.ts';

export interface TrainSpec {
  steps: number;
  batchSize: number;
  seqLen: number;
  seed: number;
  mix: MixEntry[];
  /** Optimiser settings; totalSteps comes from `steps`. */
  optimizer?: Partial<Omit<OptimizerOptions, 'totalSteps'>>;
  /** Held-out loss every this many steps (0: only at the end). */
  evalEvery: number;
  /** Held-out examples per language per evaluation. */
  evalExamples: number;
  /** Hand the weights to onCheckpoint every this many steps (0: never). */
  checkpointEvery?: number;
}

export interface TrainData {
  /** UDHR training split (by language code), and/or imported prompt/completion pairs. */
  corpus?: Map<string, UdhrDocument>;
  pairs?: PairRecord[];
}

export interface EvalPoint {
  step: number;
  /** Mean held-out token loss (nats) per language. */
  perLanguage: Record<string, number>;
  mean: number;
}

export interface StepPoint {
  step: number;
  loss: number;
  gradNorm: number;
  lr: number;
  tokensPerSecond: number;
  /** Training loss per language in this batch (mean over its counted tokens). */
  perLanguage: Record<string, number>;
}

export interface TrainHooks {
  onStep?(p: StepPoint, fraction: number, etaSeconds: number): void;
  onEval?(e: EvalPoint): void;
  shouldStop?(): boolean;
  /** Resolves when the run may continue (pause). */
  waitIfPaused?(): Promise<void>;
  /** A copy of the weights after `step` (every spec.checkpointEvery steps), and what resuming from
   *  there needs (the optimizer's moments, the data sampler's RNG, the curves so far). */
  onCheckpoint?(weights: HostWeights, step: number, state: TrainState): Promise<void>;
}

/** Everything a run needs to continue bit-identically after `step` (besides the weights then). */
export interface TrainState {
  step: number;
  /** The batch sampler's RNG (seeded by spec.seed) after `step` batches. */
  rng: RngState;
  history: StepPoint[];
  evals: EvalPoint[];
  /** AdamW's first and second moments. */
  m: HostWeights;
  v: HostWeights;
}

export interface TrainOutcome {
  weights: HostWeights;
  /** A cancelled run's state after its last step (to resume it); null otherwise (not read back). */
  state: TrainState | null;
  steps: number;
  history: StepPoint[];
  evals: EvalPoint[];
  stopped: 'done' | 'cancelled' | 'non-finite';
  error?: string;
  seconds: number;
}

export function buildExamples(tok: BpeTokenizer, data: TrainData, languages: readonly string[], split: 'train' | 'heldout'): Map<string, TrainExample[]> {
  const out = new Map<string, TrainExample[]>();
  for (const lang of languages) out.set(lang, []);
  if (data.corpus) {
    for (const lang of languages) {
      const doc = data.corpus.get(lang);
      if (!doc) continue;
      const paragraphs = split === 'train' ? trainParagraphs(doc) : heldOutParagraphs(doc);
      for (const p of paragraphs) out.get(lang)!.push(textExample(tok, lang, p));
    }
  }
  if (data.pairs && split === 'train') {
    for (const r of data.pairs) if (out.has(r.language)) out.get(r.language)!.push(pairExample(tok, r.language, r.prompt, r.completion));
  }
  return out;
}

/** Fixed held-out batches per language: the first window of each of the first `n` paragraphs, so
 *  a language's batches never depend on which other languages are evaluated with it. */
export function heldOutBatches(examples: Map<string, TrainExample[]>, n: number, seqLen: number, batchSize: number, pad: number): Map<string, Batch[]> {
  const out = new Map<string, Batch[]>();
  for (const [lang, exs] of examples) {
    const batches: Batch[] = [];
    const chosen = exs.slice(0, n);
    for (let i = 0; i < chosen.length; i += batchSize) {
      const b: Batch = { ids: [], targets: [], mask: [], languages: [], tokens: 0 };
      for (const ex of chosen.slice(i, i + batchSize)) {
        const w = window(ex, seqLen, pad, null);
        b.ids.push(w.ids);
        b.targets.push(...w.targets);
        b.mask.push(...w.mask);
        b.languages.push(lang);
      }
      b.tokens = b.mask.reduce((s, m) => s + m, 0);
      batches.push(b);
    }
    out.set(lang, batches);
  }
  return out;
}

function perLanguageLoss(batch: Batch, tokenLosses: ArrayLike<number>, seqLen: number): Record<string, number> {
  // tokenLosses are weighted by 1/tokens; undo that to get each language's mean.
  const sums = new Map<string, { loss: number; n: number }>();
  batch.languages.forEach((lang, b) => {
    const s = sums.get(lang) ?? { loss: 0, n: 0 };
    for (let i = b * seqLen; i < (b + 1) * seqLen; i++) {
      if (batch.mask[i]) {
        s.loss += tokenLosses[i] * batch.tokens;
        s.n++;
      }
    }
    sums.set(lang, s);
  });
  const out: Record<string, number> = {};
  for (const [lang, s] of sums) if (s.n) out[lang] = s.loss / s.n;
  return out;
}

function lossBatch(b: Batch): LossBatch {
  const denom = Math.max(1, b.tokens);
  return { ids: b.ids, targets: b.targets, weights: b.mask.map((m) => m / denom) };
}

/** Held-out settings shared by the zoo's matrix and the engine's recompute, so their rows compare. */
export const HELD_OUT = { examples: 16, seqLen: 64, batchSize: 8 } as const;

export async function evaluateHeldOut(
  evalLoss: (b: LossBatch) => Promise<{ loss: number }>,
  batches: Map<string, Batch[]>,
  shouldStop?: () => boolean,
): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [lang, bs] of batches) {
    let loss = 0;
    let tokens = 0;
    for (const b of bs) {
      if (!b.tokens) continue;
      if (shouldStop?.()) return out;
      const r = await evalLoss(lossBatch(b));
      loss += r.loss * b.tokens;
      tokens += b.tokens;
    }
    if (tokens) out[lang] = loss / tokens;
  }
  return out;
}

const mean = (r: Record<string, number>) => {
  const v = Object.values(r);
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : Number.NaN;
};

export async function readWeights(wg: Map<string, Tensor>): Promise<HostWeights> {
  const out: HostWeights = new Map();
  for (const [name, t] of wg) {
    const h = await t.read();
    out.set(name, { shape: h.shape, data: h.data });
  }
  return out;
}

/** What every training run checks: positive integer steps, batch and length, and a length that fits. */
export function validateRunShape(steps: number, batch: { name: string; value: number }, seqLen: number, config: ModelConfig): void {
  const posInt = (name: string, v: number) => {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer, got ${v}`);
  };
  posInt('steps', steps);
  posInt(batch.name, batch.value);
  posInt('sequence length', seqLen);
  if (seqLen > config.maxPositionEmbeddings) throw new Error(`sequence length ${seqLen} exceeds the model's context (${config.maxPositionEmbeddings})`);
}

export function validateTrainSpec(spec: TrainSpec, config: ModelConfig): void {
  validateRunShape(spec.steps, { name: 'batch size', value: spec.batchSize }, spec.seqLen, config);
  if (!Number.isInteger(spec.evalEvery) || spec.evalEvery < 0) throw new Error(`eval every must be an integer ≥ 0, got ${spec.evalEvery}`);
  const lr = spec.optimizer?.lr;
  if (lr !== undefined && !(lr > 0 && Number.isFinite(lr))) throw new Error(`learning rate must be a positive number, got ${lr}`);
  if (!spec.mix.some((m) => m.weight > 0)) throw new Error('the data mix has no language with a positive weight');
}

/** Trains `weights` (host copies in, trained host copies out) on the GPU. */
export async function runTraining(
  ctx: GpuContext,
  config: ModelConfig,
  weights: HostWeights,
  tok: BpeTokenizer,
  data: TrainData,
  spec: TrainSpec,
  hooks: TrainHooks = {},
  /** Where held-out loss comes from when the training data is not the UDHR (e.g. JSONL pairs);
   *  null: no held-out evaluation at all. */
  heldOutCorpus: Map<string, UdhrDocument> | null | undefined = data.corpus,
  /** Continue an interrupted run of the same spec from its saved state (`weights` are its weights then). */
  resume: TrainState | null = null,
): Promise<TrainOutcome> {
  const t0 = performance.now();
  validateTrainSpec(spec, config);
  const languages = spec.mix.filter((m) => m.weight > 0).map((m) => m.language);
  const train = buildExamples(tok, data, languages, 'train');
  const sampler = new BatchSampler(train, spec.mix, spec.seed);
  const held = heldOutCorpus ? heldOutBatches(buildExamples(tok, { corpus: heldOutCorpus }, languages, 'heldout'), spec.evalExamples, spec.seqLen, spec.batchSize, tok.pad) : new Map();

  const ops = gpuTrainOps(ctx);
  const wg = new Map<string, Tensor>([...weights].map(([k, t]) => [k, ctx.upload(t, k)]));
  const table = uploadRopeTable(ctx, ropeTableCpu(spec.seqLen, config.hiddenSize / config.numAttentionHeads, config.ropeTheta));
  const trainer = new Trainer(ops, config, wg, table, { ...DEFAULT_OPTIMIZER, ...spec.optimizer, totalSteps: spec.steps });
  const history: StepPoint[] = resume ? [...resume.history] : [];
  const evals: EvalPoint[] = resume ? [...resume.evals] : [];
  if (resume) {
    if (resume.step > spec.steps) throw new Error(`resume: the saved run is at step ${resume.step}, past its ${spec.steps} steps`);
    trainer.restore(resume.step, resume.m, resume.v);
    sampler.restore(resume.rng);
  }
  const state = async (): Promise<TrainState> => ({ step: trainer.step, rng: sampler.rngState(), history: [...history], evals: [...evals], ...(await trainer.moments()) });
  let stopped: TrainOutcome['stopped'] = 'done';
  let error: string | undefined;
  const evalNow = async (step: number) => {
    if (!held.size) return;
    const perLanguage = await evaluateHeldOut((b) => trainer.evalLoss(b), held, hooks.shouldStop);
    // An evaluation cut short by a cancel is not a point of the curve (nor of a resumed run's).
    if (hooks.shouldStop?.()) return;
    const e = { step, perLanguage, mean: mean(perLanguage) };
    evals.push(e);
    hooks.onEval?.(e);
  };
  try {
    let stepSeconds = 0; // time spent in steps only (not paused, not evaluating): the ETA's basis
    const firstStep = trainer.step; // a resumed run times only the steps it takes itself
    for (let s = trainer.step; s < spec.steps; s++) {
      await hooks.waitIfPaused?.();
      if (hooks.shouldStop?.()) {
        stopped = 'cancelled';
        break;
      }
      // A batch with nothing to count (e.g. windows of padding only) would still move AdamW: redraw.
      let batch = sampler.next(spec.batchSize, spec.seqLen, tok.pad);
      for (let tries = 0; batch.tokens === 0 && tries < 20; tries++) batch = sampler.next(spec.batchSize, spec.seqLen, tok.pad);
      if (batch.tokens === 0) throw new Error('the training data has no tokens to learn from (every window is masked out)');
      const ts = performance.now();
      let r: StepResult;
      try {
        r = await trainer.trainStep(lossBatch(batch));
      } catch (e) {
        if ((e as Error).name === 'NonFiniteError') {
          stopped = 'non-finite';
          error = (e as Error).message;
          break;
        }
        throw e;
      }
      const p: StepPoint = {
        step: r.step,
        loss: r.loss,
        gradNorm: r.gradNorm,
        lr: r.lr,
        tokensPerSecond: (spec.batchSize * spec.seqLen) / ((performance.now() - ts) / 1000),
        perLanguage: perLanguageLoss(batch, r.tokenLosses, spec.seqLen),
      };
      history.push(p);
      stepSeconds += (performance.now() - ts) / 1000;
      hooks.onStep?.(p, r.step / spec.steps, (stepSeconds / (r.step - firstStep)) * (spec.steps - r.step));
      if (spec.evalEvery > 0 && r.step % spec.evalEvery === 0 && r.step < spec.steps) await evalNow(r.step);
      if (hooks.onCheckpoint && spec.checkpointEvery && r.step % spec.checkpointEvery === 0 && r.step < spec.steps) {
        await hooks.onCheckpoint(await readWeights(wg), r.step, await state());
      }
    }
    if (stopped !== 'cancelled') await evalNow(trainer.step);
    return { weights: await readWeights(wg), state: stopped === 'cancelled' ? await state() : null, steps: trainer.step, history, evals, stopped, error, seconds: (performance.now() - t0) / 1000 };
  } finally {
    trainer.dispose();
    for (const t of wg.values()) t.release();
    table.cos.release();
    table.sin.release();
  }
}

/** Held-out loss per language of given weights (no training, no optimiser state). */
export async function evaluateWeights(
  ctx: GpuContext,
  config: ModelConfig,
  weights: HostWeights,
  tok: BpeTokenizer,
  corpus: Map<string, UdhrDocument>,
  languages: readonly string[],
  opts: { examples: number; seqLen: number; batchSize: number } = HELD_OUT,
  shouldStop?: () => boolean,
): Promise<Record<string, number>> {
  if (opts.seqLen > config.maxPositionEmbeddings) throw new Error(`sequence length ${opts.seqLen} exceeds the model's context (${config.maxPositionEmbeddings})`);
  const held = heldOutBatches(buildExamples(tok, { corpus }, languages, 'heldout'), opts.examples, opts.seqLen, opts.batchSize, tok.pad);
  const ops = gpuTrainOps(ctx);
  const wg = new Map<string, Tensor>([...weights].map(([k, t]) => [k, ctx.upload(t, k)]));
  const table = uploadRopeTable(ctx, ropeTableCpu(opts.seqLen, config.hiddenSize / config.numAttentionHeads, config.ropeTheta));
  try {
    return await evaluateHeldOut(
      async (b) => {
        const r = lossAndGrads(ops, config, wg, table, b, { grads: false });
        const [loss] = Array.from(await ops.values(r.loss));
        r.loss.release();
        r.tokenLosses.release();
        return { loss };
      },
      held,
      shouldStop,
    );
  } finally {
    for (const t of wg.values()) t.release();
    table.cos.release();
    table.sin.release();
  }
}
