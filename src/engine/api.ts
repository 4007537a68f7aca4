// The Engine contract: everything the app, the CLI and the desktop runtime's clients can ask of an
// engine, as plain serialisable values (structured-clone safe; the WebSocket codec carries Maps,
// byte arrays and non-finite numbers too). One implementation (engine.ts) and two transports of it
// (protocol.ts: a Worker port, a WebSocket) all satisfy `EngineApi`.
//
// Long work is a job (`start(kind, request)`): an id, an event stream that a client can subscribe to
// and re-subscribe to (every event from the start is replayed, then live ones), one cancel semantic
// and pause/resume where the job has steps to pause between.
//
// Cancel, the one semantic: cancel asks the job to stop at its next check; the job then ends with
// status 'cancelled' and, where the job has one, the partial result (the text so far, the model
// trained so far, the finished points); a job that has nothing partial to give (a merge, whose
// output is left untouched; a bench) ends 'cancelled' with result null. `Job.result()` resolves only
// for 'done'; `Job.outcome` says how any job ended.
import type { AdapterSummary, DeviceLoss } from '../gpu/context.ts';
import type { OpCheckResult } from '../ops/checks.ts';
import type { BenchOptions, BenchProgress, BenchReport } from '../bench/bench.ts';
import type { MatmulClass } from '../ops/matmul.ts';
import type { KernelChoices, TuneShapes } from '../ops/tune.ts';
import type { ModelFiles } from '../model/folder.ts';
import type { StopReason } from '../model/generate.ts';
import type { LogprobsResult } from '../model/logprobs.ts';
import type { SamplingOptions } from '../model/sample.ts';
import type { Prompt } from '../data/corpus.ts';
import type { ModelSummary } from './models.ts';
import type { GgufDtype } from '../model/ggufExport.ts';
import type { ChatMessage, PromptMode, TeacherBackendKind, TeacherSummary } from './teachers.ts';

export type { ChatMessage, PromptMode, TeacherBackendKind, TeacherSummary };
export type { EndpointConfig } from './openaiTeachers.ts';
import type { EndpointConfig } from './openaiTeachers.ts';
import type { OnnxTeacherInput } from './onnxTeachers.ts';
export interface TeacherList {
  teachers: TeacherSummary[];
  errors: Array<{ backend: string; message: string }>;
}
import type { MixEntry, PairRecord } from '../train/data.ts';
import type { EvalPoint, StepPoint } from '../train/sft.ts';
import type { ArbiterScore, ArbiterWeights } from '../arbiter/arbiter.ts';
import type { ArbitragePrompt, ArbitrageResult, ArbitrageSpec, Generation, Strategy } from '../arbitrage/arbitrage.ts';
import type { ExperimentReport, ExperimentStage } from '../arbitrage/experiment.ts';
import type { EvalReport, Transcript } from '../eval/headToHead.ts';
import type { JudgeChoice } from '../eval/llmJudge.ts';
import type { PeerRow, PeersOptions, PeersProgress } from '../bench/peers/peers.ts';
import type { DpoPair } from '../train/dpo.ts';
import type { DpoLossType } from '../ops/dpo.ts';
import type { PreferenceEvent, PreferenceMode, PreferenceOutcome } from '../train/preference.ts';
import type { MergeConfig } from '../merge/config.ts';
import type { MergeProgress } from '../merge/merge.ts';
import type { MergeSearchRequest, SearchProgress, SearchResult } from '../merge/search.ts';
import type { MergeInspection, MergeInspectRequest } from './jobs/merge.ts';
import type { ZooManifest } from '../store/builtinModels.ts';

export type { ModelSummary, ModelFiles, Prompt, MergeInspection, MergeInspectRequest, MergeProgress, MergeSearchRequest, SearchProgress, SearchResult, ZooManifest };

// ---- plain calls ----------------------------------------------------------------------------------

