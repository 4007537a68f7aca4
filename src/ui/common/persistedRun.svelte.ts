// What a page-wide run (one job at a time: training, preference training) keeps besides its own
// telemetry: its record in IndexedDB under one key, saved as it grows (at once for a change of
// state, at most once a second while steps stream in) and read back after a reload; the job it
// follows; cancelling and pausing. A run on the desktop runtime goes on when the page reloads or
// closes: the record names the job, and after a reload the run re-attaches to it and rebuilds its
// charts from the job's whole history. A run in this tab dies with the page and is marked so.
import type { Job, JobKind, JobEvent, JobRequest, JobResult } from '../../engine/api.ts';
import { DETACHED } from '../../engine/protocol.ts';
import { load, save } from '../../store/persist.ts';
import { engine, type Side } from '../engineClient.svelte.ts';
import { modelList } from '../models/modelList.svelte.ts';

export type RunStatus = 'starting' | 'running' | 'paused' | 'done' | 'cancelled' | 'non-finite' | 'error' | 'interrupted';

export const isActive = (s: RunStatus | undefined) => s === 'starting' || s === 'running' || s === 'paused';

const SAVE_EVERY_MS = 1000;

export interface RunBase {
  status: RunStatus;
  error: string | null;
  etaSeconds: number | null;
  /** The job behind the run and where it runs (absent in records saved before jobs had ids). */
  job?: { id: string; side: Side } | null;
}

