// Arbitrage jobs for the page: the running job (progress, latest generation, cancel) and the saved
// runs (IndexedDB), so results, heatmaps and exports survive a reload.
import { type ArbitrageEvent, type ArbitrageRequest, type Job, partialResult } from '../../engine/api.ts';
import type { ArbitrageResult, Generation } from '../../arbitrage/arbitrage.ts';
import type { ArbiterWeights } from '../../arbiter/arbiter.ts';
import { load, save } from '../../store/persist.ts';
import { engine } from '../engineClient.svelte.ts';

export interface SavedRun {
  id: string;
  startedAt: string;
  /** Display names of the teachers, by id. */
  teacherNames: Record<string, string>;
  promptsLabel: string;
  weights: ArbiterWeights;
  result: ArbitrageResult;
}

const KEY = 'aya.arbitrage.runs.v1';
/** Older runs beyond this are dropped when a new one is saved (each holds every generation). */
export const MAX_SAVED_RUNS = 12;

class ArbitrageRuns {
  saved = $state<SavedRun[]>([]);
  loaded = $state(false);
  selectedId = $state<string | null>(null);
  running = $state(false);
  done = $state(0);
  total = $state(0);
  etaSeconds = $state<number | null>(null);
  latest = $state<Generation | null>(null);
  error = $state<string | null>(null);
  saveError = $state<string | null>(null);
  private job: Job<'arbitrage'> | null = null;

  get selected(): SavedRun | null {
    return this.saved.find((r) => r.id === this.selectedId) ?? this.saved[0] ?? null;
  }

  async refresh(): Promise<void> {
    try {
      this.saved = (await load<SavedRun[]>(KEY)) ?? [];
    } catch (e) {
      this.error = `Could not read saved arbitrage runs: ${(e as Error).message}`;
    }
    this.loaded = true;
  }

  async start(req: ArbitrageRequest, teacherNames: Record<string, string>, promptsLabel: string, weights: ArbiterWeights): Promise<void> {
    this.running = true;
    this.error = null;
    this.done = 0;
    this.total = 0;
    this.etaSeconds = null;
    this.latest = null;
    const startedAt = new Date().toISOString();
    try {
      const job = engine.ready().start('arbitrage', req);
      this.job = job;
      job.on((e: ArbitrageEvent) => {
        this.done = e.done;
        this.total = e.total;
        this.etaSeconds = Number.isFinite(e.etaSeconds) ? e.etaSeconds : null;
        this.latest = e.latest ?? this.latest;
      });
      const result = partialResult(await job.outcome);
      if (result && result.generations.length > 0) await this.keep({ id: job.id, startedAt, teacherNames, promptsLabel, weights, result });
    } catch (e) {
      this.error = (e as Error).message;
    } finally {
      this.running = false;
      this.job = null;
    }
  }

  private async keep(run: SavedRun): Promise<void> {
    const next = [run, ...this.saved].slice(0, MAX_SAVED_RUNS);
    this.saved = next;
    this.selectedId = run.id;
    try {
      await save(KEY, $state.snapshot(next));
      this.saveError = null;
    } catch (e) {
      this.saveError = `${(e as Error).message} This run is shown but will not survive a reload; export its files now.`;
    }
  }

  async remove(id: string): Promise<void> {
    const next = this.saved.filter((r) => r.id !== id);
    await save(KEY, $state.snapshot(next));
    this.saved = next;
  }

  cancel(): void {
    void this.job?.cancel();
  }
}

export const arbitrageRuns = new ArbitrageRuns();