export interface EngineInfo {
  adapter: AdapterSummary;
  versions: { app: string; runtime: string };
  /** `default`: the variant a 64-row matmul uses; `inForce`: each row class's variant now (the
   *  decoding classes as batched decoding picks them); `choices`: the variants measured fastest per row
   *  class on this adapter (null: not measured here, the built-in rule picks; `tuneKernels`). */
  matmul: { variants: string[]; default: string; inForce: Record<MatmulClass, string>; choices: KernelChoices | null; choicesStored: string | null };
  deviceLost: DeviceLoss | null;
  /** Where this engine runs: the tab's Worker, the desktop runtime, the CLI. */
  host: 'tab' | 'runtime' | 'cli';
  /** The runtime's model library folders (absolute paths); empty elsewhere. */
  libraryRoots: string[];
}

export interface TokenizeResult {
  ids: number[];
  tokens: string[];
  decoded: string;
  fertility: { tokens: number; chars: number; words: number; tokensPerChar: number; tokensPerWord: number };
}

export interface CreateModelRequest {
  name: string;
  preset: string;
  seed: number;
  /** Where to save it (default: a new id; the CLI passes the output folder). */
  outId?: string;
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

export interface ScoreItem {
  prompt: string;
  completion: string;
  language: string;
  reference?: string;
}

export type LogprobsInput = { text: string; lang?: string } | { ids: number[] };

// ---- jobs -----------------------------------------------------------------------------------------

export interface CheckRequest {
  seed: number;
}
export interface CheckEvent {
  row: OpCheckResult;
  index: number;
  total: number;
}
export interface CheckSummary {
  results: OpCheckResult[];
  passed: number;
  failed: number;
  cancelled: boolean;
  seed: number;
}

export interface SampleRequest {
  /** One of our models, or a teacher (`gguf:…`, `openai:…`, from listTeachers). */
  modelId: string;
  prompt: string;
  lang: string;
  sampling: SamplingOptions;
  /** Teachers only: 'raw' continuation or 'chat' through the model's template (default: the
   *  teacher's defaultMode). Our models always continue `<bos><lang:xx>` + prompt. */
  mode?: PromptMode;
  /** Return each generated token's log-probability and this many alternatives (0–20). */
  logprobs?: number;
  /** Teachers in chat mode: the whole conversation (its last user turn is `prompt`). */
  messages?: ChatMessage[];
  /** Constrain the reply to this JSON schema: any schema on llama.cpp teachers (a grammar), what an
   *  OpenAI server's `response_format` takes, and finite schemas (enum / const fields) on our models. */
  jsonSchema?: Record<string, unknown>;
}

export interface SampleEvent {
  /** Text completed by this token (may be empty while a multi-byte character is incomplete). */
  delta: string;
  /** The token's id (-1 from a backend that streams text, not ids). */
  id: number;
  index: number;
  tokensPerSecond: number;
}

export interface SampleResult {
  text: string;
  /** Generated token ids (in the backend's vocabulary; empty where a server gives none). */
  ids: number[];
  promptIds: number[];
  /** Generated tokens (= ids.length where ids are known). */
  tokens: number;
  /** Tokens of the prompt as the backend saw it (template included); 0 where a server gives none. */
  promptTokens: number;
  stopReason: StopReason;
  tokensPerSecond: number;
  ms: number;
  /** 'engine' (our WGSL engine) or the teacher's backend. */
  backend: 'engine' | TeacherBackendKind;
  /** Teachers: exactly what the model was given (raw prompt, or the chat template applied). */
  appliedPrompt?: string;
  /** With `logprobs`: per generated token, under the model's own distribution. */
  logprobs?: Array<{ token: string; logprob: number; top: Array<{ token: string; logprob: number }> }>;
  /** With `jsonSchema`: whether the backend did constrain the reply (a server may not support it). */
  constrained?: boolean;
  /** ONNX teachers: the execution provider that ran it ('webgpu' or 'wasm'). */
  executionProvider?: string;
}

export interface HeldOutRequest {
  modelIds: string[];
  /** Default: all 23. */
  languages?: string[];
}
export interface HeldOutEvent {
  done: number;
  total: number;
  modelId: string;
}
/** modelId → language → mean held-out token cross-entropy (nats). */
export type HeldOutResult = Record<string, Record<string, number>>;

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
  /** Continue the interrupted run saved as this model (a checkpoint or a cancelled run, which keep
   *  their optimizer state): its own request is used, the rest of this one is ignored, and it is
   *  saved in place. The result is bit-identical to the run never having stopped. */
  resumeFrom?: string;
}