export abstract class PersistedRun<R extends RunBase, K extends JobKind> {
  run = $state<R | null>(null);
  cancelling = $state(false);
  /** Pause asked, not yet reached (the engine pauses between steps). */
  pausing = $state(false);
  saveError = $state<string | null>(null);
  restored = $state(false);
  /** Following a runtime job again after a reload. */
  reattaching = $state(false);
  protected job: Job<K> | null = null;
  private readonly key: string;
  private lastSave = 0;
  private saveTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    key: string,
    private readonly kind: K,
  ) {
    this.key = key;
  }

  /** The record a job of this kind starts from (its request as the run shows it). */
  protected abstract recordOf(request: JobRequest<K>): R;

  /** One event into the record; true when it changes the run's state (saved at once). */
  protected abstract apply(r: R, e: JobEvent<K>): boolean;
  /** The record's fields once the job gave its result (done, or cancelled with a partial result). */
  protected abstract settle(r: R, result: JobResult<K>): Partial<R>;
  /** Empties the telemetry before a job's history is replayed into it. */
  protected abstract clear(r: R): void;
  /** Also marks a record that was still running when the page went away (e.g. its phase). */
  protected interrupt(saved: R): void {
    saved.status = 'interrupted';
  }

  /** The last run from storage. One that was running on the desktop runtime is followed again; one
   *  that was running in this tab is marked interrupted. */
  async restore(): Promise<void> {
    if (this.restored) return;
    this.restored = true;
    if (this.run) return;
    let saved: R | undefined;
    try {
      saved = await load<R>(this.key);
    } catch (e) {
      this.saveError = `Could not read the last run: ${(e as Error).message}`;
      return;
    }
    if (!saved || this.run) return;
    if (isActive(saved.status) && saved.job?.side === 'runtime') {
      this.run = saved;
      await this.reattach(saved.job.id);
      return;
    }
    if (isActive(saved.status)) this.interrupt(saved);
    this.run = saved;
  }

  private async reattach(jobId: string): Promise<void> {
    this.reattaching = true;
    const r = this.run!;
    try {
      await engine.booted;
      if (!engine.ensureRuntime()) throw new Error('no desktop runtime to connect to (open the URL that `aya-playground serve` printed)');
      await engine.runtime.whenReady();
      const job = await engine.runtime.api!.attach<K>(jobId);
      this.clear(r);
      void this.follow(job, 'runtime');
    } catch (e) {
      this.interrupt(r);
      r.error = `Could not follow the job on the desktop runtime again: ${(e as Error).message}`;
      this.persist(true);
    } finally {
      this.reattaching = false;
    }
  }

  get active(): boolean {
    return isActive(this.run?.status);
  }

  /** Starts the job for `record` and follows it; a job that cannot start ends the record 'error'
   *  (with `failed`'s fields too). */
  protected async launch(request: JobRequest<K>, record: R, failed: Partial<R> = {}): Promise<void> {
    if (this.active) return;
    this.cancelling = false;
    this.pausing = false;
    this.run = record;
    let job: Job<K>;
    try {
      job = engine.ready().start(this.kind, request);
    } catch (e) {
      await this.finish(this.run, { status: 'error', error: (e as Error).message, etaSeconds: null, ...failed } as Partial<R>);
      return;
    }
    await this.follow(job);
  }

  /** Shows a job started elsewhere (another tab, before a reload) from its whole history. */
  async adopt(job: Job<K>): Promise<void> {
    if (this.active) throw new Error('A run is in progress here; cancel it or wait for it first.');
    if (!job.request) throw new Error(`job ${job.id}: its request is not known`);
    this.cancelling = false;
    this.pausing = false;
    this.run = this.recordOf(job.request);
    await this.follow(job);
  }

  /** Follows `job` (running on `side`) into the current record until it ends; the record says how
   *  it ended. */
  protected async follow(job: Job<K>, side: Side = engine.side): Promise<void> {
    const r = this.run!;
    this.job = job;
    r.job = { id: job.id, side };
    this.persist(true);
    const off = job.on((e) => {
      if (this.job !== job) return;
      if (this.apply(r, e)) this.pausing = false;
      this.persist(this.stateEvent(e));
    });
    const o = await job.outcome;
    off();
    if (o.status === 'failed' && o.error === DETACHED) {
      // This tab let go of the connection; the job goes on there, and the record stays active so
      // that a reload (or "Show charts") follows it again.
      if (this.job === job) this.job = null;
      this.persist(true);
      return;
    }
    let final: Partial<R>;
    if (o.status === 'failed') final = { status: 'error', error: o.error, etaSeconds: null } as Partial<R>;
    else if (o.result !== null) final = this.settle(r, o.result);
    else final = { status: 'cancelled', etaSeconds: null } as Partial<R>;
    await this.finish(r, final);
    if (this.job === job) this.job = null;
    this.pausing = false;
    this.cancelling = false;
    void modelList.refresh(); // the models the job saved
  }

  /** Events other than a step (evaluations, checkpoints, pauses) are saved at once. */
  private stateEvent(e: unknown): boolean {
    return (e as { type?: string } | null)?.type !== 'step';
  }

  cancel(): void {
    if (!this.job) return;
    this.cancelling = true;
    // Also lets a paused run go on to its end.
    this.job.cancel().catch((e: Error) => this.controlFailed('Cancel', e, () => (this.cancelling = false)));
  }

  pause(): void {
    if (!this.job || this.run?.status !== 'running') return;
    this.pausing = true;
    this.job.pause().catch((e: Error) => this.controlFailed('Pause', e, () => (this.pausing = false)));
  }

  resume(): void {
    if (!this.job) return;
    this.pausing = false;
    this.job.resume().catch((e: Error) => this.controlFailed('Resume', e, () => undefined));
  }

  /** A cancel/pause/resume that did not reach the engine (a runtime that is reconnecting). */
  private controlFailed(what: string, e: Error, reset: () => void): void {
    reset();
    if (this.run) this.run.error = `${what} did not reach the engine: ${e.message}`;
  }

  /** Saves the record now, or at most once a second while steps stream in. */
  protected persist(now: boolean): void {
    if (now && this.saveTimer) {
      clearTimeout(this.saveTimer);
      this.saveTimer = null;
    }
    if (this.saveTimer) return;
    const wait = now ? 0 : Math.max(0, SAVE_EVERY_MS - (Date.now() - this.lastSave));
    this.saveTimer = setTimeout(() => {
      this.saveTimer = null;
      if (this.run) void this.saveNow($state.snapshot(this.run) as R);
    }, wait);
  }

  /** How the job ended (`r` is the reactive record): saved before it is shown, so that once the
   *  page says how the run ended, a reload says the same. */
  protected async finish(r: R, final: Partial<R>): Promise<void> {
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = null;
    await this.saveNow({ ...($state.snapshot(r) as R), ...final });
    Object.assign(r, final);
  }

  private async saveNow(record: R): Promise<void> {
    this.lastSave = Date.now();
    try {
      await save(this.key, record);
      this.saveError = null;
    } catch (e) {
      this.saveError = `The run's charts could not be saved for a reload: ${(e as Error).message}`;
    }
  }
}
