// One head-to-head evaluation at a time for the page: the job in the worker, the comparisons as they
// stream in (summarised live, so the bars fill during the run), and the finished reports. Reports
// are kept in IndexedDB — an index of summaries plus one entry per report — so a reload lists them
// and can reopen any of them.
import { type EvalEvent, type EvalRequest, type Job, partialResult } from '../../engine/api.ts';
import { DEFAULT_BOOTSTRAP, type EvalReport, type Transcript, summarizeEval } from '../../eval/headToHead.ts';
import { load, remove, save } from '../../store/persist.ts';
import { engine } from '../engineClient.svelte.ts';

/** How the prompts were chosen, in words, for the report's header and the list of past reports. */
export interface RunMeta {
  sourceLabel: string;
  /** The languages asked for (a JSONL may have had no prompts in some). */
  languages: string[];
  perLanguage: number;
  /** The LLM judge's display name, when there is one. */
  judgeName?: string;
}

export interface StoredReport {
  id: string;
  savedAt: string;
  meta: RunMeta;
  request: Omit<EvalRequest, 'prompts'> & { source: string };
  report: EvalReport;
  /** Comparisons the run set out to make (prompts × samples), when known. */
  planned: number | null;
  /** Set when the engine failed part-way: the report then covers what finished before. */
  error: string | null;
}

export interface ReportEntry {
  id: string;
  savedAt: string;
  a: string;
  b: string;
  sourceLabel: string;
  languages: number;
  n: number;
  winRate: number;
  ci: [number, number];
  partial: boolean;
}

const INDEX_KEY = 'evaluate.index';
const reportKey = (id: string) => `evaluate.report.${id}`;
/** Older reports beyond this many are forgotten (each holds every transcript). */
export const MAX_KEPT = 20;

export const entryOf = (s: StoredReport): ReportEntry => ({
  id: s.id,
  savedAt: s.savedAt,
  a: s.report.names.a,
  b: s.report.names.b,
  sourceLabel: s.meta.sourceLabel,
  languages: Object.keys(s.report.perLanguage).length,
  n: s.report.overall.n,
  winRate: s.report.overall.winRate,
  ci: s.report.overall.ci,
  partial: s.report.cancelled || s.error !== null,
});

class EvalRun {
  running = $state(false);
  cancelling = $state(false);
  done = $state(0);
  total = $state(0);
  etaSeconds = $state<number | null>(null);
  /** The comparisons so far of the running job. */
  live = $state<Transcript[]>([]);
  /** What the running job asked (to summarise `live` the way the engine will). */
  liveRequest = $state<{ req: EvalRequest; names: { a: string; b: string }; meta: RunMeta } | null>(null);
  /** The report on screen: the last one run, or one reopened from the list. */
  shown = $state<StoredReport | null>(null);
  history = $state<ReportEntry[]>([]);
  /** The job did not run, or broke (verbatim). */
  error = $state<string | null>(null);
  saveError = $state<string | null>(null);
  restored = $state(false);
  private job: Job<'evaluate'> | null = null;

  /** The list of saved reports, and the newest one on screen. */
  async restore(): Promise<void> {
    if (this.restored) return;
    this.restored = true;
    try {
      const index = (await load<ReportEntry[]>(INDEX_KEY)) ?? [];
      if (!this.history.length) this.history = index;
      if (!this.shown && !this.running && index[0]) await this.open(index[0].id);
    } catch (e) {
      this.saveError = `Could not read the saved reports: ${(e as Error).message}`;
    }
  }

  /** The running job's comparisons, summarised as the engine will (bootstrap and all). */
  liveReport = $derived.by((): EvalReport | null => {
    const l = this.liveRequest;
    if (!l || this.live.length === 0) return null;
    const { req } = l;
    const spec = { a: req.a, b: req.b, samples: req.samples, seed: req.seed, sampling: req.sampling, bootstrap: req.bootstrap ?? DEFAULT_BOOTSTRAP, ...(req.judge && req.judge !== 'arbiter' ? { judge: req.judge, judgeModel: req.judgeModel } : {}) };
    const llm = req.judge && req.judge !== 'arbiter' && req.judgeModel ? { id: req.judgeModel, name: l.meta.judgeName ?? req.judgeModel } : undefined;
    return summarizeEval(spec, l.names, 'reference', $state.snapshot(this.live) as Transcript[], true, llm);
  });

  async start(req: EvalRequest, names: { a: string; b: string }, meta: RunMeta): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.cancelling = false;
    this.error = null;
    this.done = 0;
    this.total = 0;
    this.etaSeconds = null;
    this.live = [];
    this.liveRequest = { req, names, meta };
    let report: EvalReport | null = null;
    let error: string | null = null;
    let jobId: string | null = null;
    try {
      const job = engine.ready().start('evaluate', req);
      this.job = job;
      jobId = job.id;
      job.on((e: EvalEvent) => {
        if (this.job !== job) return;
        this.done = e.done;
        this.total = e.total;
        this.etaSeconds = e.etaSeconds;
        this.live.push(e.latest);
      });
      report = partialResult(await job.outcome);
    } catch (e) {
      error = (e as Error).message;
      // What finished before the failure is still a (partial) result.
      const partial = this.liveReport;
      if (partial) report = { ...partial, names };
    }
    this.job = null;
    const { prompts, ...rest } = req;
    const source = prompts.source.kind === 'udhr' ? `udhr:${prompts.source.split}` : `jsonl:${prompts.source.file}`;
    // A report exists only for a job that started (its id names the stored report).
    if (report && jobId) {
      const stored: StoredReport = {
        id: jobId,
        savedAt: new Date().toISOString(),
        meta,
        request: { ...rest, source },
        report,
        planned: this.total || null,
        error,
      };
      this.shown = stored;
      await this.keep(stored);
    }
    this.error = report ? null : error;
    this.running = false;
    this.cancelling = false;
    this.live = [];
    this.liveRequest = null;
  }

  cancel(): void {
    if (!this.job) return;
    this.cancelling = true;
    void this.job.cancel();
  }

  async open(id: string): Promise<void> {
    try {
      const s = await load<StoredReport>(reportKey(id));
      if (!s) throw new Error('it is no longer in browser storage');
      this.shown = s;
    } catch (e) {
      this.saveError = `Could not open that report: ${(e as Error).message}`;
    }
  }

  async forget(id: string): Promise<void> {
    const index = this.history.filter((x) => x.id !== id);
    try {
      await save(INDEX_KEY, index);
      await remove(reportKey(id));
      this.history = index;
      if (this.shown?.id === id) this.shown = null;
    } catch (e) {
      this.saveError = `Could not delete that report: ${(e as Error).message}`;
    }
  }

  /** Saves the report, then the index; the oldest beyond MAX_KEPT are dropped. */
  private async keep(s: StoredReport): Promise<void> {
    const index = [entryOf(s), ...this.history.filter((x) => x.id !== s.id)];
    const dropped = index.slice(MAX_KEPT);
    const kept = index.slice(0, MAX_KEPT);
    try {
      await save(reportKey(s.id), $state.snapshot(s) as StoredReport);
      await save(INDEX_KEY, kept);
      this.history = kept;
      this.saveError = null;
      for (const d of dropped) void remove(reportKey(d.id)).catch(() => undefined);
    } catch (e) {
      // The report stays on screen (and exportable); it just will not survive a reload.
      this.saveError = `This report is shown but was not saved, so a reload will lose it (export it to keep it). ${(e as Error).message}`;
    }
  }
}

/** One for the page, not per panel mount: a run goes on (and its bars fill) while another panel is open. */
export const evalRun = new EvalRun();