export type TrainEvent =
  | { type: 'step'; point: StepPoint; fraction: number; etaSeconds: number }
  | { type: 'eval'; point: EvalPoint }
  | { type: 'checkpoint'; step: number; model: ModelSummary }
  | { type: 'paused' | 'resumed' }
  /** First, for a run resumed from a saved checkpoint: what it continues — the checkpoint's own
   *  request (its pairs by count), the steps and evaluations before it — so that whoever follows
   *  the job (another tab, a browser that never saw the run) shows the whole run. */
  | { type: 'continues'; from: number; checkpoint: ModelSummary; request: Omit<TrainRequest, 'pairs' | 'resumeFrom' | 'outId'> & { pairs: number }; steps: StepPoint[]; evals: EvalPoint[] };

export interface TrainResult {
  model: ModelSummary | null;
  stopped: 'done' | 'cancelled' | 'non-finite';
  steps: number;
  error?: string;
  seconds: number;
}

/** An arbitrage run as the UI and CLI ask for it: models by id, prompts by selection. */
export type ArbitrageRequest = Omit<ArbitrageSpec, 'teachers'> & {
  /** Our models and teachers (gguf:…, openai:…), mixed. */
  teachers: string[];
  prompts: PromptSelection;
  weights?: ArbiterWeights;
};

export type ArbitrageEvent = { type: 'progress'; done: number; total: number; etaSeconds: number; latest: Generation | null };

export interface PeersRequest extends PeersOptions {
  /** Library ids or `preset:NAME` (seeded random weights); default a shipped teacher and preset:base. */
  models?: string[];
  /** Prompt length in tokens (held-out French), default 32. */
  promptTokens?: number;
}

export interface PeersReport {
  adapter: AdapterSummary;
  runtime: string;
  versions: { onnxruntimeWeb: string; tfjs: string };
  models: Array<{ name: string; parameters: number; hiddenSize: number; layers: number; vocabSize: number }>;
  options: { promptTokens: number; decodeTokens: number; trainBatch: number; trainSeq: number; repeats: number };
  rows: PeerRow[];
  startedAt: string;
  seconds: number;
}

export interface EvalRequest {
  a: string;
  b: string;
  prompts: PromptSelection;
  samples: number;
  seed: number;
  sampling: Omit<SamplingOptions, 'seed'>;
  bootstrap?: number;
  weights?: ArbiterWeights;
  /** Teachers among A and B: their prompt mode (default: the teacher's own). */
  modes?: Record<string, PromptMode>;
  /** 'arbiter' (default), 'llm' (judgeModel decides) or 'both' (the Arbiter's verdicts headline, the LLM judge's beside them). */
  judge?: JudgeChoice;
  /** The LLM judge: one of our models or a teacher (gguf:…, openai:…). */
  judgeModel?: string;
  /** Teachers: 'raw' or 'chat' (default: the teacher's own). */
  judgeMode?: PromptMode;
  /** Constrain the judge's reply to the verdict schema where the backend can (default true). */
  judgeConstrain?: boolean;
  /** The judge's reply budget in tokens (default 32 constrained, 512 free). */
  judgeMaxTokens?: number;
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
  /** Save a resumable checkpoint every this many steps within a stage, and at each later stage's
   *  start (0 or absent: none; a cancel still keeps one). */
  checkpointEvery?: number;
  weights?: ArbiterWeights;
  /** Continue an interrupted run from this saved stage checkpoint: its own request is used (the
   *  other fields are ignored) and the stage is saved back in place. */
  resumeFrom?: string;
}

