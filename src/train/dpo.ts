// Preference training (DESIGN §9): DPO-family losses on the sequence log-probabilities of completion
// tokens, against a frozen reference model (no gradients through it).
//
// One step, for B pairs: (1) the policy's forward, its activations kept, and the reference's
// forward → per-token log-probs of chosen and rejected completions → sequence sums π and ρ; (2) the
// loss and ∂loss/∂π per pair (shaders/dpo.wgsl); (3) backward through the policy's recorded forward
// with the masked cross-entropy whose per-token weights are −∂loss/∂π / B — since π = −Σ NLL, that
// is exactly ∂loss/∂logits (negative weights for the rejected side). Two forwards and one backward
// per step. Telemetry uses TRL's names.
import { show } from '../util/show.ts';
import type { GpuContext, Tensor } from '../gpu/context.ts';
import type { ModelConfig } from '../model/config.ts';
import type { HostWeights } from '../model/init.ts';
import { backward, forward, gpuTrainOps, type LossBatch, releaseTape, type Tape, tokenLosses, type TrainOps } from '../model/backprop.ts';
import { type RopeTable, ropeTableCpu, uploadRopeTable } from '../ops/rope.ts';
import { dpoLoss, type DpoLossType, DPO_LOSSES } from '../ops/dpo.ts';
import type { BpeTokenizer } from '../tokenizer/bpe.ts';
import { LANGUAGE_CODES } from '../data/languages.ts';
import { Rng, type RngState } from '../util/rng.ts';
import { parseJsonLines } from '../util/jsonl.ts';
import { pairExample, type TrainExample, window } from './data.ts';
import { DEFAULT_OPTIMIZER, Trainer } from './trainer.ts';
import { readWeights, validateRunShape } from './sft.ts';

export interface DpoPair {
  prompt: string;
  chosen: string;
  rejected: string;
  language: string;
}

export interface DpoSpec {
  loss: DpoLossType;
  beta: number;
  steps: number;
  /** Pairs per step (each pair is two sequences). */
  batchPairs: number;
  seqLen: number;
  lr: number;
  seed: number;
}

export const DEFAULT_DPO: Omit<DpoSpec, 'steps'> = { loss: 'sigmoid', beta: 0.1, batchPairs: 4, seqLen: 64, lr: 1e-3, seed: 1 };

/** One step's telemetry, TRL's names (means over the batch's pairs). */
export interface DpoStepPoint {
  step: number;
  loss: number;
  'rewards/chosen': number;
  'rewards/rejected': number;
  'rewards/margins': number;
  'rewards/accuracies': number;
  'logps/chosen': number;
  'logps/rejected': number;
  grad_norm: number;
  learning_rate: number;
  tokensPerSecond: number;
}

export interface DpoHooks {
  onStep?(p: DpoStepPoint, fraction: number, etaSeconds: number): void;
  shouldStop?(): boolean;
  waitIfPaused?(): Promise<void>;
  /** Every `evalEvery` steps (and at the end) with the current weights. */
  onEval?(weights: HostWeights, step: number): Promise<void>;
  evalEvery?: number;
  /** A copy of the weights every `checkpointEvery` steps (not at the end), with what resuming from
   *  there needs. */
  onCheckpoint?(weights: HostWeights, step: number, state: DpoState): Promise<void>;
  checkpointEvery?: number;
}

/** Everything a DPO run needs to continue bit-identically after `step` (besides the weights then). */
export interface DpoState {
  step: number;
  /** The pair sampler: its RNG (seeded by spec.seed) and what is left of the current permutation. */
  rng: RngState;
  order: number[];
  history: DpoStepPoint[];
  /** AdamW's first and second moments. */
  m: HostWeights;
  v: HostWeights;
}

export interface DpoOutcome {
  weights: HostWeights;
  /** A cancelled run's state after its last step (to resume it); null otherwise (not read back). */
  state: DpoState | null;
  steps: number;
  history: DpoStepPoint[];
  stopped: 'done' | 'cancelled' | 'non-finite';
  error?: string;
  seconds: number;
}

export function validateDpoSpec(spec: DpoSpec, config: ModelConfig): void {
  validateRunShape(spec.steps, { name: 'pairs per step', value: spec.batchPairs }, spec.seqLen, config);
  if (!(DPO_LOSSES as readonly string[]).includes(spec.loss)) throw new Error(`unknown loss '${spec.loss}' (expected ${DPO_LOSSES.join(', ')})`);
  if (!(spec.beta > 0) || !Number.isFinite(spec.beta)) throw new Error(`β must be a positive number, got ${spec.beta}`);
  if (!(spec.lr > 0) || !Number.isFinite(spec.lr)) throw new Error(`learning rate must be a positive number, got ${spec.lr}`);
}

