// One training run at a time for the page: the job in the worker, its live telemetry (every step's
// loss, the held-out evaluations, the checkpoints) and how it ended. The record is saved to
// IndexedDB as it grows, so the last run's charts come back after a reload; the models themselves
// (checkpoints and result) are saved by the engine.
import * as Comlink from 'comlink';
import type { TrainEvent, TrainRequest, TrainResult } from '../../engine/engine.ts';
import type { EvalPoint, StepPoint } from '../../train/sft.ts';
import { load, save } from '../../store/persist.ts';
import { engine, newJobId } from '../engineClient.svelte.ts';
import { modelList } from '../models/modelList.svelte.ts';

export type RunStatus = 'starting' | 'running' | 'paused' | 'done' | 'cancelled' | 'non-finite' | 'error' | 'interrupted';

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

const KEY = 'train.lastRun';
const SAVE_EVERY_MS = 1000;

export const isActive = (s: RunStatus | undefined) => s === 'starting' || s === 'running' || s === 'paused';

class TrainRun {
  run = $state<RunRecord | null>(null);
  /** Pause asked, not yet reached (the engine pauses between steps). */
  pausing = $state(false);
  cancelling = $state(false);
  saveError = $state<string | null>(null);
  restored = $state(false);
  private jobId: string | null = null;
  private lastSave = 0;
  private saveTimer: ReturnType<typeof setTimeout> | null = null;

  /** The last run from storage; one that was still running when the page went away is marked so. */
  async restore(): Promise<void> {
    if (this.restored) return;
    this.restored = true;
    if (this.run) return;
    try {
      const saved = await load<RunRecord>(KEY);
      if (!saved || this.run) return;
      if (isActive(saved.status)) saved.status = 'interrupted';
      this.run = saved;
    } catch (e) {
      this.saveError = `Could not read the last run: ${(e as Error).message}`;
    }
  }

  get active(): boolean {
    return isActive(this.run?.status);
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
    // Saved before it is shown: once the page says how the run ended, a reload says the same.
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = null;
    await this.saveNow({ ...$state.snapshot(r), ...final });
    Object.assign(r, final);
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

  cancel(): void {
    if (!this.jobId) return;
    this.cancelling = true;
    void engine.api?.cancel(this.jobId); // also lets a paused run go on to its end
  }

  /** Saves the record now, or at most once a second while steps stream in. */
  private persist(now: boolean): void {
    if (now && this.saveTimer) {
      clearTimeout(this.saveTimer);
      this.saveTimer = null;
    }
    if (this.saveTimer) return;
    const wait = now ? 0 : Math.max(0, SAVE_EVERY_MS - (Date.now() - this.lastSave));
    this.saveTimer = setTimeout(() => {
      this.saveTimer = null;
      if (this.run) void this.saveNow($state.snapshot(this.run));
    }, wait);
  }

  private async saveNow(record: RunRecord): Promise<void> {
    this.lastSave = Date.now();
    try {
      await save(KEY, record);
      this.saveError = null;
    } catch (e) {
      this.saveError = `The run's charts could not be saved for a reload: ${(e as Error).message}`;
    }
  }
}

/** One for the page, not per panel mount: a run goes on (and its charts fill) while another panel is open. */
export const trainRun = new TrainRun();
