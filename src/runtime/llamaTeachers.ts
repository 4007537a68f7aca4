// GGUF teachers on the desktop runtime: files run by llama.cpp through node-llama-cpp, on whatever
// the machine has (CUDA, Vulkan, Metal, else CPU). Each file's header is checked by our reader
// first, so a broken or non-generative file is refused by name before llama.cpp sees it; the model
// loads on first use. Sampling: temperature, top-k, top-p and a seed, as in the playground; the
// first min_new_tokens tokens are drawn by the playground's own sampler from llama.cpp's
// distribution with <eos> removed (node-llama-cpp ignores any bias on end-of-generation tokens),
// the rest by llama.cpp's sampler, seeded per token from the request's seed — deterministic either way.
import { open, readdir, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, join, resolve } from 'node:path';
import {
  getLlama,
  LlamaChatSession,
  LlamaGrammarEvaluationState,
  LlamaLogLevel,
  LlamaText,
  SpecialTokensText,
  type ChatHistoryItem,
  type ControlledEvaluateInputItem,
  type Llama,
  type LlamaContext,
  type LlamaContextSequence,
  type LlamaGrammar,
  type LlamaModel,
  type Token,
} from 'node-llama-cpp';
import { GgufNeedsMoreBytes, readGgufHeader, type GgufHeader } from '../model/gguf.ts';
import { eosSuppressedUntil, sampleToken, validateSampling } from '../model/sample.ts';
import { TextStream } from '../tokenizer/stream.ts';
import { pcgHash, Rng } from '../util/rng.ts';
import type { StopReason } from '../model/generate.ts';
import type { TeacherBackend, TeacherGeneration, TeacherRequest, TeacherSummary, TokenLogprobText } from '../engine/teachers.ts';
import { tokenLogprob } from '../model/logprobs.ts';

/** Architectures that do not generate text (vision projectors, encoders, embedders). */
const NOT_GENERATIVE = new Set(['clip', 'bert', 'nomic-bert', 'nomic-bert-moe', 'jina-bert-v2', 'jina-bert-v3', 't5encoder', 'wavtokenizer-dec', 'neo-bert', 'modern-bert']);

/** Reads the header of a (possibly many-GB) GGUF file: a prefix, doubled until the header fits. */
export async function readGgufFileHeader(path: string): Promise<GgufHeader> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    let n = Math.min(size, 1 << 20);
    for (;;) {
      const buf = new Uint8Array(n);
      await fh.read(buf, 0, n, 0);
      try {
        return readGgufHeader(buf, path, size);
      } catch (e) {
        if (!(e instanceof GgufNeedsMoreBytes) || n >= size) throw e;
        n = Math.min(size, Math.max(n * 2, e.needed + (1 << 20)));
      }
    }
  } finally {
    await fh.close();
  }
}

/** Refuses, naming the file, what llama.cpp could not use as a teacher. */
export function checkTeacherHeader(h: GgufHeader, path: string): void {
  const arch = h.metadata.get('general.architecture');
  if (typeof arch !== 'string') throw new Error(`${path}: no general.architecture: not a llama.cpp model file`);
  if (NOT_GENERATIVE.has(arch) || h.metadata.has(`${arch}.pooling_type`)) {
    throw new Error(`${path}: architecture '${arch}' is an encoder or embedding model, not one that generates text`);
  }
  if (!h.metadata.has('tokenizer.ggml.model') || !Array.isArray(h.metadata.get('tokenizer.ggml.tokens'))) {
    throw new Error(`${path}: no tokenizer (tokenizer.ggml.model and tokenizer.ggml.tokens): llama.cpp cannot run it alone`);
  }
  if (h.tensors.length === 0) throw new Error(`${path}: no tensors`);
}

/** The .gguf files named: files as given, folders by their *.gguf entries (not recursive). */
export async function expandGgufPaths(paths: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    const abs = resolve(p);
    let s;
    try {
      s = await stat(abs);
    } catch {
      throw new Error(`--gguf ${p}: no such file or folder`);
    }
    if (s.isDirectory()) {
      const files = (await readdir(abs)).filter((f) => f.toLowerCase().endsWith('.gguf')).sort();
      if (!files.length) throw new Error(`--gguf ${p}: the folder has no .gguf files`);
      out.push(...files.map((f) => join(abs, f)));
    } else out.push(abs);
  }
  return out;
}