export interface MergeRequest {
  /** The merge; model references are model ids of the engine's library. */
  config: MergeConfig;
  /** Name of the merged model. */
  name: string;
  /** Where to save the result (default: a new id; the CLI passes the output folder). */
  outId?: string;
  /** Shard the weights above this many bytes (default: folder.ts's 2 GiB). */
  maxShardBytes?: number;
  /** Merge on the CPU reference instead of the GPU. */
  cpu?: boolean;
}

export interface MergeResult {
  model: ModelSummary;
  tensors: number;
  parameters: number;
  seconds: number;
  warnings: string[];
  device: 'gpu' | 'cpu';
}

export interface ZooRequest {
  /** Output folder (a model id of the engine's library: the CLI passes a path). */
  out: string;
  size: string;
  teacherSteps: number;
  studentSteps: number;
  batchSize: number;
  seqLen: number;
  seed: number;
  evalExamples: number;
}
export type ZooEvent = { type: 'log'; line: string };

export interface TokenizerTrainRequest {
  vocabSize: number;
}
export interface TokenizerTrainResult {
  /** tokenizer.json and tokenizer_config.json. */
  files: ModelFiles;
  vocabSize: number;
  merges: number;
  seconds: number;
}

/** Every job kind: what it takes, what it reports while it runs, what it gives at the end. */
export interface JobTypes {
  checkOps: { request: CheckRequest; event: CheckEvent; result: CheckSummary };
  bench: { request: BenchOptions; event: BenchProgress; result: BenchReport };
  peers: { request: PeersRequest; event: PeersProgress; result: PeersReport };
  sample: { request: SampleRequest; event: SampleEvent; result: SampleResult };
  heldOutLoss: { request: HeldOutRequest; event: HeldOutEvent; result: HeldOutResult };
  train: { request: TrainRequest; event: TrainEvent; result: TrainResult };
  arbitrage: { request: ArbitrageRequest; event: ArbitrageEvent; result: ArbitrageResult };
  evaluate: { request: EvalRequest; event: EvalEvent; result: EvalReport };
  arbitrageExperiment: { request: ExperimentRequest; event: ExperimentEvent; result: ExperimentReport };
  dpo: { request: DpoRequest; event: PreferenceEvent; result: PreferenceOutcome };
  merge: { request: MergeRequest; event: MergeProgress; result: MergeResult };
  mergeSearch: { request: MergeSearchRequest; event: SearchProgress; result: SearchResult };
  zoo: { request: ZooRequest; event: ZooEvent; result: unknown };
  trainTokenizer: { request: TokenizerTrainRequest; event: never; result: TokenizerTrainResult };
  tuneKernels: { request: TuneKernelsRequest; event: TuneKernelsProgress; result: KernelChoices };
}

/** Times the matmul variants at a model's shapes and keeps the fastest per row class (stored for
 *  this adapter). Default shapes: the shipped zoo's. */
export interface TuneKernelsRequest {
  /** Time at this model's shapes. */
  modelId?: string;
  /** Or at these dimensions (small ones measure quickly). */
  shapes?: TuneShapes;
}

export interface TuneKernelsProgress {
  done: number;
  total: number;
  fraction: number;
}

export type JobKind = keyof JobTypes;
export type JobRequest<K extends JobKind> = JobTypes[K]['request'];
export type JobEvent<K extends JobKind> = JobTypes[K]['event'];
export type JobResult<K extends JobKind> = JobTypes[K]['result'];

export const JOB_KINDS: readonly JobKind[] = [
  'checkOps',
  'bench',
  'peers',
  'sample',
  'heldOutLoss',
  'train',
  'arbitrage',
  'evaluate',
  'arbitrageExperiment',
  'dpo',
  'merge',
  'mergeSearch',
  'zoo',
  'trainTokenizer',
  'tuneKernels',
];

/** Jobs with steps to pause between. */
export const PAUSABLE: readonly JobKind[] = ['train', 'dpo'];

