// The jobs of one engine: each job's id, state, whole event history and outcome, kept after it ends
// (the most recent finished ones) so that a client that reloads, or a second client, can re-attach
// and see everything from the start. The runner of a job gets a JobControl: it reports events,
// checks for a cancel and waits while paused; the registry turns how the runner ended into the
// job's outcome (see api.ts for the one cancel semantic) and always forgets its pause state.
import { show } from '../util/show.ts';
import { type JobInfo, type JobKind, type JobOutcome, type JobState, JobCancelled, PAUSABLE } from './api.ts';

export interface JobControl<E> {
  readonly id: string;
  /** True once a cancel was asked. */
  shouldStop(): boolean;
  /** Throws JobCancelled once a cancel was asked. */
  throwIfStopped(): void;
  /** Returns at once unless the job is paused; while paused, waits for resume (or cancel). */
  waitIfPaused(onPause?: () => void, onResume?: () => void): Promise<void>;
  emit(event: E): void;
}

/** What a subscriber of one job hears: its events in order (numbered), state changes, the end. */
export type JobMessage =
  | { type: 'event'; seq: number; data: unknown }
  | { type: 'state'; state: JobState }
  | { type: 'end'; outcome: JobOutcome<unknown> };

export class JobRecord {
  state: JobState = 'running';
  readonly history: unknown[] = [];
  outcome: JobOutcome<unknown> | null = null;
  readonly startedAt = new Date().toISOString();
  endedAt: string | null = null;
  fraction: number | null = null;
  readonly done: Promise<JobOutcome<unknown>>;
  cancelRequested = false;
  pauseRequested = false;
  private readonly listeners = new Set<(m: JobMessage) => void>();
  private settle!: (o: JobOutcome<unknown>) => void;
  private wake: (() => void) | null = null;

  constructor(
    readonly id: string,
    readonly kind: JobKind,
    readonly request: unknown,
    readonly label: string,
    private readonly notify: () => void = () => {},
  ) {
    this.done = new Promise((r) => (this.settle = r));
  }

  info(): JobInfo {
    return {
      id: this.id,
      kind: this.kind,
      label: this.label,
      state: this.state,
      startedAt: this.startedAt,
      endedAt: this.endedAt,
      fraction: this.fraction,
      events: this.history.length,
      pausable: PAUSABLE.includes(this.kind),
      error: this.outcome?.status === 'failed' ? this.outcome.error : null,
    };
  }

