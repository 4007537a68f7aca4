// ONNX teachers: decoder folders in the transformers.js layout (ours from `export --format onnx`,
// or a Hub repo's), run by onnxruntime-web — its WebGPU execution provider in the tab, WASM where
// WebGPU is missing or refuses the model (and in Node) — with the playground's seeded sampler and
// streaming. Tokenizers and chat templates are Hugging Face's own code (@huggingface/tokenizers,
// @huggingface/jinja), not ours, so a Hub model tokenises as it does in transformers.js. Teachers
// sample and score; they have no weights here to train or merge.
import { show } from '../util/show.ts';
import * as ort from 'onnxruntime-web';
import { Tokenizer } from '@huggingface/tokenizers';
import { Template } from '@huggingface/jinja';
import { jsonErrorPlace, type ModelFiles } from '../model/folder.ts';
import type { StopReason } from '../model/generate.ts';
import { tokenLogprob } from '../model/logprobs.ts';
import { eosSuppressedUntil, sampleToken, validateSampling } from '../model/sample.ts';
import { f16ToF32 } from '../model/safetensors.ts';
import { TextStream } from '../tokenizer/stream.ts';
import { Rng } from '../util/rng.ts';
import { ChoiceConstraint, finiteJsonChoices } from '../model/constrained.ts';
import { decoderFeeds, onnxGraphs, presentsOf } from '../model/onnxFeeds.ts';
import type { TeacherBackend, TeacherGeneration, TeacherRequest, TeacherSummary, TokenLogprobText } from './teachers.ts';

export type OnnxProvider = 'webgpu' | 'wasm';

