// One preference-training (DPO) run at a time for the page: the job in the worker, its live
// telemetry (every step's TRL metrics, the evaluations, the over-optimisation warnings, the saved
// stage models) and how it ended. The record is saved to IndexedDB as it grows, so the last run's
// charts come back after a reload or a panel switch; the models themselves are saved by the engine.
import type { DpoRequest } from '../../engine/api.ts';
import type { DpoStepPoint } from '../../train/dpo.ts';
import type { OverOptimisation, PolicyEval } from '../../train/dpoEval.ts';
import type { PreferenceEvent, PreferenceOutcome, StageName } from '../../train/preference.ts';
import { PersistedRun, isActive, type RunBase, type RunStatus } from '../common/persistedRun.svelte.ts';
import { modelList } from '../models/modelList.svelte.ts';

export { isActive, type RunStatus } from '../common/persistedRun.svelte.ts';

export type StepRecord = DpoStepPoint & { stage: StageName; globalStep: number };
export type EvalRecord = PolicyEval & { stage: StageName; globalStep: number };

export interface RunRequest extends Omit<DpoRequest, 'pairs' | 'onlinePrompts' | 'evalPrompts' | 'weights'> {
  /** Offline pairs, by count and where they came from. */
  pairs: number;
  pairsLabel: string | null;
  languages: string[];
  onlinePerLanguage: number;
  evalPerLanguage: number;
}

export interface RunRecord extends RunBase {
  startedAt: string;
  request: RunRequest;
  policyName: string;
  /** The stages in order, and the global step each one starts after. */
  stages: Array<{ stage: StageName; startsAfter: number; steps: number }>;
  totalSteps: number;
  steps: StepRecord[];
  evals: EvalRecord[];
  warnings: OverOptimisation[];
  models: Array<{ stage: StageName; id: string; name: string }>;
  /** Resumable checkpoints as they were saved (a stage's go into that stage's model). */
  checkpoints?: Array<{ stage: StageName; step: number; globalStep: number; modelId: string; name: string }>;
  /** Online iterations: the pairs the policy's own samples gave (best vs worst by the Arbiter). */
  onlinePairs: Array<{ stage: StageName; pairs: number; skipped: number }>;
  /** What the job is doing now, for the status line. */
  stage: StageName | null;
  phase: 'preparing' | 'evaluating' | 'sampling' | 'training' | 'saving' | null;
  sampling: { done: number; total: number } | null;
  status: RunStatus;
  fraction: number;
  etaSeconds: number | null;
  result: { stopped: PreferenceOutcome['stopped']; error: string | null; seconds: number } | null;
  /** An exception (the job did not run or broke), verbatim. */
  error: string | null;
}

/** The stages a request runs, in order (as runPreferenceTraining plans them). */
export function planStages(req: Pick<DpoRequest, 'mode' | 'offlineSteps' | 'onlineSteps' | 'iterations'>): RunRecord['stages'] {
  const out: RunRecord['stages'] = [];
  let at = 0;
  if (req.mode !== 'online') {
    out.push({ stage: 'offline', startsAfter: at, steps: req.offlineSteps });
    at += req.offlineSteps;
  }
  if (req.mode !== 'offline') {
    for (let i = 1; i <= req.iterations; i++) {
      out.push({ stage: `online ${i}`, startsAfter: at, steps: req.onlineSteps });
      at += req.onlineSteps;
    }
  }
  return out;
}

class PreferenceRun extends PersistedRun<RunRecord, 'dpo'> {
  constructor() {
    super('preference.lastRun', 'dpo');
  }

  protected override interrupt(saved: RunRecord): void {
    saved.status = 'interrupted';
    saved.phase = null;
  }

