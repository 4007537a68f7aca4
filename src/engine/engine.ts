// The Engine, in process: the façade that puts the parts together (device, model library, shared
// resources, one module per job) behind the EngineApi contract (api.ts). The Worker and the desktop
// runtime serve this object over protocol.ts; the CLI calls it directly.
import { show } from '../util/show.ts';
import type { GpuContext } from '../gpu/context.ts';
import { availableVariants, checkDecodeKernels, decodeVariant, defaultVariant } from '../ops/matmul.ts';
import { adapterSignature, applyKernelChoices, type KernelChoices } from '../ops/tune.ts';
import { language } from '../data/languages.ts';
import { sequenceLogprobs } from '../model/logprobs.ts';
import { onnxFolderFiles } from '../model/onnxExport.ts';
import type { OnnxTeacherInput, OnnxTeachers } from './onnxTeachers.ts';
import { GGUF_DTYPES, ggufFileName, modelToGguf, ollamaModelfile } from '../model/ggufExport.ts';
import { inspectMerge } from './jobs/merge.ts';
import pkg from '../../package.json';
import {
  type CreateModelRequest,
  type EngineApi,
  type EngineEvent,
  type EngineInfo,
  type ExportOptions,
  type Job,
  type JobKind,
  type JobOutcome,
  type JobRequest,
  type LogprobsInput,
  type PromptSelection,
  type ScoreItem,
  type TokenizeResult,
  JOB_KINDS,
  newJobId,
  resultOf,
} from './api.ts';
import type { EngineCore, EnginePlatform } from './core.ts';
import { DeviceManager } from './device.ts';
import { ModelLibrary } from './library.ts';
import { Resources } from './resources.ts';
import { type JobControl, type JobRecord, JobRegistry } from './jobRegistry.ts';
import { bench, checkOps, peers, tuneKernels } from './jobs/diagnostics.ts';
import { sample } from './jobs/sample.ts';
import { heldOutLoss, train } from './jobs/train.ts';
import { arbitrage, arbitrageExperiment, evaluate } from './jobs/arbitrage.ts';
import { dpo } from './jobs/dpo.ts';
import { merge, mergeSearch } from './jobs/merge.ts';
import { zoo } from './jobs/zoo.ts';
import { trainTokenizer } from './jobs/tokenizer.ts';
import type { ArbiterWeights } from '../arbiter/arbiter.ts';
import type { MergeInspectRequest } from './jobs/merge.ts';
import { isPlainFileName, type ModelFiles } from '../model/folder.ts';
import { TeacherHub } from './teachers.ts';
import { OpenAiTeachers, type EndpointConfig } from './openaiTeachers.ts';

export type { EnginePlatform };

type Runner = (core: EngineCore, request: never, ctl: JobControl<never>) => Promise<unknown>;

const RUNNERS: Record<JobKind, Runner> = { checkOps, bench, tuneKernels, peers, sample, heldOutLoss, train, arbitrage, evaluate, arbitrageExperiment, dpo, merge, mergeSearch, zoo, trainTokenizer } as Record<JobKind, Runner>;

/** A short description of a job for job lists. */
function jobLabel(kind: JobKind, req: Record<string, unknown>): string {
  const s = (v: unknown) => (typeof v === 'string' ? v : '');
  switch (kind) {
    case 'sample':
      return `${s(req.modelId)} · ${s(req.lang)}`;
    case 'train':
    case 'dpo':
    case 'merge':
      return s(req.name);
    case 'evaluate':
      return `${s(req.a)} vs ${s(req.b)}`;
    case 'arbitrage':
      return `${s(req.strategy)} · ${Array.isArray(req.teachers) ? req.teachers.length : 0} teachers`;
    case 'heldOutLoss':
      return Array.isArray(req.modelIds) ? req.modelIds.join(', ') : '';
    case 'zoo':
      return s(req.out);
    default:
      return '';
  }
}

/** A job of this engine, seen in process. */
function localJob<K extends JobKind>(rec: JobRecord): Job<K> {
  const outcome = rec.done as Promise<JobOutcome<never>>;
  return {
    id: rec.id,
    kind: rec.kind as K,
    request: rec.request as JobRequest<K>,
    on(listener) {
      return rec.follow((m) => m.type === 'event' && listener(m.data as never));
    },
    outcome,
    result: async () => resultOf(rec.id, await outcome),
    cancel: async () => rec.cancel(),
    pause: async () => rec.pause(),
    resume: async () => rec.resume(),
  };
}

export class Engine implements EngineApi {
  readonly core: EngineCore;
  readonly jobRegistry = new JobRegistry();
  private readonly listeners = new Set<(e: EngineEvent) => void>();

