// The Engine: one implementation of everything the app and the CLI can ask for, independent of
// where it runs (a browser Worker, Node). Long operations are jobs with progress and cancel.
import type { AdapterSummary, DeviceLoss, GpuContext } from '../gpu/context.ts';
import { runOpChecks, type OpCheckResult } from '../ops/checks.ts';
import { runBench, type BenchOptions, type BenchProgress, type BenchReport } from '../bench/bench.ts';
import { availableVariants, defaultVariant } from '../ops/matmul.ts';
import { type ModelFiles, type ModelFolder, readModelFolder } from '../model/folder.ts';
import { createRandomModel } from '../model/create.ts';
import { AyaModel } from '../model/model.ts';
import { generate, type StopReason } from '../model/generate.ts';
import { sequenceLogprobs, type LogprobsResult } from '../model/logprobs.ts';
import { type SamplingOptions, validateSampling } from '../model/sample.ts';
import { BpeTokenizer } from '../tokenizer/bpe.ts';
import { TextStream } from '../tokenizer/stream.ts';
import { type Prompt, type UdhrDocument, buildPrompts, loadCorpus, type UdhrSource } from '../data/corpus.ts';
import { LANGUAGE_CODES, language } from '../data/languages.ts';
import { type ModelStore, type ModelSummary, summarize } from './models.ts';
import { writeModelFolder } from '../model/folder.ts';
import type { HostWeights } from '../model/init.ts';
import type { MixEntry, PairRecord } from '../train/data.ts';
import { type EvalPoint, evaluateWeights, HELD_OUT, runTraining, type StepPoint, type TrainSpec } from '../train/sft.ts';
import { type ArbiterScore, type ArbiterWeights, DEFAULT_WEIGHTS, ReferenceArbiter } from '../arbiter/arbiter.ts';
import {
  type ArbitragePrompt,
  type ArbitrageResult,
  type ArbitrageSpec,
  type Generation,
  parsePromptsJsonl,
  runArbitrage,
  type Strategy,
  type TeacherInfo,
} from '../arbitrage/arbitrage.ts';
import { type ExperimentReport, type ExperimentSpec, type ExperimentStage, runArbitrageExperiment } from '../arbitrage/experiment.ts';
import { type EvalReport, runHeadToHead, type Transcript, DEFAULT_BOOTSTRAP } from '../eval/headToHead.ts';
import { inspectMerge, type MergeInspection, type MergeInspectRequest, type MergeProgress, type MergeRequest, type MergeSearchRequest, runMergeJob, runMergeSearchJob, type SearchProgress, type SearchResult } from './merge.ts';
import type { DpoPair } from '../train/dpo.ts';
import type { DpoLossType } from '../ops/dpo.ts';
import { type PreferenceEvent, type PreferenceMode, type PreferenceOutcome, runPreferenceTraining } from '../train/preference.ts';
import pkg from '../../package.json';

export type { MergeInspection, MergeInspectRequest, MergeProgress, MergeRequest, MergeSearchRequest, SearchProgress, SearchResult };

export type { Prompt };

/** What differs between the browser Worker and Node. */
export interface EnginePlatform {
  acquireGpu(): Promise<GpuContext>;
  runtime: string;
  /** UDHR declarations by file stem. */
  udhr: UdhrSource;
  /** The shipped universal tokenizer's tokenizer.json. */
  builtinTokenizer(): Promise<unknown>;
  models: ModelStore;
}

export interface EngineInfo {
  adapter: AdapterSummary;
  versions: { app: string; runtime: string };
  matmul: { variants: string[]; default: string };
  deviceLost: DeviceLoss | null;
}

export interface CheckSummary {
  results: OpCheckResult[];
  passed: number;
  failed: number;
  cancelled: boolean;
  seed: number;
}

export interface TokenizeResult {
  ids: number[];
  tokens: string[];
  decoded: string;
  fertility: { tokens: number; chars: number; words: number; tokensPerChar: number; tokensPerWord: number };
}

export interface SampleEvent {
  /** Text completed by this token (may be empty while a multi-byte character is incomplete). */
  delta: string;
  id: number;
  index: number;
  tokensPerSecond: number;
}

export interface SampleResult {
  text: string;
  ids: number[];
  promptIds: number[];
  stopReason: StopReason;
  tokensPerSecond: number;
  ms: number;
}

export interface TrainRequest {
  /** The model to start from (it is not modified: the result is saved as a new model). */
  modelId: string;
  /** Name of the trained model. */
  name: string;
  /** Where to save the result (default: a new id; the CLI passes the output folder). */
  outId?: string;
  mix: MixEntry[];
  /** Prompt/completion pairs (SFT on completions only) instead of / besides the UDHR split. */
  pairs?: PairRecord[];
  useCorpus: boolean;
  steps: number;
  batchSize: number;
  seqLen: number;
  lr: number;
  seed: number;
  evalEvery: number;
  checkpointEvery: number;
}

export type TrainEvent =
  | { type: 'step'; point: StepPoint; fraction: number; etaSeconds: number }
  | { type: 'eval'; point: EvalPoint }
  | { type: 'checkpoint'; step: number; model: ModelSummary }
  | { type: 'paused' | 'resumed' };

