// The Merge panel's jobs, one store for the page (not per panel mount), so a merge, a held-out
// measurement or a weight search goes on — and its result stays on screen — while another panel is
// open. The last merge (with its held-out table) and the last search are kept in IndexedDB across
// reloads; the last inspection is kept in memory (it is quick to redo).
import { type Job, type JobOutcome, type MergeInspection, type MergeInspectRequest, type MergeProgress, type MergeRequest } from '../../engine/api.ts';
import type { MergeConfig } from '../../merge/config.ts';
import { load, save } from '../../store/persist.ts';
import { engine } from '../engineClient.svelte.ts';
import { modelList } from '../models/modelList.svelte.ts';
import type { MergeSearchRequest, SearchProgress, SearchResult } from './searchTypes.ts';

export interface MergeRecord {
  at: string;
  config: MergeConfig;
  /** The config as mergekit YAML (as exported by the form). */
  yaml: string;
  model: { id: string; name: string };
  /** Every model the merge read, base first. */
  inputs: Array<{ id: string; name: string; role: 'base' | 'model' }>;
  seconds: number;
  warnings: string[];
  /** Held-out loss per model (inputs and result) and language; null until measured. */
  languages: string[];
  heldOut: Record<string, Record<string, number>> | null;
  heldOutError: string | null;
}

const LAST_KEY = 'merge.last';
const SEARCH_KEY = 'merge.lastSearch';

/** A job's result; null for a cancelled one (`whenCancelled` says so); throws a failed one's error. */
function settled<R>(o: JobOutcome<R>, whenCancelled: string): R {
  if (o.status === 'done') return o.result;
  if (o.status === 'failed') throw new Error(o.error);
  throw new Error(whenCancelled);
}

class MergeRun {
  // ---- the merge ----
  merging = $state(false);
  cancelling = $state(false);
  progress = $state<MergeProgress | null>(null);
  startedMs = $state(0);
  error = $state<string | null>(null);
  last = $state<MergeRecord | null>(null);
  // ---- held-out loss of the last merge ----
  measuring = $state(false);
  measureDone = $state(0);
  measureTotal = $state(0);
  measureCurrent = $state<string | null>(null);
  measureStartedMs = $state(0);
  // ---- inspection ----
  inspecting = $state(false);
  inspection = $state.raw<MergeInspection | null>(null);
  inspectRequest = $state.raw<MergeInspectRequest | null>(null);
  inspectError = $state<string | null>(null);
  // ---- weight search ----
  searching = $state(false);
  searchCancelling = $state(false);
  searchProgress = $state.raw<SearchProgress | null>(null);
  searchRequest = $state.raw<MergeSearchRequest | null>(null);
  search = $state.raw<SearchResult | null>(null);
  searchError = $state<string | null>(null);

  saveError = $state<string | null>(null);
  private restored = false;
  private mergeJob: Job<'merge'> | null = null;
  private measureJob: Job<'heldOutLoss'> | null = null;
  private searchJob: Job<'mergeSearch'> | null = null;
  private inspectSeq = 0;

  async restore(): Promise<void> {
    if (this.restored) return;
    this.restored = true;
    try {
      const [last, search] = await Promise.all([load<MergeRecord>(LAST_KEY), load<SearchResult>(SEARCH_KEY)]);
      if (last && !this.last) this.last = last;
      if (search && !this.search) this.search = search;
    } catch (e) {
      this.saveError = `Could not read the last merge: ${(e as Error).message}`;
    }
  }

  get busy(): boolean {
    return this.merging || this.measuring || this.searching;
  }

  /** Merges, saves the result as a model, then measures it and its inputs on `languages`. */
  async merge(req: MergeRequest, meta: { yaml: string; inputs: MergeRecord['inputs']; languages: string[] }): Promise<void> {
    if (this.busy) return;
    this.merging = true;
    this.cancelling = false;
    this.error = null;
    this.progress = null;
    this.startedMs = performance.now();
    let record: MergeRecord | null = null;
    try {
      const job = engine.ready().start('merge', req);
      this.mergeJob = job;
      job.on((p: MergeProgress) => {
        if (this.mergeJob === job) this.progress = p;
      });
      const { model, warnings } = settled(await job.outcome, 'Cancelled: the merge stopped before its last tensor, and no model was saved.');
      record = {
        at: new Date().toISOString(),
        config: req.config,
        yaml: meta.yaml,
        model: { id: model.id, name: model.name },
        inputs: meta.inputs,
        seconds: (performance.now() - this.startedMs) / 1000,
        warnings,
        languages: meta.languages,
        heldOut: null,
        heldOutError: null,
      };
      this.last = record;
      await this.persistLast();
    } catch (e) {
      this.error = (e as Error).message;
    } finally {
      this.merging = false;
      this.cancelling = false;
      this.mergeJob = null;
      void modelList.refresh();
    }
    if (record && meta.languages.length) await this.measure();
  }