/** TRL preference JSONL → pairs; `language` per line or for the whole file. Errors name the line. */
export function parseDpoPairsJsonl(text: string, file = 'preferences.jsonl', defaultLanguage?: string): DpoPair[] {
  const out = parseJsonLines(text, file).map(({ line, value: r }) => {
    for (const k of ['prompt', 'chosen', 'rejected']) if (typeof r[k] !== 'string') throw new Error(`${file}:${line}: "${k}" must be a string`);
    const language = (r.language ?? defaultLanguage) as string | undefined;
    if (typeof language !== 'string' || !LANGUAGE_CODES.includes(language)) throw new Error(`${file}:${line}: ${language === undefined ? 'no "language"' : `unknown language '${show(language)}'`}`);
    return { prompt: r.prompt as string, chosen: r.chosen as string, rejected: r.rejected as string, language };
  });
  if (out.length === 0) throw new Error(`${file}: no pairs`);
  return out;
}

interface PairExamples {
  chosen: TrainExample;
  rejected: TrainExample;
}

/** The batch for B pairs: rows 0..B−1 chosen, B..2B−1 rejected; weights = the completion mask. */
export function dpoBatch(pairs: readonly PairExamples[], seqLen: number, pad: number): LossBatch & { mask: number[] } {
  const ids: number[][] = [];
  const targets: number[] = [];
  const mask: number[] = [];
  for (const ex of [...pairs.map((p) => p.chosen), ...pairs.map((p) => p.rejected)]) {
    const w = window(ex, seqLen, pad, null);
    ids.push(w.ids);
    targets.push(...w.targets);
    mask.push(...w.mask);
  }
  return { ids, targets, weights: mask.slice(), mask };
}

/** Σ over each row of −(token loss): the sequence log-probs of the counted tokens, and their counts. */
export function sequenceSums(tokenLosses: ArrayLike<number>, mask: readonly number[], rows: number, seqLen: number): { logps: number[]; counts: number[] } {
  const logps: number[] = [];
  const counts: number[] = [];
  for (let r = 0; r < rows; r++) {
    let s = 0;
    let n = 0;
    for (let i = r * seqLen; i < (r + 1) * seqLen; i++) {
      if (!mask[i]) continue;
      s -= tokenLosses[i];
      n++;
    }
    logps.push(s);
    counts.push(n);
  }
  return { logps, counts };
}

/** The forward half of a DPO step: the policy's forward (its tape kept for the backward) and the
 *  reference's, their sequence log-probs, the loss per pair and the backward's token weights. */
export async function dpoForwards(
  ops: TrainOps<Tensor>,
  config: ModelConfig,
  policy: Map<string, Tensor>,
  reference: Map<string, Tensor>,
  table: RopeTable<Tensor>,
  batch: LossBatch & { mask: number[] },
  B: number,
  spec: Pick<DpoSpec, 'loss' | 'beta' | 'seqLen'>,
): Promise<{ p: ReturnType<typeof sequenceSums>; q: ReturnType<typeof sequenceSums>; res: Float32Array; weights: number[]; targets: Tensor; tape: Tape<Tensor> }> {
  // Both forwards are recorded before either's log-probs are read: one wait for the GPU, not two.
  const n = batch.targets.length;
  const targets = ops.ids(batch.targets, [n]);
  const mask = ops.floats(batch.mask, [n]);
  const record = (w: Map<string, Tensor>, keep: boolean) => {
    const f = forward(ops, config, w, table, batch.ids, { tape: keep });
    const r = tokenLosses(ops, f.logits, targets, mask);
    if (!f.tape) ops.release(f.logits);
    ops.release(r.loss);
    return { per: r.tokenLosses, tape: f.tape };
  };
  const pol = record(policy, true);
  const tape = pol.tape!;
  try {
    const rr = record(reference, false);
    const polValues = await ops.values(pol.per);
    const refValues = await ops.values(rr.per);
    ops.release(pol.per);
    ops.release(rr.per);
    const p = sequenceSums(polValues, batch.mask, 2 * B, spec.seqLen);
    const q = sequenceSums(refValues, batch.mask, 2 * B, spec.seqLen);
    const input: number[] = [];
    for (let i = 0; i < B; i++) input.push(p.logps[i], p.logps[B + i], q.logps[i], q.logps[B + i], p.counts[i], p.counts[B + i]);
    const inT = ops.floats(input, [B, 6]);
    const outT = dpoLoss(inT, spec.loss, spec.beta);
    const res = Float32Array.from(await ops.values(outT));
    inT.release();
    outT.release();
    // ∂loss/∂logits = −(∂loss/∂π)·(∂NLL/∂logits): the cross-entropy backward with weight −∂loss/∂π / B.
    const weights = batch.mask.map((m, i) => {
      if (!m) return 0;
      const row = Math.floor(i / spec.seqLen);
      return row < B ? -res[row * 3 + 1] / B : -res[(row - B) * 3 + 2] / B;
    });
    return { p, q, res, weights, targets, tape };
  } catch (e) {
    releaseTape(ops, tape);
    ops.release(targets);
    throw e;
  } finally {
    ops.release(mask);
  }
}