  constructor(readonly platform: EnginePlatform) {
    const kernels = new WeakMap<GpuContext, KernelChoices>();
    // A new device takes this adapter's measured kernel choices, when there are some.
    const device = new DeviceManager(async () => {
      const c = await platform.acquireGpu();
      await checkDecodeKernels(c);
      const stored = await platform.kernelChoices?.load(adapterSignature(c.adapter)).catch(() => null);
      if (stored) {
        try {
          applyKernelChoices(c, stored);
          kernels.set(c, stored);
        } catch {
          // Another adapter's (or an unreadable) record: the built-in rule picks.
        }
      }
      return c;
    });
    const resources = new Resources(platform.udhr, platform.builtinTokenizer);
    const createdBy = `aya-playground ${pkg.version}${platform.host === 'tab' ? '' : ` (${platform.host})`}`;
    const library = new ModelLibrary(platform.models, device, resources.builtinTokenizer, createdBy);
    // Models on a device that went away died with it; models loaded on a newer device stay.
    device.onContextGone = (c) => library.forget(c);
    device.onDeviceLost((loss) => this.broadcast({ type: 'device-lost', loss }));
    this.jobRegistry.onChange((jobs) => this.broadcast({ type: 'jobs', jobs }));
    this.core = { platform, device, library, resources, createdBy, kernels, teachers: new TeacherHub(platform.teachers ?? []) };
  }

  // ---- calls ----------------------------------------------------------------------------------

  async info(): Promise<EngineInfo> {
    const c = await this.core.device.context();
    return {
      adapter: c.adapter,
      versions: { app: pkg.version, runtime: this.platform.runtime },
      matmul: { variants: availableVariants(c).map((v) => v.name), default: defaultVariant(c), inForce: { decode: decodeVariant(c, 1), batched: decodeVariant(c, 8), bulk: defaultVariant(c, 64) }, choices: this.core.kernels.get(c) ?? null, choicesStored: this.platform.kernelChoices?.where ?? null },
      deviceLost: c.lostInfo,
      host: this.platform.host,
      libraryRoots: this.platform.libraryRoots ?? [],
    };
  }

  /** A new device. On the runtime the device is shared by every client: a live one is kept (another
   *  client may have brought it up after a loss, with jobs on it). */
  async restart(): Promise<EngineInfo> {
    if (this.platform.host === 'runtime' && this.core.device.live()) return this.info();
    this.core.library.forget();
    await this.core.device.restart();
    return this.info();
  }

  async simulateDeviceLoss(): Promise<void> {
    if (this.platform.host === 'runtime') throw new Error("simulating a device loss is for this tab's engine: on the desktop runtime it would stop every client's jobs");
    return this.core.device.simulateLoss();
  }

  async simulateWorkerCrash(): Promise<void> {
    if (this.platform.host !== 'tab') throw new Error(`simulating a crash is for the tab's engine worker, not the ${this.platform.host === 'cli' ? 'CLI' : 'desktop runtime'}`);
    // Thrown outside any call, as a bug in the worker would be: nothing answers it but the page's error handler.
    setTimeout(() => {
      throw new Error('simulated engine worker crash');
    });
  }

  listModels() {
    return this.core.library.list();
  }

  listTeachers() {
    return this.core.teachers.list();
  }

  async connectEndpoint(config: EndpointConfig) {
    const backend = new OpenAiTeachers(config);
    const teachers = await backend.list(); // a server that does not answer is not added
    // Connecting again under the same name replaces the old settings (a new URL or key).
    await this.core.teachers.remove(backend.prefix);
    this.core.teachers.add(backend);
    return teachers;
  }

  disconnectEndpoint(name: string) {
    return this.core.teachers.remove(`openai:${String(name)}/`);
  }

  private onnx: Promise<OnnxTeachers> | null = null;

  /** The ONNX backend, made (and onnxruntime-web loaded) on first use. */
  private onnxTeachers(): Promise<OnnxTeachers> {
    this.onnx ??= import('./onnxTeachers.ts').then(({ OnnxTeachers }) => {
      const b = new OnnxTeachers(this.core.platform.onnxProviders ?? ['wasm']);
      if (!this.core.teachers.has(b.prefix)) this.core.teachers.add(b);
      return b;
    });
    return this.onnx;
  }

  async addOnnxTeacher(input: OnnxTeacherInput) {
    return (await this.onnxTeachers()).add(input);
  }

  async removeOnnxTeacher(name: string) {
    return this.onnx ? (await this.onnx).remove(String(name)) : false;
  }

  createModel(req: CreateModelRequest) {
    return this.core.library.create(req);
  }

  importModel(name: string, files: ModelFiles) {
    return this.core.library.import(name, files);
  }

