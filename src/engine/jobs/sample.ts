// Sampling: one completion streamed token by token, and whole completions for the jobs that
// generate many (arbitrage, evaluation), memoised per job.
import { show } from '../../util/show.ts';
import { generate, generateBatch, type StopReason } from '../../model/generate.ts';
import { generatedLogprobs } from '../../model/logprobs.ts';
import { type SamplingOptions, validateSampling } from '../../model/sample.ts';
import { TextStream } from '../../tokenizer/stream.ts';
import { language } from '../../data/languages.ts';
import type { ArbitragePrompt } from '../../arbitrage/arbitrage.ts';
import type { SampleEvent, SampleRequest, SampleResult } from '../api.ts';
import type { EngineCore } from '../core.ts';
import type { JobControl } from '../jobRegistry.ts';
import { type ChatMessage, isTeacherId, type PromptMode, type TeacherBackendKind } from '../teachers.ts';
import { ChoiceConstraint, finiteJsonChoices } from '../../model/constrained.ts';
import type { AyaModel } from '../../model/model.ts';
import type { BpeTokenizer } from '../../tokenizer/bpe.ts';

/** Samples a completion of the prompt; every token is an event. A cancel returns the text so far. */
export async function sample(core: EngineCore, req: SampleRequest, ctl: JobControl<SampleEvent>): Promise<SampleResult> {
  validateSampling(req.sampling);
  if (req.logprobs !== undefined && !(Number.isInteger(req.logprobs) && req.logprobs >= 0 && req.logprobs <= 20)) throw new Error(`sample: logprobs must be an integer from 0 to 20, got ${show(req.logprobs)}`);
  language(req.lang);
  if (typeof req.prompt !== 'string') throw new Error('sample: the prompt must be text');
  if (req.jsonSchema !== undefined && (!req.jsonSchema || typeof req.jsonSchema !== 'object' || Array.isArray(req.jsonSchema))) throw new Error('sample: jsonSchema must be a JSON schema object');
  if (isTeacherId(req.modelId)) return sampleTeacher(core, req, ctl);
  const { model, tokenizer } = await core.library.load(req.modelId);
  const promptIds = tokenizer.encodePrompt(req.prompt, req.lang);
  const stream = new TextStream((ids) => tokenizer.decode(ids, { skipSpecial: true }));
  const ids: number[] = [];
  const t0 = performance.now();
  const constraint = req.jsonSchema ? schemaConstraint(model, tokenizer, req.jsonSchema) : undefined;
  const it = generate(model, promptIds, req.sampling, ctl.shouldStop, constraint);
  let stopReason: StopReason = 'max-tokens';
  for (;;) {
    const r = await it.next();
    if (r.done) {
      stopReason = r.value;
      break;
    }
    ids.push(r.value.id);
    const delta = r.value.id === model.config.eosTokenId ? '' : stream.push(r.value.id);
    ctl.emit({ delta, id: r.value.id, index: r.value.index, tokensPerSecond: ids.length / ((performance.now() - t0) / 1000) });
  }
  stream.finish();
  const ms = performance.now() - t0;
  const result: SampleResult = { text: stream.text, ids, promptIds, tokens: ids.length, promptTokens: promptIds.length, stopReason, tokensPerSecond: ids.length / (ms / 1000), ms, backend: 'engine', ...(constraint ? { constrained: true } : {}) };
  if (req.logprobs !== undefined) {
    const text = (id: number) => tokenizer.decode([id]);
    result.logprobs = (await generatedLogprobs(model, promptIds, ids, req.logprobs)).map((t) => ({ token: text(t.id), logprob: t.logprob, top: t.top.map((x) => ({ token: text(x.id), logprob: x.logprob })) }));
  }
  return result;
}

/** The teacher's default prompt mode, unless the request names one. */
export async function teacherMode(core: EngineCore, modelId: string, mode: PromptMode | undefined): Promise<PromptMode> {
  if (mode !== undefined) {
    if (mode !== 'raw' && mode !== 'chat') throw new Error(`sample: mode must be 'raw' or 'chat', got '${show(mode)}'`);
    return mode;
  }
  return (await core.teachers.find(modelId))?.defaultMode ?? 'raw';
}