/** One whole DPO step on `trainer`'s weights (the policy): both forwards, the backward of the
 *  policy's recorded forward with the DPO weights (its logits are the ones π came from, so no third
 *  forward is needed), and the optimiser update. Throws NonFiniteError before the weights change. */
export async function dpoTrainStep(
  ops: TrainOps<Tensor>,
  config: ModelConfig,
  trainer: Trainer<Tensor>,
  reference: Map<string, Tensor>,
  table: RopeTable<Tensor>,
  batch: LossBatch & { mask: number[] },
  B: number,
  spec: Pick<DpoSpec, 'loss' | 'beta' | 'seqLen'>,
): Promise<{ p: ReturnType<typeof sequenceSums>; q: ReturnType<typeof sequenceSums>; res: Float32Array; gradNorm: number; lr: number }> {
  const { p, q, res, weights, targets, tape } = await dpoForwards(ops, config, trainer.weights, reference, table, batch, B, spec);
  try {
    const lw = ops.floats(weights, [weights.length]);
    let grads: Map<string, Tensor>;
    try {
      grads = backward(ops, tape, targets, lw);
    } finally {
      ops.release(lw);
    }
    const r = await trainer.applyGradients(grads, p.logps.reduce((a, b) => a + b, 0));
    return { p, q, res, gradNorm: r.gradNorm, lr: r.lr };
  } finally {
    releaseTape(ops, tape);
    ops.release(targets);
  }
}

