// One training run at a time for the page: the job (in the tab's worker or on the desktop runtime), its live telemetry (every step's
// loss, the held-out evaluations, the checkpoints) and how it ended. The record is saved to
// IndexedDB as it grows, so the last run's charts come back after a reload; the models themselves
// (checkpoints and result) are saved by the engine.
import type { ModelSummary, TrainEvent, TrainRequest, TrainResult } from '../../engine/api.ts';
import type { EvalPoint, StepPoint } from '../../train/sft.ts';
import { PersistedRun, type RunBase, type RunStatus } from '../common/persistedRun.svelte.ts';
import { modelList } from '../models/modelList.svelte.ts';

export { isActive, type RunStatus } from '../common/persistedRun.svelte.ts';

export interface RunRecord extends RunBase {
  startedAt: string;
  /** What was asked (imported pairs by count and file name only). */
  request: Omit<TrainRequest, 'pairs'> & { pairs: number; pairsFile: string | null };
  startModelName: string;
  /** Languages with a positive weight, in mix order. */
  languages: string[];
  steps: StepPoint[];
  evals: EvalPoint[];
  checkpoints: Array<{ step: number; modelId: string; modelName: string }>;
  status: RunStatus;
  fraction: number;
  etaSeconds: number | null;
  /** Set when the engine answered. */
  result: { modelId: string | null; modelName: string | null; steps: number; seconds: number; error: string | null } | null;
  /** An exception (the job did not run or broke), verbatim. */
  error: string | null;
}

/** What a saved SFT model's playground.json says of the run that made it, when that run can be
 *  resumed (it keeps its optimizer state and has steps left). */
export interface ResumableTraining {
  mix?: Array<{ language: string; weight: number }>;
  pairs?: number;
  udhr?: boolean;
  steps: number;
  steps_done: number;
  batch_size: number;
  seq_len: number;
  lr: number;
  seed: number;
  status?: string;
}

export function resumableTraining(m: ModelSummary): ResumableTraining | null {
  const t = (m.playground as { training?: ResumableTraining & { resumable?: boolean } } | null)?.training;
  if (!t?.resumable || !Number.isInteger(t.steps_done) || !Number.isInteger(t.steps) || t.steps_done >= t.steps) return null;
  return t;
}

class TrainRun extends PersistedRun<RunRecord, 'train'> {
  constructor() {
    super('train.lastRun', 'train');
  }

  start(req: TrainRequest, meta: { startModelName: string; pairsFile: string | null }): Promise<void> {
    return this.launch(req, this.record(req, meta));
  }

  /**
   * The saved model this ended run can be resumed from, with its step: the cancelled run's result,
   * else (interrupted, failed) its last checkpoint — when that model still holds its optimizer state.
   */
  resumable(): { modelId: string; step: number } | null {
    const r = this.run;
    if (!r || this.active || r.status === 'done') return null;
    const at = r.status === 'cancelled' && r.result?.modelId ? { modelId: r.result.modelId, step: r.result.steps } : r.checkpoints.at(-1) ?? null;
    if (!at) return null;
    const m = modelList.items.find((x) => x.id === at.modelId);
    const training = m ? resumableTraining(m) : null;
    if (!training || training.steps_done !== at.step) return null;
    return { modelId: at.modelId, step: at.step };
  }

  /** Continues a run saved in the library (a checkpoint or a cancelled run that keeps its optimizer
   *  state) that this page has no record of — e.g. one listed after the desktop runtime restarted.
   *  The record starts from what the model's playground.json says; the job's first event brings
   *  the exact request and the curves so far. */
  resumeModel(m: ModelSummary): Promise<void> {
    const t = resumableTraining(m);
    if (!t) return Promise.resolve();
    const parent = (m.playground as { parent?: { id?: string; name?: string } } | null)?.parent;
    const req: TrainRequest = {
      modelId: parent?.id ?? m.id,
      name: m.name,
      mix: (t.mix ?? []).map((x) => ({ ...x })),
      useCorpus: t.udhr ?? true,
      steps: t.steps,
      batchSize: t.batch_size,
      seqLen: t.seq_len,
      lr: t.lr,
      seed: t.seed,
      evalEvery: 0,
      checkpointEvery: 0,
      resumeFrom: m.id,
    };
    const record = this.record(req, { startModelName: parent?.name ?? '(unknown)', pairsFile: null });
    record.request.pairs = t.pairs ?? 0;
    record.checkpoints = [{ step: t.steps_done, modelId: m.id, modelName: m.name }];
    record.fraction = t.steps_done / t.steps;
    return this.launch(req, record);
  }