async function sampleTeacher(core: EngineCore, req: SampleRequest, ctl: JobControl<SampleEvent>): Promise<SampleResult> {
  const mode = await teacherMode(core, req.modelId, req.mode);
  const t0 = performance.now();
  let index = 0;
  const g = await core.teachers.generate(
    req.modelId,
    { prompt: req.prompt, lang: req.lang, sampling: req.sampling, mode, messages: req.messages, logprobs: req.logprobs, jsonSchema: req.jsonSchema },
    (delta) => ctl.emit({ delta, id: -1, index: index++, tokensPerSecond: index / ((performance.now() - t0) / 1000) }),
    ctl.shouldStop,
  );
  const ms = g.seconds * 1000;
  return { text: g.text, ids: g.ids, promptIds: [], tokens: g.tokens, promptTokens: g.promptTokens ?? 0, stopReason: g.stopReason, tokensPerSecond: g.tokens / Math.max(g.seconds, 1e-9), ms, backend: g.backend, appliedPrompt: g.appliedPrompt, ...(g.logprobs ? { logprobs: g.logprobs } : {}), ...(g.constrained !== undefined ? { constrained: g.constrained } : {}), ...(g.executionProvider ? { executionProvider: g.executionProvider } : {}) };
}

const tokenTextCache = new WeakMap<BpeTokenizer, string[]>();

/** Our models constrain to the finite set of replies a schema allows (the judge's verdicts). */
function schemaConstraint(model: AyaModel, tokenizer: BpeTokenizer, schema: Record<string, unknown>): ChoiceConstraint {
  const choices = finiteJsonChoices(schema);
  if (!choices) throw new Error('our engine\'s models constrain output only to a finite set of JSON values (objects of enum / const fields, at most 256 in all); this schema allows more — use a llama.cpp teacher for general schemas');
  let texts = tokenTextCache.get(tokenizer);
  if (!texts) {
    texts = Array.from({ length: model.config.vocabSize }, (_, id) => (id < tokenizer.vocabSize ? tokenizer.decode([id], { skipSpecial: true }) : ''));
    tokenTextCache.set(tokenizer, texts);
  }
  return new ChoiceConstraint(texts, model.config.eosTokenId, choices);
}

/** A whole completion as the jobs that generate many record it. */
export interface Completion {
  text: string;
  backend: 'engine' | TeacherBackendKind;
  /** Generated tokens (the backend's count). */
  tokens: number;
  seconds: number;
  /** With a jsonSchema: whether the reply was constrained to it. */
  constrained?: boolean;
}

export interface CompleteOptions {
  /** Teachers: 'raw' or 'chat' (default: the teacher's own default). */
  mode?: PromptMode;
  messages?: ChatMessage[];
  jsonSchema?: Record<string, unknown>;
}

/** A whole completion, without streaming (cancellable between tokens). */
export async function complete(core: EngineCore, modelId: string, prompt: string, lang: string, opts: SamplingOptions, stop: () => boolean, extra: CompleteOptions = {}): Promise<Completion> {
  if (isTeacherId(modelId)) {
    const mode = await teacherMode(core, modelId, extra.mode);
    const g = await core.teachers.generate(modelId, { prompt, lang, sampling: opts, mode, messages: extra.messages, jsonSchema: extra.jsonSchema }, () => {}, stop);
    return { text: g.text, backend: g.backend, tokens: g.tokens, seconds: g.seconds, ...(g.constrained !== undefined ? { constrained: g.constrained } : {}) };
  }
  const { model, tokenizer } = await core.library.load(modelId);
  // The clock starts once the model is on the GPU: loading it is not the completion's cost.
  const t0 = performance.now();
  const ids: number[] = [];
  const constraint = extra.jsonSchema ? schemaConstraint(model, tokenizer, extra.jsonSchema) : undefined;
  const it = generate(model, tokenizer.encodePrompt(prompt, lang), opts, stop, constraint);
  for (;;) {
    const r = await it.next();
    if (r.done) break;
    if (r.value.id !== model.config.eosTokenId) ids.push(r.value.id);
  }
  return { text: tokenizer.decode(ids, { skipSpecial: true }), backend: 'engine', tokens: ids.length, seconds: (performance.now() - t0) / 1000, ...(constraint ? { constrained: true } : {}) };
}