export interface TrainResult {
  model: ModelSummary | null;
  stopped: 'done' | 'cancelled' | 'non-finite';
  steps: number;
  error?: string;
  seconds: number;
}

/** Where an arbitrage or evaluation takes its prompts from. */
export type PromptSource =
  | { kind: 'udhr'; split: 'train' | 'heldout' }
  | { kind: 'jsonl'; text: string; file: string; language?: string };

export interface PromptSelection {
  source: PromptSource;
  /** Only these languages (default: all in the source). */
  languages?: string[];
  /** At most this many prompts per language, the first ones (default: all). */
  perLanguage?: number;
}

/** An arbitrage run as the UI and CLI ask for it: models by id, prompts by selection. */
export type ArbitrageRequest = Omit<ArbitrageSpec, 'teachers'> & {
  teachers: string[];
  prompts: PromptSelection;
  weights?: ArbiterWeights;
};

export type ArbitrageEvent = { type: 'progress'; done: number; total: number; etaSeconds: number; latest: Generation };

export interface EvalRequest {
  a: string;
  b: string;
  prompts: PromptSelection;
  samples: number;
  seed: number;
  sampling: Omit<SamplingOptions, 'seed'>;
  bootstrap?: number;
  weights?: ArbiterWeights;
}

export type EvalEvent = { type: 'progress'; done: number; total: number; etaSeconds: number; latest: Transcript };

export interface ExperimentRequest {
  teachers: string[];
  student: string;
  strategies: Strategy[];
  trainPrompts: PromptSelection;
  heldOutPrompts: PromptSelection;
  samplesPerTeacher: number;
  seed: number;
  sampling: Omit<SamplingOptions, 'seed'>;
  sft: { steps: number; batchSize: number; seqLen: number; lr: number };
  evalSamples: number;
  bootstrap?: number;
  weights?: ArbiterWeights;
  /** Where the students are saved: id = outPrefix + strategy (the CLI passes a folder path). */
  outPrefix?: string;
}

export type ExperimentEvent = { type: 'stage'; stage: ExperimentStage; fraction: number; etaSeconds: number } | { type: 'partial'; report: ExperimentReport };

export interface DpoRequest {
  /** The starting policy (an SFT model); it is not modified. */
  modelId: string;
  /** Saved models are named "<name> · <stage>". */
  name: string;
  /** Where stage models are saved: id = outPrefix + stage (e.g. "offline", "online-2"). */
  outPrefix?: string;
  mode: PreferenceMode;
  /** Offline pairs (arbitrage preference set, TRL JSONL, human clicks). */
  pairs?: DpoPair[];
  /** Prompts the online iterations sample on. */
  onlinePrompts?: PromptSelection;
  /** Held-out prompts for KL / entropy / mass / reward evaluations (none: no evaluations). */
  evalPrompts?: PromptSelection;
  loss: DpoLossType;
  beta: number;
  lr: number;
  batchPairs: number;
  seqLen: number;
  seed: number;
  offlineSteps: number;
  onlineSteps: number;
  iterations: number;
  samplesPerPrompt: number;
  sampling: Omit<SamplingOptions, 'seed'>;
  evalEvery: number;
  weights?: ArbiterWeights;
}

export class JobCancelled extends Error {
  constructor(jobId: string) {
    super(`job ${jobId} was cancelled`);
    this.name = 'JobCancelled';
  }
}

interface LoadedModel {
  ctx: GpuContext;
  model: AyaModel;
  tokenizer: BpeTokenizer;
}

const MAX_LOADED_MODELS = 6;

export class Engine {
  private ctx: Promise<GpuContext> | null = null;
  private readonly cancelled = new Set<string>();
  private readonly paused = new Map<string, { promise: Promise<void>; resume: () => void }>();
  private readonly lostListeners: Array<(loss: DeviceLoss) => void> = [];
  private readonly loaded = new Map<string, Promise<LoadedModel>>();
  private tokenizer: Promise<BpeTokenizer> | null = null;
  private arbiter: Promise<ReferenceArbiter> | null = null;
  private corpus: Promise<Map<string, UdhrDocument>> | null = null;

  constructor(private readonly platform: EnginePlatform) {}

  // ---- device -------------------------------------------------------------------------------

  /** The GPU context, created on first use and again after a loss or restart. */
  context(): Promise<GpuContext> {
    if (!this.ctx) {
      const pending = this.platform.acquireGpu();
      this.ctx = pending;
      pending.then(
        (c) => {
          void c.lost.then((loss) => {
            if (this.ctx === pending) this.ctx = null;
            // Models on that device died with it; models already loaded on a newer device stay.
            for (const [id, entry] of this.loaded) void entry.then((m) => m.ctx === c && this.loaded.get(id) === entry && this.loaded.delete(id), () => undefined);
            // Our own destroy() (restart, dispose) is not news; any other loss is.
            if (!c.isDestroyed) for (const l of this.lostListeners) l(loss);
          });
        },
        () => {
          if (this.ctx === pending) this.ctx = null;
        },
      );
    }
    return this.ctx;
  }

  onDeviceLost(listener: (loss: DeviceLoss) => void): void {
    this.lostListeners.push(listener);
  }