/** Trains `policy` on preference pairs against the frozen `reference`; returns the new weights. */
export async function runDpo(
  ctx: GpuContext,
  config: ModelConfig,
  policy: HostWeights,
  reference: HostWeights,
  tok: BpeTokenizer,
  pairs: readonly DpoPair[],
  spec: DpoSpec,
  hooks: DpoHooks = {},
  /** Continue an interrupted run of the same spec and pairs from its state (`policy`: its weights then). */
  resume: DpoState | null = null,
): Promise<DpoOutcome> {
  const t0 = performance.now();
  validateDpoSpec(spec, config);
  if (pairs.length === 0) throw new Error('no preference pairs to train on');
  const examples: PairExamples[] = pairs.map((p) => ({ chosen: pairExample(tok, p.language, p.prompt, p.chosen), rejected: pairExample(tok, p.language, p.prompt, p.rejected) }));
  const ops = gpuTrainOps(ctx);
  const wg = new Map<string, Tensor>([...policy].map(([k, t]) => [k, ctx.upload(t, k)]));
  const ref = new Map<string, Tensor>([...reference].map(([k, t]) => [k, ctx.upload(t, `ref.${k}`)]));
  const table = uploadRopeTable(ctx, ropeTableCpu(spec.seqLen, config.hiddenSize / config.numAttentionHeads, config.ropeTheta));
  // DPO's small learning rates want no floor; warmup as in SFT.
  const trainer = new Trainer(ops, config, wg, table, { ...DEFAULT_OPTIMIZER, lr: spec.lr, minLr: spec.lr / 10, warmup: Math.min(DEFAULT_OPTIMIZER.warmup, Math.max(1, Math.floor(spec.steps / 5))), totalSteps: spec.steps });
  const rng = new Rng(spec.seed);
  let order: number[] = [];
  const nextPairs = (): PairExamples[] => {
    const out: PairExamples[] = [];
    while (out.length < spec.batchPairs) {
      if (order.length === 0) order = rng.permutation(examples.length);
      out.push(examples[order.pop()!]);
    }
    return out;
  };
  const history: DpoStepPoint[] = resume ? [...resume.history] : [];
  if (resume) {
    if (resume.step > spec.steps) throw new Error(`resume: the saved run is at step ${resume.step}, past its ${spec.steps} steps`);
    if (!Array.isArray(resume.order) || resume.order.some((i) => !Number.isInteger(i) || i < 0 || i >= examples.length)) throw new Error(`resume: the saved pair order does not index the ${examples.length} pairs`);
    trainer.restore(resume.step, resume.m, resume.v);
    rng.restore(resume.rng);
    order = [...resume.order];
  }
  const state = async (): Promise<DpoState> => ({ step: trainer.step, rng: rng.state(), order: [...order], history: [...history], ...(await trainer.moments()) });
  let stopped: DpoOutcome['stopped'] = 'done';
  let error: string | undefined;
  let stepSeconds = 0;
  const firstStep = trainer.step; // a resumed run times only the steps it takes itself
  try {
    for (let s = trainer.step; s < spec.steps; s++) {
      await hooks.waitIfPaused?.();
      if (hooks.shouldStop?.()) {
        stopped = 'cancelled';
        break;
      }
      const ts = performance.now();
      const batchPairs = nextPairs();
      const B = batchPairs.length;
      const batch = dpoBatch(batchPairs, spec.seqLen, tok.pad);
      let step: Awaited<ReturnType<typeof dpoTrainStep>>;
      try {
        step = await dpoTrainStep(ops, config, trainer, ref, table, batch, B, spec);
      } catch (e) {
        if ((e as Error).name === 'NonFiniteError') {
          stopped = 'non-finite';
          error = (e as Error).message;
          break;
        }
        throw e;
      }
      const { p, q, res, gradNorm, lr } = step;
      let loss = 0;
      let rc = 0;
      let rj = 0;
      let acc = 0;
      let lc = 0;
      let lj = 0;
      for (let i = 0; i < B; i++) {
        loss += res[i * 3];
        const c = spec.beta * (p.logps[i] - q.logps[i]);
        const j = spec.beta * (p.logps[B + i] - q.logps[B + i]);
        rc += c;
        rj += j;
        acc += c > j ? 1 : 0;
        lc += p.logps[i];
        lj += p.logps[B + i];
      }
      const point: DpoStepPoint = {
        step: trainer.step,
        loss: loss / B,
        'rewards/chosen': rc / B,
        'rewards/rejected': rj / B,
        'rewards/margins': (rc - rj) / B,
        'rewards/accuracies': acc / B,
        'logps/chosen': lc / B,
        'logps/rejected': lj / B,
        grad_norm: gradNorm,
        learning_rate: lr,
        tokensPerSecond: (2 * B * spec.seqLen) / ((performance.now() - ts) / 1000),
      };
      history.push(point);
      stepSeconds += (performance.now() - ts) / 1000;
      hooks.onStep?.(point, trainer.step / spec.steps, (stepSeconds / (trainer.step - firstStep)) * (spec.steps - trainer.step));
      const last = trainer.step === spec.steps;
      if (!last && (hooks.onEval || hooks.onCheckpoint)) {
        const evalNow = hooks.onEval && hooks.evalEvery && trainer.step % hooks.evalEvery === 0;
        const checkpointNow = hooks.onCheckpoint && hooks.checkpointEvery && trainer.step % hooks.checkpointEvery === 0;
        const w = evalNow || checkpointNow ? await readWeights(wg) : null;
        if (evalNow) await hooks.onEval!(w!, trainer.step);
        // After the evaluation, so a resumed run's evaluations are the uninterrupted run's.
        if (checkpointNow && !hooks.shouldStop?.()) await hooks.onCheckpoint!(w!, trainer.step, await state());
      }
    }
    const weightsOut = await readWeights(wg);
    if (hooks.onEval && stopped !== 'cancelled' && trainer.step > 0) await hooks.onEval(weightsOut, trainer.step);
    return { weights: weightsOut, state: stopped === 'cancelled' ? await state() : null, steps: trainer.step, history, stopped, error, seconds: (performance.now() - t0) / 1000 };
  } finally {
    trainer.dispose();
    for (const t of [...wg.values(), ...ref.values()]) t.release();
    table.cos.release();
    table.sin.release();
  }
}