  /**
   * Where this ended run can be resumed from: the stage model (a cancelled stage, or the last
   * checkpoint) furthest along that still holds the run's state, with its stage and step.
   */
  resumable(): { modelId: string; name: string; stage: StageName; step: number; globalStep: number } | null {
    const r = this.run;
    if (!r || this.active || r.status === 'done') return null;
    let best: ReturnType<PreferenceRun['resumable']> = null;
    for (const c of [...r.models, ...(r.checkpoints ?? []).map((x) => ({ stage: x.stage, id: x.modelId, name: x.name }))]) {
      const m = modelList.items.find((x) => x.id === c.id);
      const pref = (m?.playground as { preference?: { resumable?: boolean; steps?: number; stage?: string } } | null)?.preference;
      const stage = r.stages.find((s) => s.stage === pref?.stage);
      if (!pref?.resumable || !stage || !Number.isInteger(pref.steps)) continue;
      const globalStep = stage.startsAfter + pref.steps!;
      if (!best || globalStep > best.globalStep) best = { modelId: c.id, name: c.name, stage: stage.stage, step: pref.steps!, globalStep };
    }
    return best;
  }

  /** Continues the last run from its saved stage state; its charts go on from that step. */
  resumeRun(): Promise<void> {
    const at = this.resumable();
    const r = this.run;
    if (!at || !r) return Promise.resolve();
    const si = r.stages.findIndex((s) => s.stage === at.stage);
    const before = (stage: StageName, orSame: boolean) => {
      const i = r.stages.findIndex((s) => s.stage === stage);
      return i < si || (orSame && i === si);
    };
    // The engine takes the run's own request from the checkpoint; these fields only describe it here.
    const { pairs: _p, pairsLabel: _l, languages: _g, onlinePerLanguage: _o, evalPerLanguage: _e, ...described } = r.request;
    // A plain copy: the record is reactive state, which a worker's postMessage cannot clone.
    const req = $state.snapshot({ ...described, resumeFrom: at.modelId }) as DpoRequest;
    const record: RunRecord = {
      ...r,
      request: { ...r.request, resumeFrom: at.modelId },
      steps: r.steps.filter((p) => p.globalStep <= at.globalStep),
      evals: r.evals.filter((e) => e.globalStep <= at.globalStep),
      models: r.models.filter((m) => before(m.stage, false)),
      checkpoints: (r.checkpoints ?? []).filter((c) => c.globalStep <= at.globalStep),
      // The stage's pairs were sampled before any of its steps.
      onlinePairs: r.onlinePairs.filter((o) => before(o.stage, at.step > 0)),
      stage: at.stage,
      phase: 'preparing',
      sampling: null,
      status: 'starting',
      fraction: at.globalStep / r.totalSteps,
      etaSeconds: null,
      result: null,
      error: null,
      job: null,
    };
    return this.launch(req, record, { phase: null, sampling: null });
  }

  start(req: DpoRequest, meta: { policyName: string; pairsLabel: string | null; languages: string[]; onlinePerLanguage: number; evalPerLanguage: number }): Promise<void> {
    return this.launch(req, this.record(req, meta), { phase: null, sampling: null });
  }

  protected recordOf(req: DpoRequest): RunRecord {
    const langs = req.onlinePrompts?.languages ?? req.evalPrompts?.languages ?? [...new Set((req.pairs ?? []).map((p) => p.language))];
    return this.record(req, {
      policyName: modelList.items.find((m) => m.id === req.modelId)?.name ?? req.modelId,
      pairsLabel: req.pairs?.length ? `${req.pairs.length} pairs` : null,
      languages: langs,
      onlinePerLanguage: req.onlinePrompts?.perLanguage ?? 0,
      evalPerLanguage: req.evalPrompts?.perLanguage ?? 0,
    });
  }

  private record(req: DpoRequest, meta: { policyName: string; pairsLabel: string | null; languages: string[]; onlinePerLanguage: number; evalPerLanguage: number }): RunRecord {
    const stages = planStages(req);
    const { pairs, onlinePrompts: _o, evalPrompts: _e, weights: _w, ...rest } = req;
    return {
      startedAt: new Date().toISOString(),
      request: { ...rest, sampling: { ...rest.sampling }, pairs: req.mode === 'online' ? 0 : (pairs?.length ?? 0), ...meta, languages: [...meta.languages] },
      policyName: meta.policyName,
      stages,
      totalSteps: stages.reduce((s, x) => s + x.steps, 0),
      steps: [],
      evals: [],
      warnings: [],
      models: [],
      checkpoints: [],
      onlinePairs: [],
      stage: stages[0]?.stage ?? null,
      phase: 'preparing',
      sampling: null,
      status: 'starting',
      fraction: 0,
      etaSeconds: null,
      result: null,
      error: null,
    };
  }