  async info(): Promise<EngineInfo> {
    const c = await this.context();
    return {
      adapter: c.adapter,
      versions: { app: pkg.version, runtime: this.platform.runtime },
      matmul: { variants: availableVariants(c).map((v) => v.name), default: defaultVariant(c) },
      deviceLost: c.lostInfo,
    };
  }

  /** Drops the current device (if any) and acquires a new one. */
  async restart(): Promise<EngineInfo> {
    const old = this.ctx;
    this.ctx = null;
    this.loaded.clear();
    if (old) {
      try {
        (await old).destroy();
      } catch {
        // The old device never came up or is already gone: nothing to release.
      }
    }
    return this.info();
  }

  /** Loses the device on purpose (to exercise the recovery path from the UI and tests). */
  async simulateDeviceLoss(): Promise<void> {
    (await this.context()).device.destroy();
  }

  dispose(): void {
    void this.ctx?.then((c) => c.destroy(), () => undefined);
    this.ctx = null;
    this.loaded.clear();
  }

  // ---- jobs ---------------------------------------------------------------------------------

  cancel(jobId: string): void {
    this.cancelled.add(jobId);
    this.resume(jobId);
  }

  pause(jobId: string): void {
    if (this.paused.has(jobId)) return;
    let resume = () => {};
    const promise = new Promise<void>((r) => (resume = r));
    this.paused.set(jobId, { promise, resume });
  }

  resume(jobId: string): void {
    const p = this.paused.get(jobId);
    this.paused.delete(jobId);
    p?.resume();
  }

  private stopper(jobId: string): () => boolean {
    this.cancelled.delete(jobId);
    return () => this.cancelled.has(jobId);
  }

  /** Forgets a finished job's cancel/pause state. */
  private finished(jobId: string): void {
    this.cancelled.delete(jobId);
    this.paused.delete(jobId);
  }

  /** Runs every op against its CPU reference; rows stream to `onRow`. */
  async checkOps(jobId: string, seed: number, onRow?: (row: OpCheckResult, index: number, total: number) => void): Promise<CheckSummary> {
    const stop = this.stopper(jobId);
    const c = await this.context();
    const results = await runOpChecks(c, seed, onRow, stop);
    const passed = results.filter((r) => r.pass).length;
    return { results, passed, failed: results.length - passed, cancelled: stop(), seed };
  }

  async bench(jobId: string, opts: BenchOptions, onProgress?: (p: BenchProgress) => void): Promise<BenchReport> {
    const stop = this.stopper(jobId);
    const c = await this.context();
    const report = await runBench(c, opts, onProgress, stop);
    if (stop()) throw new JobCancelled(jobId);
    return report;
  }

  // ---- tokenizer and corpus -----------------------------------------------------------------

  builtinTokenizer(): Promise<BpeTokenizer> {
    if (!this.tokenizer) {
      this.tokenizer = this.platform.builtinTokenizer().then((json) => BpeTokenizer.fromTokenizerJson(json, 'universal tokenizer.json'));
      this.tokenizer.catch(() => (this.tokenizer = null));
    }
    return this.tokenizer;
  }

  private documents(): Promise<Map<string, UdhrDocument>> {
    if (!this.corpus) {
      this.corpus = loadCorpus(this.platform.udhr, [...LANGUAGE_CODES]);
      this.corpus.catch(() => (this.corpus = null));
    }
    return this.corpus;
  }

  /** Held-out (or training) prompts of one language, cut at about 24 tokens of the universal tokenizer. */
  async prompts(lang: string, split: 'train' | 'heldout' = 'heldout'): Promise<Prompt[]> {
    language(lang);
    const [docs, tok] = await Promise.all([this.documents(), this.builtinTokenizer()]);
    const doc = docs.get(lang);
    if (!doc) throw new Error(`no UDHR text for '${lang}'`);
    return buildPrompts(doc, lang, split, { encode: (s) => tok.encode(s) });
  }

  async tokenize(modelId: string | null, text: string): Promise<TokenizeResult> {
    const tok = modelId ? (await this.load(modelId)).tokenizer : await this.builtinTokenizer();
    const ids = tok.encode(text);
    const f = tok.fertility(text);
    return { ids, tokens: ids.map((i) => tok.idToToken(i)), decoded: tok.decode(ids), fertility: f };
  }

  // ---- models -------------------------------------------------------------------------------

  listModels(): Promise<ModelSummary[]> {
    return this.platform.models.list();
  }

  /** A randomly initialised model of a preset size with the universal tokenizer, saved to the store. */
  async createModel(name: string, presetId: string, seed: number): Promise<ModelSummary> {
    const tok = await this.builtinTokenizer();
    const { config, files, playground } = createRandomModel(tok, presetId, seed, `aya-playground ${pkg.version}`);
    const summary = summarize(newModelId(name), name.trim() || `${presetId}-seed${seed}`, 'created', config, files, playground);
    await this.platform.models.put(summary, files);
    return summary;
  }

  /** Validates a model folder's files fully (config, every tensor, tokenizer) before storing them. */
  async importModel(name: string, files: ModelFiles): Promise<ModelSummary> {
    const folder = readModelFolder(files, name);
    if (!folder.tokenizerJson) throw new Error(`${name}: no tokenizer.json; the playground needs the model's tokenizer`);
    const tok = BpeTokenizer.fromTokenizerJson(folder.tokenizerJson, `${name}/tokenizer.json`);
    if (tok.vocabSize > folder.config.vocabSize) {
      throw new Error(`${name}: the tokenizer has ${tok.vocabSize} tokens but the model's vocabulary is ${folder.config.vocabSize}`);
    }
    const summary = summarize(newModelId(name), name, 'imported', folder.config, files, folder.playground);
    await this.platform.models.put(summary, files);
    return summary;
  }