export interface OnnxTeacherInput {
  /** A short name: the teacher's id is `onnx:<name>`. */
  name: string;
  /** The folder's files by path: config.json, tokenizer.json, tokenizer_config.json, onnx/*.onnx (+ external data). */
  files: ModelFiles;
  /** Which .onnx file (default: onnx/model.onnx, else the only one). */
  onnxFile?: string;
  /** Where it came from, in words (e.g. 'hub:owner/repo', 'folder'). */
  source?: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const decoder = new TextDecoder();

function json(files: ModelFiles, path: string, name: string, required = true): Record<string, unknown> | null {
  const b = files.get(path);
  if (!b) {
    if (required) throw new Error(`${name}: no ${path} (an ONNX decoder folder has config.json, tokenizer.json, tokenizer_config.json and onnx/model.onnx)`);
    return null;
  }
  let v: unknown;
  try {
    v = JSON.parse(decoder.decode(b));
  } catch (e) {
    throw new Error(`${name}/${path}: ${jsonErrorPlace(e as Error, b.byteLength)}`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${name}/${path}: not a JSON object`);
  return v as Record<string, unknown>;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The fields of tokenizer.json that @huggingface/tokenizers and this loader read, checked first so
 *  a malformed file is refused with the field named (the library itself fails with a TypeError). */
function checkTokenizerJson(j: Record<string, unknown>, where: string): void {
  if (!isObj(j.model)) throw new Error(`${where}: 'model' must be an object (the tokenizer's model: BPE, WordPiece, Unigram…)`);
  const m = j.model;
  if (m.type !== undefined && typeof m.type !== 'string') throw new Error(`${where}: 'model.type' must be a string`);
  if (!isObj(m.vocab) && !Array.isArray(m.vocab)) throw new Error(`${where}: 'model.vocab' must be an object of token → id (or a list for Unigram)`);
  if (isObj(m.vocab)) for (const [t, id] of Object.entries(m.vocab)) if (!Number.isInteger(id) || (id as number) < 0) throw new Error(`${where}: 'model.vocab' gives ${JSON.stringify(t).slice(0, 40)} the id ${JSON.stringify(id)?.slice(0, 20)}, not an integer ≥ 0`);
  if (m.merges !== undefined && (!Array.isArray(m.merges) || !m.merges.every((x) => typeof x === 'string' || (Array.isArray(x) && x.length === 2 && x.every((y) => typeof y === 'string'))))) {
    throw new Error(`${where}: 'model.merges' must be a list of "a b" strings or [a, b] pairs`);
  }
  if (j.added_tokens !== undefined && j.added_tokens !== null) {
    if (!Array.isArray(j.added_tokens)) throw new Error(`${where}: 'added_tokens' must be a list`);
    j.added_tokens.forEach((t, i) => {
      if (!isObj(t) || !Number.isInteger(t.id) || (t.id as number) < 0 || typeof t.content !== 'string') throw new Error(`${where}: added_tokens[${i}] must be {id: integer ≥ 0, content: string, …}`);
    });
  }
  for (const k of ['normalizer', 'pre_tokenizer', 'post_processor', 'decoder', 'truncation', 'padding']) {
    if (j[k] !== undefined && j[k] !== null && !isObj(j[k])) throw new Error(`${where}: '${k}' must be an object or null`);
    const type = isObj(j[k]) ? (j[k] as Record<string, unknown>).type : undefined;
    if (isObj(j[k]) && k !== 'truncation' && k !== 'padding' && typeof type !== 'string') throw new Error(`${where}: '${k}.type' must be a string`);
  }
}

interface Entry {
  summary: TeacherSummary;
  session: ort.InferenceSession;
  provider: OnnxProvider;
  tokenizer: Tokenizer;
  config: Record<string, unknown>;
  layers: number;
  kvHeads: number;
  headDim: number;
  pastType: 'float32' | 'float16';
  hasPositionIds: boolean;
  hasCacheBranch: boolean;
  eos: Set<number>;
  /** Our exports: a raw prompt is <bos><lang:xx> + text. */
  languageTags: boolean;
  bos: number | null;
  chatTemplate: string | null;
  specials: Record<string, string>;
  vocabulary: number;
  /** Each token's text, made on the first constrained request. */
  tokenTexts?: string[];
  queue: Promise<unknown>;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isInteger(v) ? v : null);

export class OnnxTeachers implements TeacherBackend {
  readonly kind = 'onnx' as const;
  readonly prefix = 'onnx:';
  private readonly entries = new Map<string, Entry>();

  /** `providers`: the execution providers to try, in order. */
  constructor(private readonly providers: readonly OnnxProvider[] = ['wasm']) {}

  async add(input: OnnxTeacherInput): Promise<TeacherSummary> {
    const { name, files } = input;
    if (typeof name !== 'string' || !NAME.test(name)) throw new Error(`ONNX teacher name must be 1–64 letters, digits, '.', '_' or '-', got ${JSON.stringify(name)}`);
    if (!(files instanceof Map)) throw new Error(`${name}: the folder's files are missing`);
    const config = json(files, 'config.json', name)!;
    const tokenizerJson = json(files, 'tokenizer.json', name)!;
    const tokenizerConfig = json(files, 'tokenizer_config.json', name, false) ?? {};
    const generation = json(files, 'generation_config.json', name, false);
    const candidates = onnxGraphs(files.keys());
    const file = input.onnxFile ?? candidates[0];
    if (!file) throw new Error(`${name}: no .onnx file (transformers.js keeps them in onnx/, e.g. onnx/model.onnx)`);
    const bytes = files.get(file);
    if (!bytes) throw new Error(`${name}: no ${file} (it has ${candidates.join(', ') || 'no .onnx files'})`);

    const numHeads = num(config.num_attention_heads);
    const hidden = num(config.hidden_size);
    const layers = num(config.num_hidden_layers);
    if (!numHeads || !hidden || !layers) throw new Error(`${name}/config.json: needs num_attention_heads, hidden_size and num_hidden_layers (a decoder's config)`);
    const kvHeads = num(config.num_key_value_heads) ?? numHeads;
    const headDim = num(config.head_dim) ?? hidden / numHeads;
    // Sizes the feeds are built from: positive and far from absurd (a corrupt file must not size arrays).
    for (const [k, v, max] of [['num_hidden_layers', layers, 1024], ['num_attention_heads', numHeads, 1024], ['num_key_value_heads', kvHeads, 1024], ['hidden_size', hidden, 1 << 16], ['head_dim', headDim, 1 << 12]] as const) {
      if (!Number.isInteger(v) || v < 1 || v > max) throw new Error(`${name}/config.json: '${k}' must be an integer from 1 to ${max}, got ${show(v)}`);
    }

    checkTokenizerJson(tokenizerJson, `${name}/tokenizer.json`);
    let tokenizer: Tokenizer;
    try {
      tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
    } catch (e) {
      throw new Error(`${name}/tokenizer.json: @huggingface/tokenizers cannot read it: ${(e as Error).message}`);
    }

    // External data beside the graph (model.onnx_data), as the Hub ships large exports.
    const dir = file.includes('/') ? file.slice(0, file.lastIndexOf('/') + 1) : '';
    const externalData = [...files.entries()].filter(([p]) => p.startsWith(`${file}_data`) || p.startsWith(`${file}.data`)).map(([p, data]) => ({ path: p.slice(dir.length), data }));

    let session: ort.InferenceSession | null = null;
    let provider: OnnxProvider = this.providers[0];
    const refusals: string[] = [];
    // On WebGPU the KV cache stays on the GPU between steps; only the logits come back.
    const presents = Array.from({ length: layers }, (_, l) => [`present.${l}.key`, `present.${l}.value`]).flat();
    for (const p of this.providers) {
      try {
        session = await ort.InferenceSession.create(bytes, {
          executionProviders: [p],
          graphOptimizationLevel: 'all',
          ...(externalData.length ? { externalData } : {}),
          ...(p === 'webgpu' ? { preferredOutputLocation: Object.fromEntries(presents.map((n) => [n, 'gpu-buffer' as const])) } : {}),
        });
        provider = p;
        break;
      } catch (e) {
        refusals.push(`${p}: ${(e as Error).message}`);
      }
    }
    if (!session) throw new Error(`${name}/${file}: onnxruntime could not load it (${refusals.join('; ')})`);

    const inputs = new Set(session.inputNames);
    const outputs = new Set(session.outputNames);
    const missing = [
      ...['input_ids', 'attention_mask'].filter((n) => !inputs.has(n)),
      ...(outputs.has('logits') ? [] : ['logits (output)']),
      ...Array.from({ length: layers }, (_, l) => [`past_key_values.${l}.key`, `past_key_values.${l}.value`]).flat().filter((n) => !inputs.has(n)),
      ...Array.from({ length: layers }, (_, l) => [`present.${l}.key`, `present.${l}.value`]).flat().filter((n) => !outputs.has(n)).map((n) => `${n} (output)`),
    ];
    if (missing.length) {
      await session.release();
      throw new Error(`${name}/${file}: not a decoder with a KV cache in the transformers.js layout — missing ${missing.slice(0, 4).join(', ')}${missing.length > 4 ? ` and ${missing.length - 4} more` : ''}`);
    }
    const meta = (session as unknown as { inputMetadata?: Array<{ name: string; isTensor?: boolean; type?: string }> }).inputMetadata;
    const pastMeta = Array.isArray(meta) ? meta.find((m) => m.name === 'past_key_values.0.key') : undefined;
    const pastType = pastMeta?.type === 'float16' ? 'float16' : 'float32';

    const addedTokens = Array.isArray(tokenizerJson.added_tokens) ? (tokenizerJson.added_tokens as Array<{ id: number; content: string }>) : [];
    const vocabModel = tokenizerJson.model as { vocab?: Record<string, number> | unknown[] } | undefined;
    const vocabulary = Math.max(num(config.vocab_size) ?? 0, vocabModel?.vocab ? Object.keys(vocabModel.vocab).length : 0, ...addedTokens.map((t) => t.id + 1));
    const languageTags = addedTokens.some((t) => /^<lang:[a-z]{3}>$/.test(t.content));
    const tokenText = (v: unknown): string | null => (typeof v === 'string' ? v : v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string' ? (v as { content: string }).content : null);
    const specials: Record<string, string> = {};
    for (const k of ['bos_token', 'eos_token', 'pad_token', 'unk_token']) {
      const t = tokenText(tokenizerConfig[k]);
      if (t) specials[k] = t;
    }
    const idOf = (t: string | undefined) => (t === undefined ? null : (addedTokens.find((x) => x.content === t)?.id ?? null));
    const eosIds = [generation?.eos_token_id, config.eos_token_id].flatMap((v) => (Array.isArray(v) ? v : [v])).map(num).filter((v): v is number => v !== null);
    const eos = new Set(eosIds.length ? eosIds : [idOf(specials.eos_token)].filter((v): v is number => v !== null));
    const bos = num(config.bos_token_id) ?? idOf(specials.bos_token);
    let chatTemplate: string | null = null;
    const t = tokenizerConfig.chat_template;
    if (typeof t === 'string') chatTemplate = t;
    else if (Array.isArray(t)) chatTemplate = (t as Array<{ name?: string; template?: string }>).find((x) => x.name === 'default')?.template ?? null;

    const id = `onnx:${name}`;
    // Loaded again under the same name: the old session goes once its generations are done.
    const old = this.entries.get(id);
    if (old) void old.queue.then(() => old.session.release()).catch(() => undefined);
    const summary: TeacherSummary = {
      id,
      name,
      backend: 'onnx',
      location: input.source ?? 'folder',
      chat: chatTemplate !== null,
      defaultMode: chatTemplate !== null ? 'chat' : 'raw',
      details: {
        architecture: typeof config.model_type === 'string' ? config.model_type : 'unknown',
        file,
        bytes: bytes.byteLength + externalData.reduce((s, d) => s + d.data.byteLength, 0),
        executionProvider: provider === 'webgpu' ? 'WebGPU (onnxruntime-web)' : 'WASM (onnxruntime-web, CPU)',
        ...(refusals.length ? { fallback: `WebGPU refused: ${refusals.join('; ')}` } : {}),
        layers,
        vocabulary,
        template: chatTemplate !== null ? 'the model\'s own (tokenizer_config.json chat_template)' : 'none (raw completion only)',
        ...(languageTags ? { prompts: 'start with <lang:xx> (an aya-playground export)' } : {}),
      },
    };
    this.entries.set(id, {
      summary,
      session,
      provider,
      tokenizer,
      config,
      layers,
      kvHeads,
      headDim,
      pastType,
      hasPositionIds: inputs.has('position_ids'),
      hasCacheBranch: inputs.has('use_cache_branch'),
      eos,
      languageTags,
      bos,
      chatTemplate,
      specials,
      vocabulary,
      queue: Promise.resolve(),
    });
    return summary;
  }

  async remove(name: string): Promise<boolean> {
    const e = this.entries.get(`onnx:${name}`);
    if (!e) return false;
    this.entries.delete(`onnx:${name}`);
    await e.queue.catch(() => undefined);
    await e.session.release();
    return true;
  }

  async list(): Promise<TeacherSummary[]> {
    return [...this.entries.values()].map((e) => e.summary);
  }

  generate(id: string, req: TeacherRequest, onDelta: (d: string) => void, shouldStop: () => boolean): Promise<TeacherGeneration> {
    const e = this.entries.get(id);
    if (!e) throw new Error(`unknown ONNX teacher '${id}' (loaded: ${[...this.entries.keys()].join(', ') || 'none'})`);
    validateSampling(req.sampling);
    if (req.mode === 'chat' && !e.chatTemplate) throw new Error(`${e.summary.name} has no chat template: use raw mode`);
    // One generation at a time per session: its KV cache tensors are per run anyway, but WebGPU
    // sessions do not take concurrent runs.
    const run = e.queue.then(() => this.run(e, req, onDelta, shouldStop));
    e.queue = run.catch(() => undefined);
    return run;
  }

  /** The prompt's ids and exactly the text the model was given. */
  private promptOf(e: Entry, req: TeacherRequest): { ids: number[]; applied: string } {
    if (req.mode === 'chat') {
      const messages = req.messages?.length ? req.messages : [{ role: 'user' as const, content: req.prompt }];
      const applied = new Template(e.chatTemplate!).render({ messages, add_generation_prompt: true, ...e.specials });
      return { ids: e.tokenizer.encode(applied, { add_special_tokens: false }).ids, applied };
    }
    if (e.languageTags) {
      const lang = e.tokenizer.token_to_id(`<lang:${req.lang}>`);
      if (lang === undefined) throw new Error(`${e.summary.name} has no <lang:${req.lang}> token`);
      const body = e.tokenizer.encode(req.prompt, { add_special_tokens: false }).ids;
      return { ids: [...(e.bos !== null ? [e.bos] : []), lang, ...body], applied: `${e.specials.bos_token ?? ''}<lang:${req.lang}>${req.prompt}` };
    }
    return { ids: e.tokenizer.encode(req.prompt, { add_special_tokens: true }).ids, applied: req.prompt };
  }

  private async run(e: Entry, req: TeacherRequest, onDelta: (d: string) => void, shouldStop: () => boolean): Promise<TeacherGeneration> {
    const t0 = performance.now();
    const { ids: promptIds, applied } = this.promptOf(e, req);
    if (promptIds.length === 0) throw new Error('the prompt is empty');
    const limit = num(e.config.max_position_embeddings);
    if (limit !== null && promptIds.length >= limit) throw new Error(`the prompt has ${promptIds.length} tokens; this model's context is ${limit}`);
    const o = req.sampling;
    const rng = new Rng(o.seed);
    const minNew = eosSuppressedUntil(o);
    const constraint = req.jsonSchema ? this.constraintFor(e, req.jsonSchema) : null;
    const stream = new TextStream((ids) => e.tokenizer.decode(ids, { skip_special_tokens: true }));
    const ids: number[] = [];
    const logprobs: TokenLogprobText[] = [];
    let stopReason: StopReason = 'max-tokens';
    let past: Record<string, ort.Tensor> | null = null;
    let pastLen = 0;
    let input = promptIds;
    const shape = { layers: e.layers, kvHeads: e.kvHeads, headDim: e.headDim, pastType: e.pastType, positionIds: e.hasPositionIds, cacheBranch: e.hasCacheBranch };
    try {
      for (let index = 0; index < o.maxNewTokens; index++) {
        if (shouldStop()) {
          stopReason = 'cancelled';
          break;
        }
        if (constraint?.complete()) {
          stopReason = 'eos';
          break;
        }
        if (limit !== null && pastLen + input.length > limit) {
          stopReason = 'context-full';
          break;
        }
        const feeds = decoderFeeds(ort, shape, [input], past, pastLen);
        const out = await e.session.run(feeds);
        // The last position's logits, as float64 log-probabilities' input.
        const logits = out.logits;
        const v = logits.dims[logits.dims.length - 1];
        const off = (logits.dims[1] - 1) * v;
        const raw = logits.data as Float32Array | Uint16Array;
        const row = new Float32Array(v);
        for (let t = 0; t < v; t++) row[t] = raw instanceof Uint16Array ? f16ToF32(raw[off + t]) : raw[off + t];
        for (const [k, t] of Object.entries(past ?? {})) if (!(k in out) || out[k] !== t) t.dispose();
        past = presentsOf(out);
        logits.dispose();
        pastLen += input.length;
        const u = rng.uniform(); // one draw per token, as in our generate()
        if (constraint) constraint.mask(row);
        else if (index < minNew) for (const t of e.eos) if (t < v) row[t] = -Infinity;
        const token = sampleToken(row, o, u);
        constraint?.accept(token);
        if (req.logprobs !== undefined) {
          const lp = tokenLogprob(row, token, req.logprobs);
          const text = (id: number) => e.tokenizer.decode([id], { skip_special_tokens: false });
          logprobs.push({ token: text(lp.id), logprob: lp.logprob, top: lp.top.map((x) => ({ token: text(x.id), logprob: x.logprob })) });
        }
        if (e.eos.has(token)) {
          stopReason = 'eos';
          break;
        }
        ids.push(token);
        const delta = stream.push(token);
        if (delta) onDelta(delta);
        input = [token];
      }
    } finally {
      for (const t of Object.values(past ?? {})) t.dispose();
    }
    const tail = stream.finish();
    if (tail) onDelta(tail);
    return {
      text: stream.text,
      tokens: ids.length,
      ids,
      promptTokens: promptIds.length,
      seconds: (performance.now() - t0) / 1000,
      stopReason,
      backend: 'onnx',
      appliedPrompt: applied,
      executionProvider: e.provider,
      ...(constraint ? { constrained: true } : {}),
      ...(req.logprobs !== undefined ? { logprobs: logprobs.slice(0, ids.length) } : {}),
    };
  }

  /** Finite JSON schemas (the judge's verdicts): only tokens that lead to an allowed text. */
  private constraintFor(e: Entry, schema: Record<string, unknown>): ChoiceConstraint {
    const choices = finiteJsonChoices(schema);
    if (!choices) throw new Error(`${e.summary.name}: ONNX teachers constrain output only to a finite set of JSON values (objects of enum / const fields)`);
    e.tokenTexts ??= Array.from({ length: e.vocabulary }, (_, id) => e.tokenizer.decode([id], { skip_special_tokens: true }));
    const eos = [...e.eos][0] ?? -1;
    return new ChoiceConstraint(e.tokenTexts, eos, choices);
  }

  async dispose(): Promise<void> {
    for (const e of this.entries.values()) await e.session.release().catch(() => undefined);
    this.entries.clear();
  }
}