export type JobState = 'running' | 'paused' | 'done' | 'cancelled' | 'failed';

export type JobOutcome<R> = { status: 'done'; result: R } | { status: 'cancelled'; result: R | null } | { status: 'failed'; error: string };

/** What a job list shows. */
export interface JobInfo {
  id: string;
  kind: JobKind;
  /** A short description (the model it trains, the models it compares). */
  label: string;
  state: JobState;
  startedAt: string;
  endedAt: string | null;
  /** The last fraction an event reported (null when the job reports none). */
  fraction: number | null;
  events: number;
  pausable: boolean;
  /** Set for a failed job. */
  error: string | null;
}

/** One running or finished job, seen from a client. */
export interface Job<K extends JobKind = JobKind> {
  readonly id: string;
  readonly kind: K;
  /** What the job was started with (known to the client that started it, and after attach). */
  readonly request: JobRequest<K> | null;
  /** `listener` gets every event the job has emitted so far (its whole history), then each new one.
   *  Returns the unsubscribe. */
  on(listener: (e: JobEvent<K>) => void): () => void;
  /** How the job ended (never rejects; a transport that is gone ends it 'failed', saying so). */
  readonly outcome: Promise<JobOutcome<JobResult<K>>>;
  /** The result of a job that ended 'done'; rejects with the error or a JobCancelled otherwise. */
  result(): Promise<JobResult<K>>;
  cancel(): Promise<void>;
  pause(): Promise<void>;
  resume(): Promise<void>;
}

export type EngineEvent = { type: 'device-lost'; loss: DeviceLoss } | { type: 'jobs'; jobs: JobInfo[] };

export class JobCancelled extends Error {
  constructor(
    jobId: string,
    readonly partial: unknown = null,
  ) {
    super(`job ${jobId} was cancelled`);
    this.name = 'JobCancelled';
  }
}

export interface ExportOptions {
  /** 'folder' (default): config.json, safetensors, tokenizer — what import takes back; 'gguf':
   *  llama.cpp + an Ollama Modelfile; 'onnx': the transformers.js layout (onnx/model.onnx + JSON). */
  format?: 'folder' | 'gguf' | 'onnx';
  /** GGUF only: 'f32' (default, exact) or 'f16' (half the size). */
  dtype?: GgufDtype;
  /** GGUF only: the file's name (the Modelfile's FROM names it); default `<model name>.<dtype>.gguf`. */
  fileName?: string;
}