interface Entry {
  summary: TeacherSummary;
  path: string;
  /** Our own exports carry <lang:xx> control tokens: a raw prompt starts with the tag. */
  languageTags: boolean;
  vocabulary: number;
  loaded: Promise<{ model: LlamaModel; context: LlamaContext; seq: LlamaContextSequence }> | null;
  /** One generation at a time per model (one context sequence). */
  queue: Promise<unknown>;
}

const paramsText = (n: number) => (n >= 1e9 ? `${(n / 1e9).toFixed(2)} B` : n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : `${(n / 1e3).toFixed(1)} k`);

export class LlamaTeachers implements TeacherBackend {
  readonly kind = 'llama.cpp' as const;
  readonly prefix = 'gguf:';
  private llama: Promise<Llama> | null = null;
  private readonly grammars = new Map<string, Promise<LlamaGrammar>>();

  private constructor(
    private readonly entries: Map<string, Entry>,
    private readonly opts: { gpu: 'auto' | false; contextSize: number },
  ) {}

  /** Checks every file's header now (a bad one fails the whole start, by name). */
  static async open(paths: readonly string[], opts: { gpu?: 'auto' | false; contextSize?: number } = {}): Promise<LlamaTeachers> {
    const entries = new Map<string, Entry>();
    for (const path of await expandGgufPaths(paths)) {
      const h = await readGgufFileHeader(path);
      checkTeacherHeader(h, path);
      const md = h.metadata;
      const arch = md.get('general.architecture') as string;
      const stem = basename(path).replace(/\.gguf$/i, '');
      let name = stem;
      for (let k = 2; entries.has(`gguf:${name}`); k++) name = `${stem}-${k}`;
      const tokens = md.get('tokenizer.ggml.tokens') as string[];
      const template = md.get('tokenizer.chat_template');
      const parameters = h.tensors.reduce((a, t) => a + t.dims.reduce((x, y) => x * y, 1), 0);
      const ctx = md.get(`${arch}.context_length`);
      const languageTags = tokens.some((t) => /^<lang:[a-z]{3}>$/.test(t));
      const id = `gguf:${name}`;
      entries.set(id, {
        path,
        languageTags,
        vocabulary: tokens.length,
        loaded: null,
        queue: Promise.resolve(),
        summary: {
          id,
          name: typeof md.get('general.name') === 'string' && md.get('general.name') !== name ? `${name} (${md.get('general.name') as string})` : name,
          backend: 'llama.cpp',
          location: path,
          chat: typeof template === 'string',
          defaultMode: typeof template === 'string' ? 'chat' : 'raw',
          details: {
            architecture: arch,
            parameters: paramsText(parameters),
            vocabulary: tokens.length,
            ...(typeof ctx === 'number' ? { context: ctx } : {}),
            template: typeof template === 'string' ? 'the model\'s own (tokenizer.chat_template)' : 'none (raw completion only)',
            ...(languageTags ? { prompts: 'start with <lang:xx> (an aya-playground export)' } : {}),
          },
        },
      });
    }
    return new LlamaTeachers(entries, { gpu: opts.gpu ?? 'auto', contextSize: opts.contextSize ?? 4096 });
  }

  async list(): Promise<TeacherSummary[]> {
    return [...this.entries.values()].map((e) => e.summary);
  }

  private entry(id: string): Entry {
    const e = this.entries.get(id);
    if (!e) throw new Error(`unknown GGUF teacher '${id}' (this runtime has: ${[...this.entries.keys()].join(', ') || 'none'})`);
    return e;
  }

  private load(e: Entry): Promise<{ model: LlamaModel; context: LlamaContext; seq: LlamaContextSequence }> {
    e.loaded ??= (async () => {
      this.llama ??= getLlama({ gpu: this.opts.gpu, build: 'never', logLevel: LlamaLogLevel.error });
      const llama = await this.llama;
      let model: LlamaModel;
      try {
        model = await llama.loadModel({ modelPath: e.path });
      } catch (err) {
        throw new Error(`${e.path}: llama.cpp could not load it: ${(err as Error).message}`);
      }
      const contextSize = Math.min(model.trainContextSize || this.opts.contextSize, this.opts.contextSize);
      // One core is left to Node and the WGSL engine: ggml's threads spin, and on a small machine
      // oversubscription costs far more than the thread gives (measured 270 ms vs 0.8 ms a token).
      const context = await model.createContext({ contextSize, sequences: 1, threads: Math.max(1, availableParallelism() - 1) });
      return { model, context, seq: context.getSequence() };
    })();
    e.loaded.catch(() => (e.loaded = null));
    return e.loaded;
  }

