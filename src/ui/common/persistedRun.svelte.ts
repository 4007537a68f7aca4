// What a page-wide run (one job in the worker at a time: training, preference training) keeps
// besides its own telemetry: its record in IndexedDB under one key, saved as it grows (at once for
// a change of state, at most once a second while steps stream in) and read back after a reload;
// the job id it answers to; and cancelling.
import { load, save } from '../../store/persist.ts';
import { engine } from '../engineClient.svelte.ts';

export type RunStatus = 'starting' | 'running' | 'paused' | 'done' | 'cancelled' | 'non-finite' | 'error' | 'interrupted';

export const isActive = (s: RunStatus | undefined) => s === 'starting' || s === 'running' || s === 'paused';

const SAVE_EVERY_MS = 1000;

export class PersistedRun<R extends { status: RunStatus }> {
  run = $state<R | null>(null);
  cancelling = $state(false);
  saveError = $state<string | null>(null);
  restored = $state(false);
  protected jobId: string | null = null;
  private readonly key: string;
  /** Marks a record that was still running when the page went away. */
  private readonly interrupt: (saved: R) => void;
  private lastSave = 0;
  private saveTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(key: string, interrupt: (saved: R) => void = (saved) => (saved.status = 'interrupted')) {
    this.key = key;
    this.interrupt = interrupt;
  }

  /** The last run from storage; one that was still running when the page went away is marked so. */
  async restore(): Promise<void> {
    if (this.restored) return;
    this.restored = true;
    if (this.run) return;
    try {
      const saved = await load<R>(this.key);
      if (!saved || this.run) return;
      if (isActive(saved.status)) this.interrupt(saved);
      this.run = saved;
    } catch (e) {
      this.saveError = `Could not read the last run: ${(e as Error).message}`;
    }
  }

  get active(): boolean {
    return isActive(this.run?.status);
  }

  cancel(): void {
    if (!this.jobId) return;
    this.cancelling = true;
    void engine.api?.cancel(this.jobId); // also lets a paused run go on to its end
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