  exportModel(id: string): Promise<ModelFiles> {
    return this.platform.models.files(id);
  }

  async deleteModel(id: string): Promise<void> {
    this.unload(id);
    await this.platform.models.delete(id);
  }

  private unload(id: string): void {
    const m = this.loaded.get(id);
    this.loaded.delete(id);
    void m?.then((x) => x.model.dispose(), () => undefined);
  }

  /** A stored model's folder and tokenizer (the playground needs the model's own tokenizer). */
  private async readStored(id: string): Promise<{ folder: ModelFolder; tok: BpeTokenizer }> {
    const folder = readModelFolder(await this.platform.models.files(id), id);
    if (!folder.tokenizerJson) throw new Error(`${id}: no tokenizer.json`);
    return { folder, tok: BpeTokenizer.fromTokenizerJson(folder.tokenizerJson, `${id}/tokenizer.json`) };
  }

  /** The model on the GPU (loaded on first use; the least recently used is dropped past a limit). */
  private async load(id: string): Promise<LoadedModel> {
    const ctx = await this.context();
    let entry = this.loaded.get(id);
    if (entry) {
      const m = await entry.catch(() => null);
      if (m && m.ctx === ctx) {
        this.loaded.delete(id); // re-insert: most recently used last
        this.loaded.set(id, entry);
        return m;
      }
      this.loaded.delete(id);
    }
    entry = (async () => {
      const { folder, tok: tokenizer } = await this.readStored(id);
      const model = AyaModel.fromHost(ctx, folder.config, folder.weights);
      try {
        // Compile every pipeline now (a prefill long enough for the blocked matmul kernels, then
        // one decode step), so the first generation's tokens/s measures generation, not compilation.
        const cache = model.createCache(1, 9);
        model.forward([new Array(8).fill(tokenizer.bos)], { cache, lastOnly: true }).release();
        await model.forward([[tokenizer.eos]], { cache }).read();
        cache.release();
      } catch (e) {
        model.dispose();
        throw e;
      }
      return { ctx, model, tokenizer };
    })();
    this.loaded.set(id, entry);
    entry.catch(() => this.loaded.delete(id));
    while (this.loaded.size > MAX_LOADED_MODELS) this.unload(this.loaded.keys().next().value as string);
    return entry;
  }

  /** Samples a completion of `prompt` in `lang`; every token is reported as it is produced. */
  async sample(
    jobId: string,
    modelId: string,
    prompt: string,
    lang: string,
    opts: SamplingOptions,
    onToken?: (e: SampleEvent) => void,
  ): Promise<SampleResult> {
    const stop = this.stopper(jobId);
    validateSampling(opts);
    language(lang);
    const { model, tokenizer } = await this.load(modelId);
    const promptIds = tokenizer.encodePrompt(prompt, lang);
    const stream = new TextStream((ids) => tokenizer.decode(ids, { skipSpecial: true }));
    const ids: number[] = [];
    const t0 = performance.now();
    const it = generate(model, promptIds, opts, stop);
    let stopReason: StopReason = 'max-tokens';
    for (;;) {
      const r = await it.next();
      if (r.done) {
        stopReason = r.value;
        break;
      }
      ids.push(r.value.id);
      const delta = r.value.id === model.config.eosTokenId ? '' : stream.push(r.value.id);
      onToken?.({ delta, id: r.value.id, index: r.value.index, tokensPerSecond: ids.length / ((performance.now() - t0) / 1000) });
    }
    stream.finish();
    const ms = performance.now() - t0;
    return { text: stream.text, ids, promptIds, stopReason, tokensPerSecond: ids.length / (ms / 1000), ms };
  }

