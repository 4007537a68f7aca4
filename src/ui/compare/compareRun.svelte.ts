// One "Generate": the same prompt and sampling settings through each chosen model in turn (the GPU
// is shared, so one at a time), each column filling in as its tokens stream from the engine.
import type { Job, PromptMode, SampleEvent, TeacherSummary } from '../../engine/api.ts';
import type { ArbiterScore, ArbiterWeights } from '../../arbiter/arbiter.ts';
import type { ModelSummary } from '../../engine/models.ts';
import type { StopReason } from '../../model/generate.ts';
import type { SamplingOptions } from '../../model/sample.ts';
import { engine } from '../engineClient.svelte.ts';

export type ColumnStatus = 'waiting' | 'loading' | 'streaming' | 'done' | 'error' | 'skipped';

/** What a column runs: one of our models, or a teacher from elsewhere with its prompt mode. */
export interface Contender {
  id: string;
  name: string;
  own: ModelSummary | null;
  teacher: TeacherSummary | null;
  mode: PromptMode | null;
}

export const ownContender = (m: ModelSummary): Contender => ({ id: m.id, name: m.name, own: m, teacher: null, mode: null });
export const teacherContender = (t: TeacherSummary, mode: PromptMode): Contender => ({ id: t.id, name: t.name, own: null, teacher: t, mode });

export interface Column {
  model: Contender;
  status: ColumnStatus;
  text: string;
  tokens: number;
  tokensPerSecond: number | null;
  stopReason: StopReason | null;
  ms: number | null;
  error: string | null;
  /** The Arbiter's score of the finished completion. */
  score: ArbiterScore | null;
  /** 'engine' or the teacher's backend, once done. */
  backend: string | null;
  /** Teachers: exactly what the model was given. */
  appliedPrompt: string | null;
}

export interface RunInput {
  models: Contender[];
  prompt: string;
  lang: string;
  sampling: SamplingOptions;
  /** The held-out prompt's reference continuation (adequacy is scored against it). */
  reference?: string;
  weights: ArbiterWeights;
}

export class CompareRun {
  columns = $state<Column[]>([]);
  /** What the shown columns were generated from (the form may have changed since). */
  input = $state<RunInput | null>(null);
  running = $state(false);
  scoreError = $state<string | null>(null);
  private job: Job<'sample'> | null = null;
  private cancelled = false;

  async start(input: RunInput): Promise<void> {
    this.cancelled = false;
    this.running = true;
    this.input = input;
    this.columns = input.models.map((model) => ({
      model,
      status: 'waiting',
      text: '',
      tokens: 0,
      tokensPerSecond: null,
      stopReason: null,
      ms: null,
      error: null,
      score: null,
      backend: null,
      appliedPrompt: null,
    }));
    this.scoreError = null;
    try {
      for (const col of this.columns) {
        if (this.cancelled) {
          col.status = 'skipped';
          continue;
        }
        await this.one(col, input);
      }
      await this.rescore(input.weights);
    } finally {
      this.job = null;
      this.running = false;
    }
  }

  /** Scores every finished column with the Arbiter (again, when the weights change). */
  async rescore(weights: ArbiterWeights): Promise<void> {
    const input = this.input;
    const done = this.columns.filter((c) => c.status === 'done');
    if (!input || done.length === 0) return;
    try {
      const scores = await engine.ready().score(
        done.map((c) => ({ prompt: input.prompt, completion: c.text, language: input.lang, reference: input.reference })),
        weights,
      );
      done.forEach((c, i) => (c.score = scores[i]));
      this.scoreError = null;
    } catch (e) {
      this.scoreError = `The Arbiter could not score these completions: ${(e as Error).message}`;
    }
  }

  /** The highest reward among scored columns (null before scoring). */
  get bestReward(): number | null {
    const rs = this.columns.map((c) => c.score?.reward).filter((r): r is number => r !== undefined);
    return rs.length ? Math.max(...rs) : null;
  }

  private async one(col: Column, input: RunInput): Promise<void> {
    col.status = 'loading';
    try {
      const job = engine.ready().start('sample', { modelId: col.model.id, prompt: input.prompt, lang: input.lang, sampling: input.sampling, ...(col.model.mode ? { mode: col.model.mode } : {}) });
      this.job = job;
      job.on((e: SampleEvent) => {
        col.text += e.delta;
        col.tokens = e.index + 1;
        col.tokensPerSecond = e.tokensPerSecond;
        col.status = 'streaming';
      });
      const o = await job.outcome;
      if (o.status === 'failed') throw new Error(o.error);
      const r = o.result;
      if (!r) throw new Error('cancelled before the first token');
      // The final text is decoded in one piece, so it is exact even where a character spans tokens.
      col.text = r.text;
      col.tokens = r.tokens;
      col.backend = r.backend;
      col.appliedPrompt = r.appliedPrompt ?? null;
      col.tokensPerSecond = r.tokensPerSecond;
      col.stopReason = r.stopReason;
      col.ms = r.ms;
      col.status = 'done';
    } catch (e) {
      col.error = (e as Error).message;
      col.status = 'error';
    }
  }

  cancel(): void {
    this.cancelled = true;
    void this.job?.cancel();
  }
}

/** One for the page, not per panel mount: results (and a running job) survive a trip to another panel. */
export const compareRun = new CompareRun();