  async exportModel(id: string, opts: ExportOptions = {}) {
    const format = opts.format ?? 'folder';
    if (format === 'folder') return this.core.library.files(id);
    if (format !== 'gguf' && format !== 'onnx') throw new Error(`export: unknown format '${show(format)}' (folder, gguf or onnx)`);
    const dtype = opts.dtype ?? 'f32';
    if (format === 'gguf' && !GGUF_DTYPES.includes(dtype)) throw new Error(`export: GGUF dtype must be one of ${GGUF_DTYPES.join(', ')}, got '${show(dtype)}'`);
    const [{ folder, tok }, models] = await Promise.all([this.core.library.read(id), this.listModels()]);
    // A model outside the library (the CLI's --model DIR) is named after its folder.
    const name = models.find((m) => m.id === id)?.name ?? id.split(/[\\/]/).filter(Boolean).pop() ?? id;
    if (format === 'onnx') return onnxFolderFiles({ ...folder, tokenizerJson: folder.tokenizerJson ?? tok.toTokenizerJson(), tokenizerConfigJson: folder.tokenizerConfigJson ?? tok.tokenizerConfigJson() }, name);
    const file = opts.fileName ?? ggufFileName(name, dtype);
    if (!isPlainFileName(file)) throw new Error(`export: '${file}' is not a plain file name`);
    const files: ModelFiles = new Map();
    files.set(file, modelToGguf(folder, tok, { dtype, name }));
    files.set('Modelfile', new TextEncoder().encode(ollamaModelfile(file, folder, tok, name)));
    return files;
  }

  deleteModel(id: string) {
    return this.core.library.delete(id);
  }

  prompts(lang: string, split: 'train' | 'heldout' = 'heldout') {
    return this.core.resources.prompts(lang, split);
  }

  async tokenize(modelId: string | null, text: string): Promise<TokenizeResult> {
    if (typeof text !== 'string') throw new Error('tokenize: the text must be a string');
    const tok = modelId ? await this.core.library.tokenizer(modelId) : await this.core.resources.builtinTokenizer();
    const ids = tok.encode(text);
    return { ids, tokens: ids.map((i) => tok.idToToken(i)), decoded: tok.decode(ids), fertility: tok.fertility(text) };
  }

  async logprobs(modelId: string, input: LogprobsInput) {
    const { model, tokenizer } = await this.core.library.load(modelId);
    let ids: number[];
    if (input && 'ids' in input) {
      ids = input.ids;
      if (!Array.isArray(ids) || ids.length === 0) throw new Error('logprobs: ids must be a non-empty list of token ids');
      const vocab = model.config.vocabSize;
      ids.forEach((id, i) => {
        if (!Number.isInteger(id) || id < 0 || id >= vocab) throw new Error(`logprobs: ids[${i}] = ${show(id)} is outside the vocabulary of ${modelId} (token ids 0 to ${vocab - 1})`);
      });
    }
    else if (input && typeof input.text === 'string') {
      if (input.lang) language(input.lang);
      ids = input.lang ? tokenizer.encodePrompt(input.text, input.lang) : [tokenizer.bos, ...tokenizer.encode(input.text)];
    } else throw new Error('logprobs: give {text, lang?} or {ids}');
    return sequenceLogprobs(model, ids);
  }

  async zooManifest() {
    return (await this.platform.zooManifest?.()) ?? null;
  }

  score(items: ScoreItem[], weights?: ArbiterWeights) {
    return this.core.resources.score(items, weights);
  }

  promptSet(sel: PromptSelection) {
    return this.core.resources.promptSet(sel);
  }

  mergeInspect(req: MergeInspectRequest) {
    return inspectMerge(this.core.library.store, req);
  }

  async jobs() {
    return this.jobRegistry.list();
  }

  // ---- jobs -----------------------------------------------------------------------------------

  start<K extends JobKind>(kind: K, request: JobRequest<K>, id: string = newJobId(kind)): Job<K> {
    if (!JOB_KINDS.includes(kind)) throw new Error(`unknown job '${show(kind, 40)}'`);
    if (request === null || typeof request !== 'object') throw new Error(`${kind}: the request must be an object`);
    const run = RUNNERS[kind];
    const rec = this.jobRegistry.start(kind, id, request, jobLabel(kind, request as Record<string, unknown>), (ctl) => run(this.core, request as never, ctl as JobControl<never>));
    return localJob<K>(rec);
  }

  async attach<K extends JobKind = JobKind>(jobId: string): Promise<Job<K>> {
    return localJob<K>(this.jobRegistry.get(jobId));
  }

  async control(jobId: string, action: 'cancel' | 'pause' | 'resume'): Promise<void> {
    if (action !== 'cancel' && action !== 'pause' && action !== 'resume') throw new Error(`unknown job action '${show(action, 20)}'`);
    this.jobRegistry.get(jobId)[action]();
    this.jobRegistry.changed();
  }

  /** The record behind a job (its request, for a client that re-attaches). */
  jobRecord(jobId: string): JobRecord {
    return this.jobRegistry.get(jobId);
  }

  subscribe(listener: (e: EngineEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private broadcast(e: EngineEvent): void {
    for (const l of this.listeners) l(e);
  }

  /** Cancels the running jobs, waits up to `waitMs` for them to end, then releases the device. */
  async shutdown(waitMs: number): Promise<void> {
    await this.jobRegistry.cancelAll(waitMs);
    this.dispose();
  }

  dispose(): void {
    void this.jobRegistry.cancelAll();
    void this.core.teachers.dispose();
    this.core.library.forget();
    this.core.device.dispose();
  }
}