  generate(id: string, req: TeacherRequest, onDelta: (d: string) => void, shouldStop: () => boolean): Promise<TeacherGeneration> {
    const e = this.entry(id);
    validateSampling(req.sampling);
    if (req.mode === 'chat' && !e.summary.chat) throw new Error(`${e.summary.name} has no chat template: use raw mode`);
    const run = e.queue.then(() => this.run(e, req, onDelta, shouldStop));
    e.queue = run.catch(() => undefined);
    return run;
  }

  private async run(e: Entry, req: TeacherRequest, onDelta: (d: string) => void, shouldStop: () => boolean): Promise<TeacherGeneration> {
    const { model, context, seq } = await this.load(e);
    const t0 = performance.now();
    try {
      let input: LlamaText;
      let appliedPrompt: string;
      if (req.mode === 'chat') {
        // The model's own template, applied by node-llama-cpp's resolution of tokenizer.chat_template.
        const session = new LlamaChatSession({ contextSequence: seq, autoDisposeSequence: false });
        const turns = req.messages?.length ? req.messages : [{ role: 'user' as const, content: req.prompt }];
        const chatHistory: ChatHistoryItem[] = turns.map((m) => (m.role === 'assistant' ? { type: 'model', response: [m.content] } : m.role === 'system' ? { type: 'system', text: m.content } : { type: 'user', text: m.content }));
        chatHistory.push({ type: 'model', response: [] });
        const state = session.chatWrapper.generateContextState({ chatHistory });
        input = state.contextText;
        appliedPrompt = input.toString();
        session.dispose({ disposeSequence: false });
      } else {
        const bos = model.tokens.shouldPrependBosToken && model.tokens.bosString ? [new SpecialTokensText(model.tokens.bosString)] : [];
        const parts = [...bos, ...(e.languageTags ? [new SpecialTokensText(`<lang:${req.lang}>`)] : []), req.prompt];
        input = LlamaText(parts);
        appliedPrompt = input.toString();
      }
      const promptTokens = input.tokenize(model.tokenizer);
      if (promptTokens.length >= context.contextSize) throw new Error(`the prompt has ${promptTokens.length} tokens; this model's context is ${context.contextSize}`);
      if (req.jsonSchema) return await this.runConstrained(model, seq, context.contextSize, promptTokens, appliedPrompt, req, onDelta, shouldStop, t0);
      const o = req.sampling;
      const minNew = eosSuppressedUntil(o);
      const rng = new Rng(o.seed);
      const eog = new Set<number>([model.tokens.eos, model.tokens.eot].filter((t): t is Token => t !== null).map(Number));
      const stream = new TextStream((ids) => model.detokenize(ids as Token[]));
      const ids: number[] = [];
      const logprobs: TokenLogprobText[] = [];
      let stopReason: StopReason = 'max-tokens';
      let pending: Token[] = promptTokens;
      for (let index = 0; index < o.maxNewTokens; index++) {
        if (shouldStop()) {
          stopReason = 'cancelled';
          break;
        }
        if (seq.nextTokenIndex + pending.length >= context.contextSize) {
          stopReason = 'context-full';
          break;
        }
        const u = rng.uniform(); // one draw per token, as in our generate()
        // With logprobs every token is drawn here, from the distribution they are read from.
        const own = index < minNew || req.logprobs !== undefined;
        const next: ControlledEvaluateInputItem = [
          pending[pending.length - 1],
          own
            ? { generateNext: { probabilities: true } }
            : { generateNext: { token: true, options: { temperature: o.temperature, topK: o.topK, topP: o.topP, seed: pcgHash((o.seed >>> 0) ^ pcgHash(index + 1)) } } },
        ];
        const out = await seq.controlledEvaluate([...pending.slice(0, -1), next]);
        const result = out[pending.length - 1]?.next;
        let token: number;
        if (own) {
          const probs = result?.probabilities;
          if (!probs) throw new Error('llama.cpp returned no distribution');
          const row = new Float64Array(e.vocabulary).fill(-Infinity);
          let sum = 0;
          for (const p of probs.values()) sum += p;
          for (const [t, p] of probs) row[Number(t)] = Math.log(p / sum);
          const allowed = index < minNew ? row.map((x, t) => (eog.has(t) ? -Infinity : x)) : row;
          token = sampleToken(allowed, o, u);
          if (req.logprobs !== undefined) {
            const lp = tokenLogprob(row, token, req.logprobs);
            const text = (id: number) => model.detokenize([id as Token], true);
            logprobs.push({ token: text(lp.id), logprob: lp.logprob, top: lp.top.map((x) => ({ token: text(x.id), logprob: x.logprob })) });
          }
        } else {
          if (result?.token == null) throw new Error('llama.cpp sampled no token');
          token = Number(result.token);
        }
        if (eog.has(token)) {
          stopReason = 'eos';
          break;
        }
        ids.push(token);
        const delta = stream.push(token);
        if (delta) onDelta(delta);
        pending = [token as Token];
      }
      const tail = stream.finish();
      if (tail) onDelta(tail);
      return { text: stream.text, tokens: ids.length, ids, promptTokens: promptTokens.length, seconds: (performance.now() - t0) / 1000, stopReason, backend: 'llama.cpp', appliedPrompt, ...(req.logprobs !== undefined ? { logprobs: logprobs.slice(0, ids.length) } : {}) };
    } finally {
      await seq.clearHistory();
    }
  }

