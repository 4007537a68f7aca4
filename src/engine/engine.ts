// The Engine: one implementation of everything the app and the CLI can ask for, independent of
// where it runs (a browser Worker, Node). Long operations are jobs with progress and cancel.
import type { AdapterSummary, DeviceLoss, GpuContext } from '../gpu/context.ts';
import { runOpChecks, type OpCheckResult } from '../ops/checks.ts';
import { runBench, type BenchOptions, type BenchProgress, type BenchReport } from '../bench/bench.ts';
import { availableVariants, defaultVariant } from '../ops/matmul.ts';
import { type ModelFiles, readModelFolder } from '../model/folder.ts';
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
import pkg from '../../package.json';

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
      const files = await this.platform.models.files(id);
      const folder = readModelFolder(files, id);
      if (!folder.tokenizerJson) throw new Error(`${id}: no tokenizer.json`);
      const tokenizer = BpeTokenizer.fromTokenizerJson(folder.tokenizerJson, `${id}/tokenizer.json`);
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
    const files = await this.platform.models.files(req.modelId);
    const folder = readModelFolder(files, req.modelId);
    if (!folder.tokenizerJson) throw new Error(`${req.modelId}: no tokenizer.json`);
    const tok = BpeTokenizer.fromTokenizerJson(folder.tokenizerJson, `${req.modelId}/tokenizer.json`);
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
      const folder = readModelFolder(await this.platform.models.files(modelIds[i]), modelIds[i]);
      if (!folder.tokenizerJson) throw new Error(`${modelIds[i]}: no tokenizer.json`);
      const tok = BpeTokenizer.fromTokenizerJson(folder.tokenizerJson);
      out[modelIds[i]] = await evaluateWeights(ctx, folder.config, folder.weights, tok, docs, languages, HELD_OUT, stop);
      onProgress?.(i + 1, modelIds.length, modelIds[i]);
    }
    return out;
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

let idCounter = 0;
function newModelId(name: string): string {
  const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 32) || 'model';
  return `${slug}-${Date.now().toString(36)}${(++idCounter).toString(36)}`;
}