  /** Fine-tunes a stored model; the result (and periodic checkpoints) are saved as a new model. */
  async train(jobId: string, req: TrainRequest, onEvent?: (e: TrainEvent) => void): Promise<TrainResult> {
    const stop = this.stopper(jobId);
    const ctx = await this.context();
    const { folder, tok } = await this.readStored(req.modelId);
    const languages = req.mix.filter((m) => m.weight > 0).map((m) => m.language);
    for (const l of languages) language(l);
    const docs = await this.documents();
    const data = { corpus: req.useCorpus ? docs : undefined, pairs: req.pairs };
    const heldOutCorpus = docs; // held-out loss always comes from the UDHR articles 23–30
    const spec: TrainSpec = {
      steps: req.steps,
      batchSize: req.batchSize,
      seqLen: req.seqLen,
      seed: req.seed,
      mix: req.mix,
      optimizer: { lr: req.lr, minLr: req.lr / 10 },
      evalEvery: req.evalEvery,
      evalExamples: 8,
      checkpointEvery: req.checkpointEvery,
    };
    const id = req.outId ?? newModelId(req.name);
    const parent = (await this.platform.models.list()).find((m) => m.id === req.modelId);
    const save = async (weights: HostWeights, step: number, status: string, heldOut: Record<string, number> | null) => {
      const playground = {
        created_by: `aya-playground ${pkg.version}`,
        trained: true,
        // The parent's own provenance nests, so lineage survives any number of fine-tunes.
        parent: { id: req.modelId, name: parent?.name ?? req.modelId, playground: folder.playground },
        training: { mix: req.mix, pairs: req.pairs?.length ?? 0, udhr: req.useCorpus, steps: req.steps, steps_done: step, batch_size: req.batchSize, seq_len: req.seqLen, lr: req.lr, seed: req.seed, status },
        held_out_loss: heldOut,
      };
      const out = writeModelFolder({ config: folder.config, weights, tokenizerJson: folder.tokenizerJson, tokenizerConfigJson: folder.tokenizerConfigJson, playground });
      const summary = summarize(id, req.name, 'trained', folder.config, out, playground);
      await this.platform.models.put(summary, out);
      this.unload(id); // a copy loaded for sampling must not keep older weights
      return summary;
    };
    let lastEval: EvalPoint | null = null;
    const outcome = await runTraining(ctx, folder.config, folder.weights, tok, data, spec, {
      onStep: (point, fraction, etaSeconds) => onEvent?.({ type: 'step', point, fraction, etaSeconds }),
      onEval: (point) => {
        lastEval = point;
        onEvent?.({ type: 'eval', point });
      },
      shouldStop: stop,
      waitIfPaused: async () => {
        const p = this.paused.get(jobId);
        if (!p) return;
        onEvent?.({ type: 'paused' });
        await p.promise;
        onEvent?.({ type: 'resumed' });
      },
      onCheckpoint: async (weights, step) => {
        const model = await save(weights, step, `checkpoint at step ${step} of ${req.steps}`, (lastEval as EvalPoint | null)?.perLanguage ?? null);
        onEvent?.({ type: 'checkpoint', step, model });
      },
    }, heldOutCorpus);
    const status = outcome.stopped === 'done' ? 'complete' : outcome.stopped === 'cancelled' ? `cancelled at step ${outcome.steps}` : `stopped at step ${outcome.steps + 1}: ${outcome.error}`;
    const model = outcome.steps > 0 ? await save(outcome.weights, outcome.steps, status, outcome.evals.at(-1)?.perLanguage ?? null) : null;
    this.finished(jobId);
    return { model, stopped: outcome.stopped, steps: outcome.steps, error: outcome.error, seconds: outcome.seconds };
  }

  /** Held-out loss per language (UDHR articles 23–30) of each model: the teachers × languages matrix. */
  async heldOutLoss(
    jobId: string,
    modelIds: string[],
    languages: string[] = [...LANGUAGE_CODES],
    onProgress?: (done: number, total: number, modelId: string) => void,
  ): Promise<Record<string, Record<string, number>>> {
    const stop = this.stopper(jobId);
    const ctx = await this.context();
    const docs = await this.documents();
    const out: Record<string, Record<string, number>> = {};
    for (let i = 0; i < modelIds.length; i++) {
      if (stop()) throw new JobCancelled(jobId);
      const { folder, tok } = await this.readStored(modelIds[i]);
      out[modelIds[i]] = await evaluateWeights(ctx, folder.config, folder.weights, tok, docs, languages, HELD_OUT, stop);
      onProgress?.(i + 1, modelIds.length, modelIds[i]);
    }
    return out;
  }

  // ---- arbiter, arbitrage, evaluation ------------------------------------------------------------

  /** The reference arbiter (character models fitted once on the training split) with `weights`. */
  async referenceArbiter(weights: ArbiterWeights = DEFAULT_WEIGHTS): Promise<ReferenceArbiter> {
    if (!this.arbiter) {
      this.arbiter = this.documents().then((docs) => ReferenceArbiter.fromCorpus(docs));
      this.arbiter.catch(() => (this.arbiter = null));
    }
    return (await this.arbiter).withWeights(weights);
  }

  /** Arbiter scores of completions (reward + components + the raw measurements). */
  async score(items: Array<{ prompt: string; completion: string; language: string; reference?: string }>, weights: ArbiterWeights = DEFAULT_WEIGHTS): Promise<ArbiterScore[]> {
    const arb = await this.referenceArbiter(weights);
    return items.map((x) => arb.score(x.prompt, x.completion, x.language, x.reference));
  }

  /** A prompt set: UDHR training or held-out prompts, or an imported JSONL. */
  async promptSet(sel: PromptSelection): Promise<ArbitragePrompt[]> {
    let all: ArbitragePrompt[];
    if (sel.source.kind === 'udhr') {
      const split = sel.source.split;
      const langs = sel.languages?.length ? sel.languages : [...LANGUAGE_CODES];
      all = (await Promise.all(langs.map((l) => this.prompts(l, split)))).flat().map((p) => ({ id: p.id, prompt: p.prompt, language: p.language, reference: p.reference }));
    } else {
      all = parsePromptsJsonl(sel.source.text, sel.source.file, sel.source.language);
      if (sel.languages?.length) all = all.filter((p) => sel.languages!.includes(p.language));
    }
    if (sel.perLanguage !== undefined) {
      if (!Number.isInteger(sel.perLanguage) || sel.perLanguage < 1) throw new Error(`prompts per language must be a positive integer, got ${sel.perLanguage}`);
      const seen = new Map<string, number>();
      all = all.filter((p) => {
        const n = (seen.get(p.language) ?? 0) + 1;
        seen.set(p.language, n);
        return n <= sel.perLanguage!;
      });
    }
    if (all.length === 0) throw new Error('no prompts match the chosen languages');
    return all;
  }