  /** A JSON schema as a llama.cpp grammar (node-llama-cpp's converter), made once per schema. */
  private grammar(schema: Record<string, unknown>): Promise<LlamaGrammar> {
    const key = JSON.stringify(schema);
    let g = this.grammars.get(key);
    if (!g) {
      g = (async () => {
        const llama = await this.llama!;
        try {
          return await llama.createGrammarForJsonSchema(schema as Parameters<Llama['createGrammarForJsonSchema']>[0]);
        } catch (e) {
          throw new Error(`llama.cpp cannot turn this JSON schema into a grammar: ${(e as Error).message}`);
        }
      })();
      g.catch(() => this.grammars.delete(key));
      this.grammars.set(key, g);
    }
    return g;
  }

  /** Generation under a grammar: llama.cpp's sampler, which only offers tokens the grammar allows. */
  private async runConstrained(
    model: LlamaModel,
    seq: LlamaContextSequence,
    contextSize: number,
    promptTokens: Token[],
    appliedPrompt: string,
    req: TeacherRequest,
    onDelta: (d: string) => void,
    shouldStop: () => boolean,
    t0: number,
  ): Promise<TeacherGeneration> {
    const o = req.sampling;
    const grammarEvaluationState = new LlamaGrammarEvaluationState({ model, grammar: await this.grammar(req.jsonSchema!) });
    const stream = new TextStream((ids) => model.detokenize(ids as Token[]));
    const ids: number[] = [];
    let stopReason: StopReason = 'eos';
    for await (const token of seq.evaluate(promptTokens, { temperature: o.temperature, topK: o.topK, topP: o.topP, seed: o.seed >>> 0, grammarEvaluationState })) {
      if (shouldStop()) {
        stopReason = 'cancelled';
        break;
      }
      ids.push(Number(token));
      const delta = stream.push(Number(token));
      if (delta) onDelta(delta);
      if (ids.length >= o.maxNewTokens) {
        stopReason = 'max-tokens';
        break;
      }
      // No context shift: a reply that fills the context stops there, as in our engine.
      if (promptTokens.length + ids.length >= contextSize - 1) {
        stopReason = 'context-full';
        break;
      }
    }
    const tail = stream.finish();
    if (tail) onDelta(tail);
    return { text: stream.text, tokens: ids.length, ids, promptTokens: promptTokens.length, seconds: (performance.now() - t0) / 1000, stopReason, backend: 'llama.cpp', appliedPrompt, constrained: true };
  }

  async dispose(): Promise<void> {
    for (const e of this.entries.values()) {
      const l = await e.loaded?.catch(() => null);
      if (l) {
        await l.context.dispose();
        await l.model.dispose();
      }
    }
    await (await this.llama?.catch(() => null))?.dispose();
  }
}