  /** Replays the history from event `from` (and the state, or the end for a finished job) to
   *  `listener`, then follows the job. */
  follow(listener: (m: JobMessage) => void, from = 0): () => void {
    for (let seq = Math.max(0, from); seq < this.history.length; seq++) listener({ type: 'event', seq, data: this.history[seq] });
    if (!this.outcome) listener({ type: 'state', state: this.state });
    if (this.outcome) {
      listener({ type: 'end', outcome: this.outcome });
      return () => {};
    }
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(data: unknown): void {
    if (this.outcome) return;
    const seq = this.history.length;
    this.history.push(data);
    const f = (data as { fraction?: unknown } | null)?.fraction;
    if (typeof f === 'number' && Number.isFinite(f)) this.fraction = f;
    this.broadcast({ type: 'event', seq, data });
  }

  setState(state: JobState): void {
    if (this.state === state || this.outcome) return;
    this.state = state;
    this.broadcast({ type: 'state', state });
    this.notify();
  }

  cancel(): void {
    this.cancelRequested = true;
    this.resume();
  }

  pause(): void {
    if (this.outcome || !PAUSABLE.includes(this.kind)) return;
    this.pauseRequested = true;
  }

  resume(): void {
    this.pauseRequested = false;
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  async waitIfPaused(onPause?: () => void, onResume?: () => void): Promise<void> {
    if (!this.pauseRequested || this.cancelRequested) return;
    this.setState('paused');
    onPause?.();
    await new Promise<void>((r) => (this.wake = r));
    this.setState('running');
    onResume?.();
  }

  end(outcome: JobOutcome<unknown>): void {
    if (this.outcome) return;
    this.outcome = outcome;
    this.state = outcome.status;
    this.endedAt = new Date().toISOString();
    this.pauseRequested = false;
    this.wake = null;
    const m: JobMessage = { type: 'end', outcome };
    for (const l of [...this.listeners]) l(m);
    this.listeners.clear();
    this.settle(outcome);
  }

  private broadcast(m: JobMessage): void {
    for (const l of [...this.listeners]) l(m);
  }
}

const JOB_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export class JobRegistry {
  private readonly jobs = new Map<string, JobRecord>();
  private readonly changeListeners = new Set<(jobs: JobInfo[]) => void>();

  /** `keepFinished`: how many finished jobs of each kind stay attachable (a Compare click is a
   *  sample job: many of them must not push out last night's training run). */
  constructor(private readonly keepFinished = 50) {}

  start<E, R>(kind: JobKind, id: string, request: unknown, label: string, run: (ctl: JobControl<E>) => Promise<R>): JobRecord {
    if (!JOB_ID.test(id)) throw new Error(`bad job id '${id.slice(0, 40)}': letters, digits and . _ : - only, at most 128`);
    if (this.jobs.has(id)) throw new Error(`a job with id '${id}' exists already`);
    const rec = new JobRecord(id, kind, request, label, () => this.changed());
    this.jobs.set(id, rec);
    const ctl: JobControl<E> = {
      id,
      shouldStop: () => rec.cancelRequested,
      throwIfStopped: () => {
        if (rec.cancelRequested) throw new JobCancelled(id);
      },
      waitIfPaused: (onPause, onResume) => rec.waitIfPaused(onPause, onResume),
      emit: (e) => rec.emit(e),
    };
    // The runner starts on a later tick, so that a caller can subscribe before its first event.
    void Promise.resolve()
      .then(() => run(ctl))
      .then(
        (result) => rec.end(rec.cancelRequested ? { status: 'cancelled', result } : { status: 'done', result }),
        (e: unknown) => {
          if (e instanceof JobCancelled || rec.cancelRequested) rec.end({ status: 'cancelled', result: e instanceof JobCancelled ? e.partial : null });
          else rec.end({ status: 'failed', error: e instanceof Error ? e.message : String(e) });
        },
      )
      .finally(() => {
        this.prune();
        this.changed();
      });
    this.changed();
    return rec;
  }

  get(id: string): JobRecord {
    const rec = this.jobs.get(id);
    if (!rec) throw new Error(`no job '${show(id, 128)}' on this engine (it may have ended long ago, or the engine restarted)`);
    return rec;
  }

  list(): JobInfo[] {
    return [...this.jobs.values()].map((j) => j.info());
  }

  onChange(listener: (jobs: JobInfo[]) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /** A state change (pause, resume) is news for job lists too. */
  changed(): void {
    if (this.changeListeners.size === 0) return;
    const jobs = this.list();
    for (const l of this.changeListeners) l(jobs);
  }

  /** Cancels every running job (on shutdown) and waits up to `waitMs` for them to end (a training
   *  run saves what it has). */
  async cancelAll(waitMs = 0): Promise<void> {
    const running = [...this.jobs.values()].filter((j) => !j.outcome);
    for (const j of running) j.cancel();
    if (waitMs > 0 && running.length) await Promise.race([Promise.all(running.map((j) => j.done)), new Promise((r) => setTimeout(r, waitMs))]);
  }

  private prune(): void {
    const byKind = new Map<JobKind, JobRecord[]>();
    for (const j of this.jobs.values()) if (j.outcome) byKind.set(j.kind, [...(byKind.get(j.kind) ?? []), j]);
    for (const finished of byKind.values()) for (const j of finished.slice(0, Math.max(0, finished.length - this.keepFinished))) this.jobs.delete(j.id);
  }
}