  /** A model's summary: from the store's list, or read from its files (the CLI's folders are not listed). */
  private async describe(id: string): Promise<ModelSummary> {
    const m = (await this.platform.models.list()).find((x) => x.id === id);
    if (m) return m;
    const files = await this.platform.models.files(id);
    const folder = readModelFolder(files, id);
    const name = id.split(/[\\/]/).filter(Boolean).pop() ?? id;
    return summarize(id, name, 'imported', folder.config, files, folder.playground);
  }

  private async teacherInfo(ids: string[]): Promise<TeacherInfo[]> {
    return Promise.all(
      ids.map(async (id) => {
        const m = await this.describe(id);
        const pg = m.playground ?? {};
        return { id, name: m.name, family: typeof pg.family === 'string' ? pg.family : undefined, languages: Array.isArray(pg.languages) ? (pg.languages as string[]) : undefined };
      }),
    );
  }

  /** A whole completion, without streaming (cancellable between tokens). */
  private async complete(modelId: string, prompt: string, lang: string, opts: SamplingOptions, stop: () => boolean): Promise<string> {
    const { model, tokenizer } = await this.load(modelId);
    const ids: number[] = [];
    const it = generate(model, tokenizer.encodePrompt(prompt, lang), opts, stop);
    for (;;) {
      const r = await it.next();
      if (r.done) break;
      if (r.value.id !== model.config.eosTokenId) ids.push(r.value.id);
    }
    return tokenizer.decode(ids, { skipSpecial: true });
  }

  /** `complete` for a job, memoised in `cache` when given (same model, prompt and seed → same text). */
  private completer(stop: () => boolean, cache?: Map<string, Promise<string>>) {
    return (modelId: string, p: ArbitragePrompt, opts: SamplingOptions): Promise<string> => {
      const key = JSON.stringify([modelId, p.prompt, p.language, opts]);
      let c = cache?.get(key);
      if (!c) {
        c = this.complete(modelId, p.prompt, p.language, opts, stop);
        cache?.set(key, c);
        // A completion cut short by a cancel must not be served again from the cache.
        c.then(() => stop() && cache?.delete(key), () => cache?.delete(key));
      }
      return c;
    };
  }

  /** Routes prompts to teachers, scores every completion with the Arbiter, keeps the best. */
  async arbitrage(jobId: string, req: ArbitrageRequest, onEvent?: (e: ArbitrageEvent) => void): Promise<ArbitrageResult> {
    const stop = this.stopper(jobId);
    try {
      return await this.arbitrageWith(req, stop, onEvent);
    } finally {
      this.finished(jobId);
    }
  }

  private async arbitrageWith(
    req: ArbitrageRequest,
    stop: () => boolean,
    onEvent?: (e: ArbitrageEvent) => void,
    cache?: Map<string, Promise<string>>,
  ): Promise<ArbitrageResult> {
    validateSampling({ ...req.sampling, seed: req.seed });
    const [prompts, teachers, arbiter] = await Promise.all([this.promptSet(req.prompts), this.teacherInfo(req.teachers), this.referenceArbiter(req.weights)]);
    const { prompts: _p, weights: _w, ...rest } = req;
    const spec: ArbitrageSpec = { ...rest, teachers };
    const t0 = performance.now();
    return runArbitrage(prompts, spec, {
      arbiter,
      shouldStop: stop,
      generate: this.completer(stop, cache),
      onProgress: (done, total, latest) => onEvent?.({ type: 'progress', done, total, etaSeconds: eta(t0, done, total), latest }),
    });
  }

  /** Head-to-head: A and B complete the same prompts with the same seeds; the Arbiter judges. */
  async evaluate(jobId: string, req: EvalRequest, onEvent?: (e: EvalEvent) => void): Promise<EvalReport> {
    const stop = this.stopper(jobId);
    try {
      return await this.evaluateWith(req, stop, onEvent);
    } finally {
      this.finished(jobId);
    }
  }

  private async evaluateWith(req: EvalRequest, stop: () => boolean, onEvent?: (e: EvalEvent) => void, cache?: Map<string, Promise<string>>): Promise<EvalReport> {
    validateSampling({ ...req.sampling, seed: req.seed });
    const [prompts, arbiter, ma, mb] = await Promise.all([this.promptSet(req.prompts), this.referenceArbiter(req.weights), this.describe(req.a), this.describe(req.b)]);
    const names = { a: ma.name, b: mb.name };
    const t0 = performance.now();
    return runHeadToHead(prompts, { a: req.a, b: req.b, samples: req.samples, seed: req.seed, sampling: req.sampling, bootstrap: req.bootstrap ?? DEFAULT_BOOTSTRAP }, names, {
      arbiter,
      shouldStop: stop,
      generate: this.completer(stop, cache),
      onProgress: (done, total, latest) => onEvent?.({ type: 'progress', done, total, etaSeconds: eta(t0, done, total), latest }),
    });
  }