/** The plain calls (request → answer). Every name here is a method of EngineApi. */
export interface EngineCalls {
  info(): Promise<EngineInfo>;
  /** Drops the current device (if any) and acquires a new one. */
  restart(): Promise<EngineInfo>;
  /** Loses the device on purpose (to exercise the recovery path from the UI and tests). */
  simulateDeviceLoss(): Promise<void>;
  /** The tab's engine worker fails with an uncaught error on purpose (the app must notice, restart a
   *  new worker and keep every stored model); refused by the CLI and the runtime. */
  simulateWorkerCrash(): Promise<void>;
  listModels(): Promise<ModelSummary[]>;
  /** Teachers that are not our models (GGUF files on the runtime, OpenAI-compatible servers);
   *  a backend that cannot list is in `errors`. */
  listTeachers(): Promise<TeacherList>;
  /** Adds an OpenAI-compatible server's models as teachers (its /models must answer). */
  connectEndpoint(config: EndpointConfig): Promise<TeacherSummary[]>;
  /** Forgets a server added with connectEndpoint; false when there was none of that name. */
  disconnectEndpoint(name: string): Promise<boolean>;
  /** Loads an ONNX decoder folder (the transformers.js layout) as the teacher `onnx:<name>`,
   *  run by onnxruntime-web (WebGPU where it can, else WASM: the summary's details say which). */
  addOnnxTeacher(input: OnnxTeacherInput): Promise<TeacherSummary>;
  /** Unloads an ONNX teacher; false when there was none of that name. */
  removeOnnxTeacher(name: string): Promise<boolean>;
  /** A randomly initialised model of a preset size with the universal tokenizer, saved. */
  createModel(req: CreateModelRequest): Promise<ModelSummary>;
  /** Validates a model folder's files fully (config, every tensor, tokenizer) before storing them. */
  importModel(name: string, files: ModelFiles): Promise<ModelSummary>;
  /** The model folder's files; with `format: 'gguf'`, a llama.cpp GGUF and an Ollama Modelfile. */
  exportModel(id: string, opts?: ExportOptions): Promise<ModelFiles>;
  deleteModel(id: string): Promise<void>;
  /** Held-out (or training) UDHR prompts of one language. */
  prompts(lang: string, split?: 'train' | 'heldout'): Promise<Prompt[]>;
  /** With a model id: that model's tokenizer; null: the universal one. */
  tokenize(modelId: string | null, text: string): Promise<TokenizeResult>;
  /** Text is scored after `<bos>` (and `<lang:xx>` when a language is given). */
  logprobs(modelId: string, input: LogprobsInput): Promise<LogprobsResult>;
  zooManifest(): Promise<ZooManifest | null>;
  /** Arbiter scores of completions (reward + components + the raw measurements). */
  score(items: ScoreItem[], weights?: ArbiterWeights): Promise<ArbiterScore[]>;
  promptSet(sel: PromptSelection): Promise<ArbitragePrompt[]>;
  mergeInspect(req: MergeInspectRequest): Promise<MergeInspection>;
  /** Running and finished jobs (the most recent finished ones are kept). */
  jobs(): Promise<JobInfo[]>;
}

export const CALLS: ReadonlyArray<keyof EngineCalls> = [
  'info',
  'restart',
  'simulateDeviceLoss',
  'simulateWorkerCrash',
  'listModels',
  'listTeachers',
  'connectEndpoint',
  'disconnectEndpoint',
  'addOnnxTeacher',
  'removeOnnxTeacher',
  'createModel',
  'importModel',
  'exportModel',
  'deleteModel',
  'prompts',
  'tokenize',
  'logprobs',
  'zooManifest',
  'score',
  'promptSet',
  'mergeInspect',
  'jobs',
];

export interface EngineApi extends EngineCalls {
  /** Starts a job; its events can be followed at once (nothing is missed: history is replayed). */
  start<K extends JobKind>(kind: K, request: JobRequest<K>): Job<K>;
  /** A job started earlier (by this client or another, before a reload): its whole history, then
   *  live events. Rejects when the engine does not know the id. */
  attach<K extends JobKind = JobKind>(jobId: string): Promise<Job<K>>;
  /** Cancels, pauses or resumes a job by id without following it. */
  control(jobId: string, action: 'cancel' | 'pause' | 'resume'): Promise<void>;
  /** Device losses and changes to the job list. Returns the unsubscribe. */
  subscribe(listener: (e: EngineEvent) => void): () => void;
}

/** Settles a job's outcome into its result (for callers that do not expect a cancel). */
export function resultOf<R>(jobId: string, outcome: JobOutcome<R>): R {
  if (outcome.status === 'done') return outcome.result;
  if (outcome.status === 'cancelled') throw new JobCancelled(jobId, outcome.result);
  throw new Error(outcome.error);
}

export const CALL_NAMES: ReadonlySet<string> = new Set(CALLS);

let jobCounter = 0;
/** A job id: unique per client (time, counter, random), readable in logs. */
export function newJobId(kind: string): string {
  const rand = Math.floor(Math.random() * 2 ** 32).toString(36);
  return `${kind}-${Date.now().toString(36)}-${(++jobCounter).toString(36)}${rand}`;
}

/** A job's result, or its partial result when it was cancelled (null when it has none); throws the
 *  error of a failed job. */
export function partialResult<R>(outcome: JobOutcome<R>): R | null {
  if (outcome.status === 'failed') throw new Error(outcome.error);
  return outcome.result;
}