  cancel(): void {
    for (const job of [this.mergeJob, this.measureJob]) {
      if (!job) continue;
      this.cancelling = true;
      void job.cancel();
    }
  }

  /** Held-out loss of the last merge and its inputs, all in one engine call so every model is
   *  measured on the same held-out windows. */
  async measure(languages?: string[]): Promise<void> {
    const rec = this.last;
    if (!rec || this.measuring) return;
    // Plain arrays: a reactive proxy does not cross to the worker.
    const langs = [...$state.snapshot(languages ?? rec.languages)];
    if (!langs.length) return;
    const ids = [...rec.inputs.map((i) => i.id), rec.model.id];
    this.measuring = true;
    this.measureDone = 0;
    this.measureTotal = ids.length;
    this.measureCurrent = rec.inputs[0]?.name ?? null;
    this.measureStartedMs = performance.now();
    const names = new Map([...rec.inputs.map((i) => [i.id, i.name] as const), [rec.model.id, rec.model.name] as const]);
    try {
      const job = engine.ready().start('heldOutLoss', { modelIds: ids, languages: langs });
      this.measureJob = job;
      job.on(({ done, total }) => {
        this.measureDone = done;
        this.measureTotal = total;
        this.measureCurrent = done < ids.length ? (names.get(ids[done]) ?? ids[done]) : null;
      });
      const r = settled(await job.outcome, 'Held-out measurement cancelled.');
      if (this.last === rec || this.last?.model.id === rec.model.id) Object.assign(this.last!, { heldOut: r, languages: langs, heldOutError: null });
    } catch (e) {
      if (this.last?.model.id === rec.model.id) this.last.heldOutError = (e as Error).message;
    } finally {
      this.measuring = false;
      this.cancelling = false;
      this.measureJob = null;
      this.measureCurrent = null;
    }
    await this.persistLast();
  }

  /** Inspects the task vectors; the newest request wins when several overlap (sliders). */
  async inspect(req: MergeInspectRequest): Promise<void> {
    const seq = ++this.inspectSeq;
    this.inspecting = true;
    try {
      const r = await engine.ready().mergeInspect(req);
      if (seq !== this.inspectSeq) return;
      this.inspection = r;
      this.inspectRequest = req;
      this.inspectError = null;
    } catch (e) {
      if (seq === this.inspectSeq) this.inspectError = (e as Error).message.replace(/^merge inspect: /, '');
    } finally {
      if (seq === this.inspectSeq) this.inspecting = false;
    }
  }

  async runSearch(req: MergeSearchRequest): Promise<void> {
    if (this.busy) return;
    this.searching = true;
    this.searchCancelling = false;
    this.searchError = null;
    this.searchProgress = null;
    this.searchRequest = req;
    try {
      const job = engine.ready().start('mergeSearch', req);
      this.searchJob = job;
      job.on((p: SearchProgress) => {
        if (this.searchJob === job) this.searchProgress = p;
      });
      const o = await job.outcome;
      if (o.status === 'failed') throw new Error(o.error);
      const r = o.result;
      if (!r?.points.length) throw new Error('Search cancelled before it finished any point.');
      this.search = r;
      try {
        await save(SEARCH_KEY, r);
      } catch (e) {
        this.saveError = `The search result is shown but will not survive a reload: ${(e as Error).message}`;
      }
    } catch (e) {
      this.searchError = (e as Error).message;
    } finally {
      this.searching = false;
      this.searchCancelling = false;
      this.searchJob = null;
      this.searchProgress = null;
    }
  }

  cancelSearch(): void {
    if (!this.searchJob) return;
    this.searchCancelling = true;
    void this.searchJob.cancel();
  }

  private async persistLast(): Promise<void> {
    if (!this.last) return;
    try {
      await save(LAST_KEY, $state.snapshot(this.last));
      this.saveError = null;
    } catch (e) {
      this.saveError = `The merge result is shown but will not survive a reload: ${(e as Error).message}`;
    }
  }
}

export const mergeRun = new MergeRun();
