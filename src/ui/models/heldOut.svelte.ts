// Held-out loss per model and language: the zoo manifest's matrix (when the build ships the zoo)
// and rows recomputed here with the engine's `heldOutLoss` (kept in IndexedDB across reloads).
// One for the page, so a recompute goes on while another panel is open.
import type { ModelSummary } from '../../engine/models.ts';
import type { ZooManifest } from '../../store/builtinModels.ts';
import { load, save } from '../../store/persist.ts';
import { type Job, resultOf } from '../../engine/api.ts';
import { engine } from '../engineClient.svelte.ts';
import { LANGUAGE_CODES } from '../../data/languages.ts';

export interface RecomputedRow {
  modelId: string;
  name: string;
  losses: Record<string, number>;
  at: string;
  /** Every language measured (rows saved by older versions may lack some). */
  complete: boolean;
}

/** The manifest as written by `aya-playground zoo` (more fields than the store's type names). */
export type Manifest = ZooManifest & { held_out?: { examples_per_language?: number; seq_len?: number; unit?: string } };

const KEY = 'models.heldOutRows';

class HeldOut {
  /** undefined: not asked yet; null: this build has no zoo. */
  manifest = $state<Manifest | null | undefined>(undefined);
  manifestError = $state<string | null>(null);
  rows = $state<RecomputedRow[]>([]);
  running = $state(false);
  cancelling = $state(false);
  done = $state(0);
  total = $state(0);
  current = $state<string | null>(null);
  startedMs = $state(0);
  message = $state<string | null>(null);
  private restored = false;
  private job: Job<'heldOutLoss'> | null = null;

  async restore(): Promise<void> {
    if (this.restored) return;
    this.restored = true;
    try {
      const saved = await load<RecomputedRow[]>(KEY);
      if (saved && !this.rows.length) this.rows = saved;
    } catch (e) {
      this.message = `Could not read the recomputed rows: ${(e as Error).message}`;
    }
  }

  async loadManifest(): Promise<void> {
    if (this.manifest !== undefined) return;
    try {
      this.manifest = ((await engine.ready().zooManifest()) as Manifest | null) ?? null;
    } catch (e) {
      // A server that answers with something that is not the manifest: the zoo is not there either.
      this.manifest = null;
      this.manifestError = (e as Error).message;
    }
  }

  /** Measures each model on all 23 languages, one model per engine call, so rows appear as they are
   *  done and a cancel keeps the finished ones. All 23 languages go in one call on purpose: the
   *  engine draws its held-out windows in one seeded sequence over the languages it is given, so
   *  only that call measures exactly what the zoo's manifest measured. */
  async recompute(models: ModelSummary[]): Promise<void> {
    if (this.running || !models.length) return;
    this.running = true;
    this.cancelling = false;
    this.message = null;
    this.done = 0;
    this.total = models.length;
    this.startedMs = performance.now();
    try {
      for (const m of models) {
        if (this.cancelling) throw new Error('cancelled');
        this.current = m.name;
        const job = engine.ready().start('heldOutLoss', { modelIds: [m.id], languages: [...LANGUAGE_CODES] });
        this.job = job;
        const r = resultOf(job.id, await job.outcome);
        const row: RecomputedRow = { modelId: m.id, name: m.name, losses: r[m.id], at: new Date().toISOString(), complete: true };
        this.rows = [...this.rows.filter((x) => x.modelId !== m.id), row];
        this.done++;
        await this.persist();
      }
      this.message = `Recomputed ${models.length} model${models.length === 1 ? '' : 's'} in ${((performance.now() - this.startedMs) / 1000).toFixed(1)} s.`;
    } catch (e) {
      const msg = (e as Error).message;
      this.message = /cancelled/.test(msg) ? `Cancelled after ${this.done} of ${this.total} models; the rows finished are kept.` : `Recompute failed: ${msg}`;
    } finally {
      this.running = false;
      this.cancelling = false;
      this.current = null;
      this.job = null;
    }
  }

  cancel(): void {
    this.cancelling = true;
    void this.job?.cancel();
  }

  async removeRow(modelId: string): Promise<void> {
    this.rows = this.rows.filter((r) => r.modelId !== modelId);
    await this.persist();
  }

  private async persist(): Promise<void> {
    try {
      await save(KEY, $state.snapshot(this.rows));
    } catch (e) {
      this.message = (e as Error).message;
    }
  }
}

export const heldOut = new HeldOut();