  /**
   * Issue 5's experiment: arbitrage with each strategy, the same SFT of the student on each result,
   * each student head-to-head against the single-teacher student on held-out prompts.
   */
  async arbitrageExperiment(jobId: string, req: ExperimentRequest, onEvent?: (e: ExperimentEvent) => void): Promise<ExperimentReport> {
    const stop = this.stopper(jobId);
    const cache = new Map<string, Promise<string>>();
    const teachers = await this.teacherInfo(req.teachers);
    const [student] = await this.teacherInfo([req.student]);
    const trainPrompts = await this.promptSet(req.trainPrompts);
    const heldOut = await this.promptSet(req.heldOutPrompts);
    const spec: ExperimentSpec = {
      teachers,
      student: { id: student.id, name: student.name },
      strategies: req.strategies,
      samplesPerTeacher: req.samplesPerTeacher,
      seed: req.seed,
      sampling: req.sampling,
      sft: req.sft,
      evalSamples: req.evalSamples,
      bootstrap: req.bootstrap ?? DEFAULT_BOOTSTRAP,
    };
    // Rough cost model for the ETA: one generation ≈ one unit, one SFT step ≈ 3 units.
    const others = req.strategies.filter((s) => s !== 'reward' && s !== 'single').length;
    const units = {
      arbitrage: trainPrompts.length * req.samplesPerTeacher * teachers.length,
      sft: req.strategies.length * req.sft.steps * 3,
      eval: heldOut.length * req.evalSamples * (others + 1 + (req.strategies.includes('reward') ? 1 : 0)),
    };
    const totalUnits = units.arbitrage + units.sft + units.eval;
    let doneBefore = 0;
    let stageKey = '';
    let stageDone = 0;
    const t0 = performance.now();
    const report = (stage: ExperimentStage) => {
      const key = `${stage.stage}:${stage.strategy}`;
      const d = stage.stage === 'sft' ? stage.step * 3 : stage.done;
      if (key !== stageKey) {
        doneBefore += stageDone;
        stageKey = key;
      }
      stageDone = Math.min(d, totalUnits);
      const fraction = Math.min(1, (doneBefore + stageDone) / totalUnits);
      onEvent?.({ type: 'stage', stage, fraction, etaSeconds: fraction > 0 ? ((performance.now() - t0) / 1000) * (1 / fraction - 1) : NaN });
    };
    try {
      return await runArbitrageExperiment(trainPrompts, spec, {
        shouldStop: stop,
        onStage: report,
        onPartial: (r) => onEvent?.({ type: 'partial', report: r }),
        arbitrage: (s, onProgress) =>
          this.arbitrageWith(
            { teachers: req.teachers, prompts: req.trainPrompts, strategy: s.strategy, samplesPerTeacher: s.samplesPerTeacher, seed: s.seed, sampling: s.sampling, single: s.single, routerData: s.routerData, weights: req.weights },
            stop,
            (e) => onProgress(e.done, e.total),
            cache,
          ),
        sft: async (strategy, pairs, onStep) => {
          const sub = `${jobId}/sft-${strategy}`;
          const cancelWatch = setInterval(() => stop() && this.cancel(sub), 200);
          try {
            const r = await this.train(sub, {
              modelId: req.student,
              name: `${student.name} · arbitrage-${strategy}`,
              outId: req.outPrefix ? `${req.outPrefix}${strategy}` : undefined,
              mix: [...new Set(pairs.map((p) => p.language))].map((language) => ({ language, weight: 1 })),
              pairs,
              useCorpus: false,
              steps: req.sft.steps,
              batchSize: req.sft.batchSize,
              seqLen: req.sft.seqLen,
              lr: req.sft.lr,
              seed: req.seed,
              evalEvery: 0,
              checkpointEvery: 0,
            }, (e) => e.type === 'step' && onStep(e.point.step, req.sft.steps));
            if (!r.model) throw new Error(`SFT on the ${strategy} set stopped before a step (${r.stopped}${r.error ? ': ' + r.error : ''})`);
            if (r.stopped === 'non-finite') throw new Error(`SFT on the ${strategy} set: ${r.error}`);
            return { id: r.model.id, name: r.model.name };
          } finally {
            clearInterval(cancelWatch);
          }
        },
        evaluate: (a, b, onProgress) =>
          this.evaluateWith(
            { a: a.id, b: b.id, prompts: req.heldOutPrompts, samples: req.evalSamples, seed: req.seed, sampling: req.sampling, bootstrap: req.bootstrap, weights: req.weights },
            stop,
            (e) => onProgress(e.done, e.total),
            cache,
          ),
      });
    } finally {
      this.finished(jobId);
    }
  }

  /** Merges stored models (mergekit semantics, GPU kernels) into a new stored model; progress per
   *  tensor, cancel with cancel(jobId). playground.json of the result records the parents and the
   *  merge; mergekit_config.yml travels with its files. */
  async merge(jobId: string, req: MergeRequest, onProgress?: (p: MergeProgress) => void): Promise<ModelSummary> {
    const stop = this.stopper(jobId);
    try {
      const ctx = await this.context();
      const r = await runMergeJob(ctx, this.platform.models, req, {
        createdBy: `aya-playground ${pkg.version}`,
        checkStop: () => {
          if (stop()) throw new JobCancelled(jobId);
        },
        onProgress,
      });
      const summary = summarize(req.outId ?? newModelId(req.name), req.name, 'trained', r.config, r.files, r.playground);
      await this.platform.models.put(summary, r.files);
      this.unload(summary.id); // a copy loaded for sampling must not keep older weights
      return summary;
    } finally {
      this.finished(jobId);
    }
  }