/** Whole completions of our models' samples of one prompt, decoded together (generateBatch): each
 *  is the text `complete` gives for its seed; the batch's time is shared out evenly. */
export async function completeMany(core: EngineCore, modelId: string, prompt: string, lang: string, sampling: Omit<SamplingOptions, 'seed'>, seeds: readonly number[], stop: () => boolean): Promise<Completion[]> {
  const { model, tokenizer } = await core.library.load(modelId);
  const t0 = performance.now();
  const seqs = await generateBatch(model, tokenizer.encodePrompt(prompt, lang), sampling, seeds, stop);
  const seconds = (performance.now() - t0) / 1000 / Math.max(1, seeds.length);
  return seqs.map((q) => {
    const ids = q.ids.filter((id) => id !== model.config.eosTokenId);
    return { text: tokenizer.decode(ids, { skipSpecial: true }), backend: 'engine', tokens: ids.length, seconds };
  });
}

export interface Completer {
  (modelId: string, p: ArbitragePrompt, opts: SamplingOptions): Promise<Completion>;
  /** Starts the completions of these seeds together when the model is ours (a no-op for
   *  teachers' servers); the calls for them then take their results. */
  prefetch(modelId: string, p: ArbitragePrompt, sampling: Omit<SamplingOptions, 'seed'>, seeds: readonly number[]): void;
}

/** The same key for the same options, whatever order their fields were written in. */
const optionsKey = (o: SamplingOptions) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));

/** `complete` for a job, memoised in `cache` when given (same model, prompt and seed → same text). */
export function completer(core: EngineCore, stop: () => boolean, cache?: Map<string, Promise<Completion>>, modes?: Record<string, PromptMode>): Completer {
  // Prefetched completions, each taken by its first call.
  const ahead = new Map<string, Promise<Completion>>();
  // Batches run one after another (A's samples, then B's), not interleaved on the GPU.
  let previous: Promise<unknown> = Promise.resolve();
  const keyOf = (modelId: string, p: ArbitragePrompt, opts: SamplingOptions) => JSON.stringify([modelId, modes?.[modelId] ?? null, p.prompt, p.language, optionsKey(opts)]);
  const call = (modelId: string, p: ArbitragePrompt, opts: SamplingOptions): Promise<Completion> => {
    const mode = modes?.[modelId];
    const key = keyOf(modelId, p, opts);
    const hit = cache?.get(key);
    // A completion served again from the cache cost nothing this time.
    if (hit) return hit.then((x) => ({ ...x, seconds: 0 }));
    const pre = ahead.get(key);
    ahead.delete(key);
    const alone = () => complete(core, modelId, p.prompt, p.language, opts, stop, mode ? { mode } : {});
    // A failed batch leaves each completion to be tried (and fail, or not) on its own.
    const c = pre ? pre.catch(alone) : alone();
    cache?.set(key, c);
    // A completion cut short by a cancel must not be served again from the cache.
    c.then(() => stop() && cache?.delete(key), () => cache?.delete(key));
    return c;
  };
  const prefetch = (modelId: string, p: ArbitragePrompt, sampling: Omit<SamplingOptions, 'seed'>, seeds: readonly number[]): void => {
    if (isTeacherId(modelId)) return;
    const todo = seeds.filter((seed) => {
      const key = keyOf(modelId, p, { ...sampling, seed });
      return !cache?.has(key) && !ahead.has(key);
    });
    if (todo.length < 2) return;
    const batch = previous.then(() => completeMany(core, modelId, p.prompt, p.language, sampling, todo, stop));
    previous = batch.catch(() => {});
    todo.forEach((seed, i) => {
      const one = batch.then((all) => all[i]);
      one.catch(() => {}); // a failed batch is retried seed by seed when (if) each is asked for
      ahead.set(keyOf(modelId, p, { ...sampling, seed }), one);
    });
  };
  return Object.assign(call, { prefetch });
}