  /** Continues the last run from its saved state; its charts go on from that step. */
  resumeRun(): Promise<void> {
    const at = this.resumable();
    const r = this.run;
    if (!at || !r) return Promise.resolve();
    // The engine takes the run's own request from the checkpoint; these fields only describe it here.
    const { pairs: _pairs, pairsFile: _file, ...described } = r.request;
    // A plain copy: the record is reactive state, which a worker's postMessage cannot clone.
    const req: TrainRequest = $state.snapshot({ ...described, mix: described.mix, resumeFrom: at.modelId });
    const record: RunRecord = {
      ...r,
      request: { ...r.request, resumeFrom: at.modelId },
      steps: r.steps.filter((p) => p.step <= at.step),
      evals: r.evals.filter((e) => e.step <= at.step),
      checkpoints: r.checkpoints.filter((c) => c.step <= at.step),
      status: 'starting',
      fraction: at.step / r.request.steps,
      etaSeconds: null,
      result: null,
      error: null,
      job: null,
    };
    return this.launch(req, record);
  }

  protected recordOf(req: TrainRequest): RunRecord {
    return this.record(req, { startModelName: modelList.items.find((m) => m.id === req.modelId)?.name ?? req.modelId, pairsFile: req.pairs?.length ? 'pairs' : null });
  }

  private record(req: TrainRequest, meta: { startModelName: string; pairsFile: string | null }): RunRecord {
    const { pairs, ...rest } = req;
    return {
      startedAt: new Date().toISOString(),
      request: { ...rest, mix: rest.mix.map((m) => ({ ...m })), pairs: pairs?.length ?? 0, pairsFile: meta.pairsFile },
      startModelName: meta.startModelName,
      languages: req.mix.filter((m) => m.weight > 0).map((m) => m.language),
      steps: [],
      evals: [],
      checkpoints: [],
      status: 'starting',
      fraction: 0,
      etaSeconds: null,
      result: null,
      error: null,
    };
  }

  protected apply(r: RunRecord, e: TrainEvent): boolean {
    switch (e.type) {
      case 'step':
        if (r.status === 'starting') r.status = 'running';
        r.steps.push(e.point);
        r.fraction = e.fraction;
        r.etaSeconds = e.etaSeconds;
        return false;
      case 'eval':
        r.evals.push(e.point);
        return false;
      case 'checkpoint':
        r.checkpoints.push({ step: e.step, modelId: e.model.id, modelName: e.model.name });
        void modelList.refresh();
        return false;
      case 'paused':
        r.status = 'paused';
        return true;
      case 'resumed':
        r.status = 'running';
        return true;
      case 'continues':
        // The checkpoint's own account of the run so far (exact, even where this record had less).
        r.request = { ...e.request, pairsFile: r.request.pairsFile, resumeFrom: e.checkpoint.id };
        r.languages = e.request.mix.filter((m) => m.weight > 0).map((m) => m.language);
        r.steps = [...e.steps];
        r.evals = [...e.evals];
        r.checkpoints = r.checkpoints.filter((c) => c.step < e.from);
        r.checkpoints.push({ step: e.from, modelId: e.checkpoint.id, modelName: e.checkpoint.name });
        r.fraction = e.from / e.request.steps;
        return true;
    }
  }

  protected settle(r: RunRecord, res: TrainResult): Partial<RunRecord> {
    return {
      result: { modelId: res.model?.id ?? null, modelName: res.model?.name ?? null, steps: res.steps, seconds: res.seconds, error: res.error ?? null },
      status: res.stopped,
      fraction: res.steps / r.request.steps,
      etaSeconds: null,
    };
  }

  protected clear(r: RunRecord): void {
    r.steps = [];
    r.evals = [];
    r.checkpoints = [];
  }
}

/** One for the page, not per panel mount: a run goes on (and its charts fill) while another panel is open. */
export const trainRun = new TrainRun();
