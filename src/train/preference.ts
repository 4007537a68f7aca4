// Preference training as the recipe runs it (DESIGN §1 item 2, §9): offline DPO on fixed pairs
// (arbitrage best-vs-worst, imported TRL JSONL, human clicks), then online iterative DPO — each
// iteration samples K completions per prompt from the current policy, ranks them with the Arbiter,
// trains on best vs worst, with the policy at the iteration's start as the reference; every stage's
// model is saved. Evaluations (KL, top-10 entropy/mass, Arbiter reward) run every few steps.
import type { GpuContext } from '../gpu/context.ts';
import type { Arbiter } from '../arbiter/arbiter.ts';
import type { ArbitragePrompt } from '../arbitrage/arbitrage.ts';
import type { ModelConfig } from '../model/config.ts';
import type { HostWeights } from '../model/init.ts';
import { AyaModel } from '../model/model.ts';
import { generateBatch } from '../model/generate.ts';
import type { SamplingOptions } from '../model/sample.ts';
import type { BpeTokenizer } from '../tokenizer/bpe.ts';
import { deriveSeed } from '../util/hash.ts';
import { type DpoPair, type DpoSpec, type DpoState, type DpoStepPoint, runDpo } from './dpo.ts';
import { evaluatePolicy, overOptimisation, type OverOptimisation, type PolicyEval } from './dpoEval.ts';

export const PREFERENCE_MODES = ['offline', 'online', 'offline+online'] as const;
export type PreferenceMode = (typeof PREFERENCE_MODES)[number];

export interface PreferenceSpec {
  mode: PreferenceMode;
  dpo: Omit<DpoSpec, 'steps'>;
  /** Offline steps (offline, offline+online). */
  offlineSteps: number;
  /** Steps per online iteration. */
  onlineSteps: number;
  iterations: number;
  /** Completions sampled per prompt in each online iteration (K ≥ 2). */
  samplesPerPrompt: number;
  sampling: Omit<SamplingOptions, 'seed'>;
  /** Evaluate every this many steps within a stage (0: only at each stage's end). */
  evalEvery: number;
  /** Save a resumable checkpoint every this many steps within a stage, and at each later stage's
   *  start (0: none; a cancel still saves one). */
  checkpointEvery?: number;
}

/** Everything a preference run needs to continue bit-identically (besides the stage's weights then,
 *  its reference's and the request). */
export interface PreferenceState {
  /** The stage in progress (index into the run's stages). */
  stageIndex: number;
  /** Its DPO run's state; null at the stage's start (no step taken yet). */
  dpo: DpoState | null;
  /** An online stage's pairs once sampled (null: offline, or not sampled yet). */
  pairs: DpoPair[] | null;
  skipped: number;
  /** The whole run's telemetry and stage models so far. */
  steps: PreferenceOutcome['steps'];
  evals: PreferenceOutcome['evals'];
  models: PreferenceOutcome['models'];
}

/** Resuming: the saved state, the stage's weights then and its reference (the start model for the
 *  offline stage, the previous stage's model for an online one). */
export interface PreferenceResume {
  state: PreferenceState;
  policy: HostWeights;
  reference: HostWeights;
}

export type StageName = 'offline' | `online ${number}`;

export type PreferenceEvent =
  | { type: 'step'; stage: StageName; point: DpoStepPoint; globalStep: number; fraction: number; etaSeconds: number }
  | { type: 'eval'; stage: StageName; point: PolicyEval; globalStep: number; warnings: OverOptimisation[] }
  | { type: 'sampling'; stage: StageName; done: number; total: number }
  | { type: 'pairs'; stage: StageName; pairs: number; skipped: number }
  | { type: 'saved'; stage: StageName; modelId: string; name: string }
  | { type: 'checkpoint'; stage: StageName; step: number; globalStep: number; modelId: string; name: string }
  | { type: 'paused' }
  | { type: 'resumed' };