  protected apply(r: RunRecord, e: PreferenceEvent): boolean {
    if (e.type === 'paused' || e.type === 'resumed') {
      // The engine's word that it really paused (before its next step) or resumed.
      r.status = e.type === 'paused' ? 'paused' : 'running';
      return true;
    }
    const stages = r.stages;
    const evaluating = r.request.evalPerLanguage > 0;
    if (r.status === 'starting') r.status = 'running';
    r.stage = e.stage;
    switch (e.type) {
      case 'step': {
        r.steps.push({ ...e.point, stage: e.stage, globalStep: e.globalStep });
        r.fraction = e.fraction;
        r.etaSeconds = Number.isFinite(e.etaSeconds) ? e.etaSeconds : null;
        const st = stages.find((s) => s.stage === e.stage);
        const last = st ? e.point.step >= st.steps : false;
        // What comes next: an evaluation (every N steps and at the stage's end), saving, or the next step.
        r.phase = evaluating && (last || (r.request.evalEvery > 0 && e.point.step % r.request.evalEvery === 0)) ? 'evaluating' : last ? 'saving' : 'training';
        break;
      }
      case 'eval': {
        r.evals.push({ ...e.point, stage: e.stage, globalStep: e.globalStep });
        r.warnings = e.warnings;
        if (r.steps.length === 0) r.phase = e.stage === 'offline' ? 'training' : 'sampling'; // the starting point
        else {
          const st = stages.find((s) => s.stage === e.stage);
          r.phase = st && e.globalStep >= st.startsAfter + st.steps ? 'saving' : 'training';
        }
        break;
      }
      case 'sampling':
        r.phase = 'sampling';
        r.sampling = { done: e.done, total: e.total };
        break;
      case 'pairs':
        r.onlinePairs.push({ stage: e.stage, pairs: e.pairs, skipped: e.skipped });
        r.phase = 'training';
        r.sampling = null;
        break;
      case 'checkpoint':
        (r.checkpoints ??= []).push({ stage: e.stage, step: e.step, globalStep: e.globalStep, modelId: e.modelId, name: e.name });
        void modelList.refresh();
        break;
      case 'saved': {
        r.models.push({ stage: e.stage, id: e.modelId, name: e.name });
        const i = stages.findIndex((s) => s.stage === e.stage);
        const next = stages[i + 1];
        if (next) {
          r.stage = next.stage;
          r.phase = next.stage === 'offline' ? 'training' : 'sampling';
        } else r.phase = null;
        void modelList.refresh();
        break;
      }
    }
    return false;
  }

  protected settle(r: RunRecord, res: PreferenceOutcome): Partial<RunRecord> {
    return {
      result: { stopped: res.stopped, error: res.error ?? null, seconds: res.seconds },
      status: res.stopped,
      warnings: res.warnings,
      fraction: r.totalSteps ? res.steps.length / r.totalSteps : 1,
      etaSeconds: null,
      phase: null,
      sampling: null,
    };
  }

  protected clear(r: RunRecord): void {
    r.steps = [];
    r.evals = [];
    r.warnings = [];
    r.models = [];
    r.checkpoints = [];
    r.onlinePairs = [];
    r.stage = r.stages[0]?.stage ?? null;
    r.phase = 'preparing';
    r.sampling = null;
  }

  /** The engine pauses before its next optimizer step (a sampling round or an evaluation finishes first). */
  override pause(): void {
    if (!this.job || !this.run || !isActive(this.run.status) || this.run.status === 'paused') return;
    const run = this.run;
    run.status = 'paused';
    this.job.pause().catch((e: Error) => ((run.status = 'running'), (run.error = `Pause did not reach the engine: ${e.message}`)));
    this.persist(true);
  }

  override resume(): void {
    if (!this.job || !this.run) return;
    const run = this.run;
    run.status = 'running';
    this.job.resume().catch((e: Error) => (run.error = `Resume did not reach the engine: ${e.message}`));
    this.persist(true);
  }
}

/** One for the page, not per panel mount: a run goes on (and its charts fill) while another panel is open. */
export const preferenceRun = new PreferenceRun();
