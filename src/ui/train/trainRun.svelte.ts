// One training run at a time for the page: the job in the worker, its live telemetry (every step's
// loss, the held-out evaluations, the checkpoints) and how it ended. The record is saved to
// IndexedDB as it grows, so the last run's charts come back after a reload; the models themselves
// (checkpoints and result) are saved by the engine.
import * as Comlink from 'comlink';
import type { TrainEvent, TrainRequest, TrainResult } from '../../engine/engine.ts';
import type { EvalPoint, StepPoint } from '../../train/sft.ts';
import { PersistedRun, type RunStatus } from '../common/persistedRun.svelte.ts';
import { engine, newJobId } from '../engineClient.svelte.ts';
import { modelList } from '../models/modelList.svelte.ts';

export { isActive, type RunStatus } from '../common/persistedRun.svelte.ts';

export interface RunRecord {
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

class TrainRun extends PersistedRun<RunRecord> {
  /** Pause asked, not yet reached (the engine pauses between steps). */
  pausing = $state(false);

  constructor() {
    super('train.lastRun');
  }

  async start(req: TrainRequest, meta: { startModelName: string; pairsFile: string | null }): Promise<void> {
    if (this.active) return;
    const { pairs, ...rest } = req;
    const jobId = newJobId('train');
    this.jobId = jobId;
    this.pausing = false;
    this.cancelling = false;
    const run: RunRecord = {
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
    this.run = run;
    const r = this.run; // the reactive proxy
    this.persist(true);
    const onEvent = (e: TrainEvent) => {
      if (this.jobId !== jobId) return;
      switch (e.type) {
        case 'step':
          if (r.status === 'starting') r.status = 'running';
          r.steps.push(e.point);
          r.fraction = e.fraction;
          r.etaSeconds = e.etaSeconds;
          break;
        case 'eval':
          r.evals.push(e.point);
          break;
        case 'checkpoint':
          r.checkpoints.push({ step: e.step, modelId: e.model.id, modelName: e.model.name });
          void modelList.refresh();
          break;
        case 'paused':
          r.status = 'paused';
          this.pausing = false;
          break;
        case 'resumed':
          r.status = 'running';
          break;
      }
      this.persist(e.type !== 'step');
    };
    let final: Partial<RunRecord>;
    try {
      const res: TrainResult = await engine.ready().train(jobId, req, Comlink.proxy(onEvent));
      final = {
        result: { modelId: res.model?.id ?? null, modelName: res.model?.name ?? null, steps: res.steps, seconds: res.seconds, error: res.error ?? null },
        status: res.stopped,
        fraction: res.steps / req.steps,
        etaSeconds: null,
      };
    } catch (e) {
      final = { status: 'error', error: (e as Error).message, etaSeconds: null };
    }
    await this.finish(r, final);
    if (this.jobId === jobId) this.jobId = null;
    this.pausing = false;
    this.cancelling = false;
    void modelList.refresh();
  }

  pause(): void {
    if (!this.jobId || this.run?.status !== 'running') return;
    this.pausing = true;
    void engine.api?.pause(this.jobId);
  }

  resume(): void {
    if (!this.jobId) return;
    this.pausing = false;
    void engine.api?.resume(this.jobId);
  }
}

/** One for the page, not per panel mount: a run goes on (and its charts fill) while another panel is open. */
export const trainRun = new TrainRun();