export interface PreferenceDeps {
  ctx: GpuContext;
  config: ModelConfig;
  tok: BpeTokenizer;
  arbiter: Arbiter;
  /** Offline pairs (required for offline modes). */
  pairs: DpoPair[];
  /** Prompts the online iterations sample on. */
  onlinePrompts: ArbitragePrompt[];
  /** Held-out prompts for the evaluations. */
  evalPrompts: ArbitragePrompt[];
  /** Saves a stage's model: finished (state null), or a resumable checkpoint / cancelled stage. One
   *  stage's saves go to one model. */
  save(weights: HostWeights, stage: StageName, info: Record<string, unknown>, state: PreferenceState | null): Promise<{ id: string; name: string }>;
  onEvent?(e: PreferenceEvent): void;
  shouldStop?(): boolean;
  waitIfPaused?(): Promise<void>;
}

export interface PreferenceOutcome {
  models: Array<{ stage: StageName; id: string; name: string }>;
  steps: Array<DpoStepPoint & { stage: StageName; globalStep: number }>;
  evals: Array<PolicyEval & { stage: StageName; globalStep: number }>;
  warnings: OverOptimisation[];
  stopped: 'done' | 'cancelled' | 'non-finite';
  error?: string;
  seconds: number;
}

export function validatePreferenceSpec(spec: PreferenceSpec, offlinePairs: number, onlinePrompts: number): void {
  if (!(PREFERENCE_MODES as readonly string[]).includes(spec.mode)) throw new Error(`unknown mode '${spec.mode}' (expected ${PREFERENCE_MODES.join(', ')})`);
  const offline = spec.mode !== 'online';
  const online = spec.mode !== 'offline';
  if (offline && offlinePairs === 0) throw new Error('offline DPO needs preference pairs (an arbitrage preference set, a TRL JSONL file or your preference clicks)');
  if (offline && !(Number.isInteger(spec.offlineSteps) && spec.offlineSteps >= 1)) throw new Error(`offline steps must be a positive integer, got ${spec.offlineSteps}`);
  if (online) {
    if (onlinePrompts === 0) throw new Error('online DPO needs prompts to sample on');
    if (!(Number.isInteger(spec.iterations) && spec.iterations >= 1)) throw new Error(`iterations must be a positive integer, got ${spec.iterations}`);
    if (!(Number.isInteger(spec.samplesPerPrompt) && spec.samplesPerPrompt >= 2)) throw new Error(`online DPO samples K ≥ 2 completions per prompt, got ${spec.samplesPerPrompt}`);
    if (!(Number.isInteger(spec.onlineSteps) && spec.onlineSteps >= 1)) throw new Error(`steps per iteration must be a positive integer, got ${spec.onlineSteps}`);
  }
  if (!(Number.isInteger(spec.evalEvery) && spec.evalEvery >= 0)) throw new Error(`eval every must be an integer ≥ 0, got ${spec.evalEvery}`);
}

/** K samples per prompt from `weights`, ranked by the Arbiter: best vs worst (equal rewards skipped). */
export async function samplePairs(
  deps: Pick<PreferenceDeps, 'ctx' | 'config' | 'tok' | 'arbiter' | 'shouldStop'>,
  weights: HostWeights,
  prompts: readonly ArbitragePrompt[],
  k: number,
  sampling: Omit<SamplingOptions, 'seed'>,
  seed: number,
  onProgress?: (done: number, total: number) => void,
): Promise<{ pairs: DpoPair[]; skipped: number }> {
  const model = AyaModel.fromHost(deps.ctx, deps.config, weights);
  const pairs: DpoPair[] = [];
  let skipped = 0;
  let done = 0;
  try {
    for (const p of prompts) {
      const scored: Array<{ text: string; reward: number }> = [];
      const promptIds = deps.tok.encodePrompt(p.prompt, p.language);
      if (deps.shouldStop?.()) return { pairs, skipped };
      // The K samples decode together (one step advances all): the same tokens as K generate() calls.
      const seeds = Array.from({ length: k }, (_, s) => deriveSeed(seed, p.id, s));
      const samples = await generateBatch(model, promptIds, sampling, seeds, deps.shouldStop);
      if (deps.shouldStop?.()) return { pairs, skipped };
      for (const sample of samples) {
        const ids = sample.ids.filter((id) => id !== deps.config.eosTokenId);
        const text = deps.tok.decode(ids, { skipSpecial: true });
        scored.push({ text, reward: deps.arbiter.score(p.prompt, text, p.language, p.reference).reward });
        onProgress?.(++done, prompts.length * k);
      }
      scored.sort((a, b) => b.reward - a.reward);
      const best = scored[0];
      const worst = scored[scored.length - 1];
      if (best.reward > worst.reward && best.text !== worst.text) pairs.push({ prompt: p.prompt, chosen: best.text, rejected: worst.text, language: p.language });
      else skipped++;
    }
  } finally {
    model.dispose();
  }
  return { pairs, skipped };
}