  /** What the Merge panel draws: per-layer cosine similarity and sign conflicts of the task vectors,
   *  and one tensor's SLERP arc vs chord, TIES masks and DARE drops (src/merge/inspect.ts). */
  mergeInspect(req: MergeInspectRequest): Promise<MergeInspection> {
    return inspectMerge(this.platform.models, req);
  }

  /** Searches merge weights (grid, simplex or CMA-ES; src/merge/search.ts): every candidate is
   *  merged in memory and scored by per-language held-out loss; nothing is saved. Progress after
   *  each candidate; cancel(jobId) returns the finished points with `cancelled: true`. */
  async mergeSearch(jobId: string, req: MergeSearchRequest, onProgress?: (p: SearchProgress) => void): Promise<SearchResult> {
    const stop = this.stopper(jobId);
    try {
      const [ctx, docs] = await Promise.all([this.context(), this.documents()]);
      return await runMergeSearchJob(ctx, this.platform.models, docs, req, { shouldStop: stop, onProgress });
    } finally {
      this.finished(jobId);
    }
  }

  /** Offline and/or online iterative DPO from a stored model; each stage's model is saved. */
  async dpo(jobId: string, req: DpoRequest, onEvent?: (e: PreferenceEvent) => void): Promise<PreferenceOutcome> {
    const stop = this.stopper(jobId);
    try {
      const ctx = await this.context();
      const { folder, tok } = await this.readStored(req.modelId);
      const parent = await this.describe(req.modelId);
      const [arbiter, onlinePrompts, evalPrompts] = await Promise.all([
        this.referenceArbiter(req.weights),
        req.mode !== 'offline' && req.onlinePrompts ? this.promptSet(req.onlinePrompts) : Promise.resolve([]),
        req.evalPrompts ? this.promptSet(req.evalPrompts) : Promise.resolve([]),
      ]);
      validateSampling({ ...req.sampling, seed: req.seed });
      const settings = { mode: req.mode, loss: req.loss, beta: req.beta, lr: req.lr, batch_pairs: req.batchPairs, seq_len: req.seqLen, seed: req.seed, offline_steps: req.offlineSteps, online_steps: req.onlineSteps, iterations: req.iterations, samples_per_prompt: req.samplesPerPrompt, offline_pairs: req.pairs?.length ?? 0 };
      return await runPreferenceTraining(
        folder.weights,
        {
          mode: req.mode,
          dpo: { loss: req.loss, beta: req.beta, batchPairs: req.batchPairs, seqLen: req.seqLen, lr: req.lr, seed: req.seed },
          offlineSteps: req.offlineSteps,
          onlineSteps: req.onlineSteps,
          iterations: req.iterations,
          samplesPerPrompt: req.samplesPerPrompt,
          sampling: req.sampling,
          evalEvery: req.evalEvery,
        },
        {
          ctx,
          config: folder.config,
          tok,
          arbiter,
          pairs: req.pairs ?? [],
          onlinePrompts,
          evalPrompts,
          shouldStop: stop,
          waitIfPaused: async () => {
            const p = this.paused.get(jobId);
            if (!p) return;
            onEvent?.({ type: 'paused' });
            await p.promise;
            onEvent?.({ type: 'resumed' });
          },
          onEvent,
          save: async (weights, stage, info) => {
            const name = `${req.name} · ${stage}`;
            const id = req.outPrefix ? `${req.outPrefix}${stage.replace(' ', '-')}` : newModelId(name);
            const playground = {
              created_by: `aya-playground ${pkg.version}`,
              trained: true,
              parent: { id: req.modelId, name: parent.name, playground: folder.playground },
              preference: { ...settings, ...info },
            };
            const out = writeModelFolder({ config: folder.config, weights, tokenizerJson: folder.tokenizerJson, tokenizerConfigJson: folder.tokenizerConfigJson, playground });
            await this.platform.models.put(summarize(id, name, 'trained', folder.config, out, playground), out);
            this.unload(id);
            return { id, name };
          },
        },
      );
    } finally {
      this.finished(jobId);
    }
  }

  /** Text is scored after `<bos>` (and `<lang:xx>` when a language is given). */
  async logprobs(modelId: string, input: { text: string; lang?: string } | { ids: number[] }): Promise<LogprobsResult> {
    const { model, tokenizer } = await this.load(modelId);
    let ids: number[];
    if ('ids' in input) ids = input.ids;
    else ids = input.lang ? tokenizer.encodePrompt(input.text, input.lang) : [tokenizer.bos, ...tokenizer.encode(input.text)];
    return sequenceLogprobs(model, ids);
  }
}

function eta(t0: number, done: number, total: number): number {
  return done > 0 ? ((performance.now() - t0) / 1000 / done) * (total - done) : NaN;
}

let idCounter = 0;
function newModelId(name: string): string {
  const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 32) || 'model';
  return `${slug}-${Date.now().toString(36)}${(++idCounter).toString(36)}`;
}