/** The stages a spec runs, in order. */
export function preferenceStages(spec: Pick<PreferenceSpec, 'mode' | 'iterations'>): StageName[] {
  const stages: StageName[] = [];
  if (spec.mode !== 'online') stages.push('offline');
  if (spec.mode !== 'offline') for (let i = 1; i <= spec.iterations; i++) stages.push(`online ${i}`);
  return stages;
}

export async function runPreferenceTraining(start: HostWeights, spec: PreferenceSpec, deps: PreferenceDeps, resume: PreferenceResume | null = null): Promise<PreferenceOutcome> {
  const t0 = performance.now();
  validatePreferenceSpec(spec, deps.pairs.length, deps.onlinePrompts.length);
  const stages = preferenceStages(spec);
  const stageSteps = (st: StageName) => (st === 'offline' ? spec.offlineSteps : spec.onlineSteps);
  const totalSteps = stages.reduce((s, st) => s + stageSteps(st), 0);
  const r0 = resume?.state;
  if (r0 && !(Number.isInteger(r0.stageIndex) && r0.stageIndex >= 0 && r0.stageIndex < stages.length)) throw new Error(`resume: stage ${r0.stageIndex} is not one of the run's ${stages.length} stages`);
  const out: PreferenceOutcome = { models: r0 ? [...r0.models] : [], steps: r0 ? [...r0.steps] : [], evals: r0 ? [...r0.evals] : [], warnings: [], stopped: 'done', seconds: 0 };
  out.warnings = overOptimisation(out.evals.map((e) => ({ ...e, step: e.globalStep })));
  const firstStage = r0?.stageIndex ?? 0;
  let policy = resume?.policy ?? start;
  let global = stages.slice(0, firstStage).reduce((s, st) => s + stageSteps(st), 0) + (r0?.dpo?.step ?? 0);
  const firstGlobal = global; // a resumed run times only the steps it takes itself
  const evalAt = async (weights: HostWeights, reference: HostWeights, stage: StageName) => {
    const point = await evaluatePolicy(deps.ctx, deps.config, weights, reference, deps.tok, deps.evalPrompts, deps.arbiter, spec.sampling, spec.dpo.seed, global, deps.shouldStop);
    // An evaluation cut short by a cancel is not a point of the curves (nor of a resumed run's).
    if (deps.shouldStop?.()) return;
    out.evals.push({ ...point, stage, globalStep: global });
    const warnings = overOptimisation(out.evals.map((e) => ({ ...e, step: e.globalStep })));
    out.warnings = warnings;
    deps.onEvent?.({ type: 'eval', stage, point, globalStep: global, warnings });
  };
  // The starting point, so every curve has a "before".
  if (!resume && deps.evalPrompts.length) await evalAt(start, start, stages[0]);
  for (let si = firstStage; si < stages.length; si++) {
    const stage = stages[si];
    if (deps.shouldStop?.()) {
      out.stopped = 'cancelled';
      break;
    }
    const resumed = si === firstStage ? r0 : undefined;
    // Offline: the SFT model; online: the policy at the iteration's start.
    const reference = resumed ? resume!.reference : policy;
    const stateAt = (dpo: DpoState | null, pairs: DpoPair[] | null, skipped: number): PreferenceState => ({ stageIndex: si, dpo, pairs, skipped, steps: [...out.steps], evals: [...out.evals], models: [...out.models] });
    const checkpoint = async (weights: HostWeights, step: number, state: PreferenceState) => {
      const saved = await deps.save(weights, stage, { stage, steps: step, stage_index: si, status: `checkpoint at step ${step} of ${stageSteps(stage)}` }, state);
      deps.onEvent?.({ type: 'checkpoint', stage, step, globalStep: global, modelId: saved.id, name: saved.name });
    };
    // A later stage's start is a checkpoint too: an interruption while it samples loses nothing.
    if (!resumed && si > 0 && spec.checkpointEvery) await checkpoint(policy, 0, stateAt(null, null, 0));
    let pairs = deps.pairs;
    let skipped = resumed?.skipped ?? 0;
    if (stage !== 'offline') {
      if (resumed?.pairs) pairs = resumed.pairs;
      else {
        const iter = Number(stage.split(' ')[1]);
        const r = await samplePairs(deps, reference, deps.onlinePrompts, spec.samplesPerPrompt, spec.sampling, deriveSeed(spec.dpo.seed, 'online', iter), (done, total) => deps.onEvent?.({ type: 'sampling', stage, done, total }));
        if (deps.shouldStop?.()) {
          out.stopped = 'cancelled';
          break;
        }
        pairs = r.pairs;
        skipped = r.skipped;
        deps.onEvent?.({ type: 'pairs', stage, pairs: r.pairs.length, skipped: r.skipped });
      }
      if (pairs.length === 0) throw new Error(`${stage}: every prompt's ${spec.samplesPerPrompt} samples scored the same — no preference pairs; raise the temperature or K`);
    }
    const onlinePairs = stage === 'offline' ? null : pairs;
    const before = global - (resumed?.dpo?.step ?? 0);
    const r = await runDpo(
      deps.ctx,
      deps.config,
      policy,
      reference,
      deps.tok,
      pairs,
      { ...spec.dpo, steps: stageSteps(stage), seed: deriveSeed(spec.dpo.seed, stage) },
      {
        shouldStop: deps.shouldStop,
        waitIfPaused: deps.waitIfPaused,
        evalEvery: spec.evalEvery,
        onStep: (point) => {
          global = before + point.step;
          out.steps.push({ ...point, stage, globalStep: global });
          const fraction = global / totalSteps;
          const perStep = (performance.now() - t0) / 1000 / (global - firstGlobal);
          deps.onEvent?.({ type: 'step', stage, point, globalStep: global, fraction, etaSeconds: perStep * (totalSteps - global) });
        },
        onEval: deps.evalPrompts.length ? (w) => evalAt(w, reference, stage) : undefined,
        checkpointEvery: spec.checkpointEvery,
        onCheckpoint: (w, step, dpoState) => checkpoint(w, step, stateAt(dpoState, onlinePairs, skipped)),
      },
      resumed?.dpo ?? null,
    );
    global = before + r.steps;
    if (r.steps > 0) {
      const state = r.stopped === 'cancelled' && r.state ? stateAt(r.state, onlinePairs, skipped) : null;
      const status = r.stopped === 'done' ? 'complete' : r.stopped === 'cancelled' ? `cancelled at step ${r.steps}` : `stopped: ${r.error}`;
      const saved = await deps.save(r.weights, stage, { stage, steps: r.steps, pairs: pairs.length, stopped: r.stopped, error: r.error ?? null, stage_index: si, status }, state);
      out.models.push({ stage, ...saved });
      deps.onEvent?.({ type: 'saved', stage, modelId: saved.id, name: saved.name });
    }
    policy = r.weights;
    if (r.stopped !== 'done') {
      out.stopped = r.stopped;
      out.error = r.error;
      break;
    }
  }
  out.seconds = (performance.now() - t0) / 1000;
  return out;
}
