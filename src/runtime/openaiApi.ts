// The runtime as an OpenAI-compatible server: /v1/models, /v1/completions and /v1/chat/completions
// over every model it has (ours, and GGUF teachers), with SSE streaming, seed, stop, max_tokens,
// logprobs / top_logprobs. Behind the same token as the WebSocket (`Authorization: Bearer TOKEN`,
// which is what OpenAI clients send as their API key). Each request is a `sample` job of the
// engine, so it shows in the jobs list and a client that goes away cancels it.
//
// Structured output: `response_format: {type: "json_schema", json_schema: {schema}}` on both
// endpoints (as vLLM takes it) — a llama.cpp grammar for GGUF teachers, finite schemas (enum /
// const fields) for our models.
//
// Extensions, as vLLM and llama-server have them: `top_k`, `min_tokens`, and `lang` (our models
// continue `<bos><lang:xx>` + prompt; without `lang` the prompt's language is identified).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { Engine } from '../engine/engine.ts';
import type { ChatMessage, SampleRequest, SampleResult } from '../engine/api.ts';
import { LANGUAGE_CODES } from '../data/languages.ts';
import { identifyLanguage } from '../arbiter/languageId.ts';
import { isTeacherId } from '../engine/teachers.ts';
import { finiteJsonChoices } from '../model/constrained.ts';

/** The teachers this API serves: the runtime's own GGUF files, never the models of servers it is a
 *  client of — re-serving those would loop when a runtime is connected to itself (or two to each other). */
const servedTeachers = (engine: Engine) => engine.core.teachers.list(['llama.cpp']);

export const OPENAI_PATHS = ['/v1/models', '/v1/completions', '/v1/chat/completions'];
const MAX_BODY = 4 * 2 ** 20;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
  ) {
    super(message);
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
  res.end(JSON.stringify(body));
}

/** OpenAI's error shape, which its clients turn into exceptions carrying the message. */
function sendError(res: ServerResponse, e: unknown): void {
  const status = e instanceof HttpError ? e.status : 500;
  const message = (e as Error).message ?? String(e);
  if (res.headersSent) {
    // A stream has said 200 already: the error event carries what the status would have.
    res.write(`data: ${JSON.stringify({ error: { message, type: status < 500 ? 'invalid_request_error' : 'server_error', param: e instanceof HttpError ? e.param : null, code: null } })}\n\n`);
    res.end();
    return;
  }
  sendJson(res, status, { error: { message, type: status < 500 ? 'invalid_request_error' : 'server_error', param: e instanceof HttpError ? e.param : null, code: null } });
}

async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, `request body over ${MAX_BODY} bytes`);
    chunks.push(c as Buffer);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'the request body is not valid JSON');
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new HttpError(400, 'the request body must be a JSON object');
  return body as Record<string, unknown>;
}

const num = (b: Record<string, unknown>, k: string, dflt: number, ok: (x: number) => boolean, range: string): number => {
  const v = b[k];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'number' || !ok(v)) throw new HttpError(400, `${k} must be ${range}, got ${JSON.stringify(v)}`, k);
  return v;
};

function stops(b: Record<string, unknown>): string[] {
  const s = b.stop;
  if (s === undefined || s === null) return [];
  const list = typeof s === 'string' ? [s] : s;
  if (!Array.isArray(list) || list.length > 4 || list.some((x) => typeof x !== 'string' || x.length === 0)) throw new HttpError(400, 'stop must be a string or up to 4 non-empty strings', 'stop');
  return list as string[];
}

/** Cuts the text at the first stop sequence; `held` is how much of the end may still begin one. */
function stopAt(text: string, list: string[]): { text: string; stopped: boolean; held: number } {
  let cut = -1;
  for (const s of list) {
    const i = text.indexOf(s);
    if (i >= 0 && (cut < 0 || i < cut)) cut = i;
  }
  if (cut >= 0) return { text: text.slice(0, cut), stopped: true, held: 0 };
  let held = 0;
  for (const s of list) for (let k = Math.min(s.length - 1, text.length); k > held; k--) if (text.endsWith(s.slice(0, k))) held = k;
  return { text, stopped: false, held };
}

interface Parsed {
  model: string;
  request: SampleRequest;
  stop: string[];
  stream: boolean;
  logprobs: number | null;
}

async function parse(engine: Engine, b: Record<string, unknown>, chat: boolean): Promise<Parsed> {
  if (typeof b.model !== 'string' || !b.model) throw new HttpError(400, 'model is required (GET /v1/models lists them)', 'model');
  const model = b.model;
  const teacher = isTeacherId(model) ? ((await servedTeachers(engine)).teachers.find((t) => t.id === model) ?? null) : null;
  const known = teacher !== null || (!isTeacherId(model) && (await engine.listModels()).some((m) => m.id === model));
  if (!known) throw new HttpError(404, `The model '${model}' does not exist on this runtime (GET /v1/models lists them)`, 'model');
  if ((b.n ?? 1) !== 1) throw new HttpError(400, 'n must be 1 here', 'n');
  let prompt: string;
  let messages: ChatMessage[] | undefined;
  if (chat) {
    const m = b.messages;
    if (!Array.isArray(m) || m.length === 0) throw new HttpError(400, 'messages must be a non-empty list', 'messages');
    messages = m.map((x, i) => {
      const role = (x as { role?: unknown })?.role;
      let content = (x as { content?: unknown })?.content;
      // Content parts: the text ones, joined (images and audio have nowhere to go here).
      if (Array.isArray(content)) content = content.map((p) => ((p as { type?: unknown }).type === 'text' ? String((p as { text?: unknown }).text ?? '') : '')).join('');
      if ((role !== 'system' && role !== 'user' && role !== 'assistant') || typeof content !== 'string') throw new HttpError(400, `messages[${i}] must be {role: system|user|assistant, content: text}`, 'messages');
      return { role, content };
    });
    const last = messages[messages.length - 1];
    if (last.role !== 'user') throw new HttpError(400, 'the last message must be the user\'s', 'messages');
    prompt = last.content;
  } else {
    const p = Array.isArray(b.prompt) && b.prompt.length === 1 ? b.prompt[0] : b.prompt;
    if (typeof p !== 'string') throw new HttpError(400, 'prompt must be one string', 'prompt');
    prompt = p;
  }
  let lang = b.lang;
  if (lang === undefined || lang === null) {
    const guess = identifyLanguage(prompt);
    lang = guess.language && LANGUAGE_CODES.includes(guess.language) ? guess.language : 'eng';
  }
  if (typeof lang !== 'string' || !LANGUAGE_CODES.includes(lang)) throw new HttpError(400, `lang must be one of ${LANGUAGE_CODES.join(', ')}`, 'lang');
  let logprobs: number | null = null;
  if (chat) {
    if (b.logprobs === true) logprobs = num(b, 'top_logprobs', 0, (x) => Number.isInteger(x) && x >= 0 && x <= 20, 'an integer from 0 to 20');
  } else if (b.logprobs !== undefined && b.logprobs !== null) logprobs = num(b, 'logprobs', 0, (x) => Number.isInteger(x) && x >= 0 && x <= 5, 'an integer from 0 to 5');
  const jsonSchema = responseFormat(b.response_format, teacher !== null);
  const maxTokens = num(b, chat && b.max_completion_tokens !== undefined ? 'max_completion_tokens' : 'max_tokens', chat ? 256 : 16, (x) => Number.isInteger(x) && x >= 1 && x <= 8192, 'an integer from 1 to 8192');
  const request: SampleRequest = {
    modelId: model,
    prompt,
    lang,
    sampling: {
      temperature: num(b, 'temperature', 1, (x) => x >= 0 && x <= 2, 'from 0 to 2'),
      topP: num(b, 'top_p', 1, (x) => x > 0 && x <= 1, 'in (0, 1]'),
      topK: num(b, 'top_k', 0, (x) => Number.isInteger(x) && x >= 0, 'an integer ≥ 0'),
      maxNewTokens: maxTokens,
      minNewTokens: num(b, 'min_tokens', 0, (x) => Number.isInteger(x) && x >= 0, 'an integer ≥ 0'),
      // No seed: a fresh one (OpenAI's semantics), returned in the answer so the run can be repeated.
      seed: num(b, 'seed', randomBytes(4).readUInt32BE() >>> 1, (x) => Number.isInteger(x), 'an integer'),
    },
    ...(chat ? { mode: 'chat' as const, messages } : isTeacherId(model) ? { mode: 'raw' as const } : {}),
    ...(logprobs !== null ? { logprobs } : {}),
    ...(jsonSchema ? { jsonSchema } : {}),
  };
  if (chat && !isTeacherId(model)) throw new HttpError(400, `'${model}' is a base model without a chat template: use /v1/completions`, 'model');
  if (chat && teacher && !teacher.chat) {
    throw new HttpError(400, `'${model}' has no chat template: use /v1/completions`, 'model');
  }
  return { model, request, stop: stops(b), stream: b.stream === true, logprobs };
}

function responseFormat(f: unknown, teacher: boolean): Record<string, unknown> | null {
  if (f === undefined || f === null) return null;
  const type = (f as { type?: unknown }).type;
  if (type === 'text') return null;
  if (type === 'json_object') throw new HttpError(400, 'response_format json_object is not supported here: give a json_schema', 'response_format');
  if (type !== 'json_schema') throw new HttpError(400, 'response_format.type must be text or json_schema', 'response_format');
  const schema = (f as { json_schema?: { schema?: unknown } }).json_schema?.schema;
  if (!schema || typeof schema !== 'object' || Array.isArray(schema)) throw new HttpError(400, 'response_format.json_schema.schema must be a JSON schema object', 'response_format');
  if (!teacher && !finiteJsonChoices(schema)) {
    throw new HttpError(400, "this runtime's own models constrain output only to a finite set of JSON values (objects of enum / const fields); this schema allows more", 'response_format');
  }
  return schema as Record<string, unknown>;
}

const finishReason = (r: SampleResult, stopped: boolean) => (stopped || r.stopReason === 'eos' ? 'stop' : r.stopReason === 'cancelled' ? 'stop' : 'length');

function completionLogprobs(r: SampleResult, text: string) {
  const lp = r.logprobs ?? [];
  // Only the tokens inside the returned text (a stop sequence may have cut some).
  const kept: typeof lp = [];
  let len = 0;
  for (const t of lp) {
    if (len >= text.length) break;
    kept.push(t);
    len += t.token.length;
  }
  return kept;
}

/** A failed generation: the request's fault (400, with the field) when the engine says so, else 500. */
function jobError(message: string, chat: boolean): HttpError {
  if (/no language tag|no <lang:/.test(message)) return new HttpError(400, message, 'lang');
  if (/the prompt (is empty|has \d+ tokens)/.test(message)) return new HttpError(400, message, chat ? 'messages' : 'prompt');
  if (/^no model '|is not in this browser|unknown (ONNX |GGUF )?teacher/.test(message)) return new HttpError(404, message, 'model');
  return new HttpError(500, message);
}

export async function handleOpenAi(engine: Engine, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  try {
    if (url.pathname === '/v1/models') {
      if (req.method !== 'GET') throw new HttpError(405, 'GET /v1/models');
      const [models, { teachers }] = await Promise.all([engine.listModels(), servedTeachers(engine)]);
      const created = (iso?: string) => Math.floor((iso ? Date.parse(iso) : Date.now()) / 1000);
      sendJson(res, 200, {
        object: 'list',
        data: [
          ...models.map((m) => ({ id: m.id, object: 'model', created: created(m.createdAt), owned_by: 'aya-playground', backend: 'engine', name: m.name })),
          ...teachers.map((t) => ({ id: t.id, object: 'model', created: created(), owned_by: t.backend, backend: t.backend, name: t.name, chat: t.chat })),
        ],
      });
      return;
    }
    if (req.method !== 'POST') throw new HttpError(405, `POST ${url.pathname}`);
    const chat = url.pathname === '/v1/chat/completions';
    const p = await parse(engine, await readBody(req), chat);
    const id = `${chat ? 'chatcmpl' : 'cmpl'}-${randomBytes(12).toString('hex')}`;
    const created = Math.floor(Date.now() / 1000);
    const job = engine.start('sample', p.request);
    // A client that hangs up cancels its generation.
    const onClose = () => void job.cancel();
    res.on('close', onClose);
    let text = '';
    let sent = 0;
    let stopped = false;
    const chunk = (delta: string, finish: string | null) =>
      chat
        ? { id, object: 'chat.completion.chunk', created, model: p.model, choices: [{ index: 0, delta: sent === 0 && delta ? { role: 'assistant', content: delta } : delta ? { content: delta } : {}, logprobs: null, finish_reason: finish }] }
        : { id, object: 'text_completion', created, model: p.model, choices: [{ index: 0, text: delta, logprobs: null, finish_reason: finish }] };
    if (p.stream) {
      res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
      res.flushHeaders();
    }
    job.on((e) => {
      if (stopped) return;
      text += e.delta;
      const s = stopAt(text, p.stop);
      if (s.stopped) {
        stopped = true;
        text = s.text;
        void job.cancel();
      }
      if (p.stream) {
        const upTo = s.stopped ? s.text.length : text.length - s.held;
        if (upTo > sent) {
          res.write(`data: ${JSON.stringify(chunk(text.slice(sent, upTo), null))}\n\n`);
          sent = upTo;
        }
      }
    });
    const outcome = await job.outcome;
    res.off('close', onClose);
    if (outcome.status === 'failed') throw jobError(outcome.error, chat);
    const r = outcome.result;
    if (!r) throw new HttpError(500, 'the generation ended without a result');
    if (!stopped) {
      const s = stopAt(r.text, p.stop);
      text = s.text;
      stopped = s.stopped;
    }
    const finish = finishReason(r, stopped);
    const lps = p.logprobs !== null ? completionLogprobs(r, text) : null;
    const completionTokens = lps?.length ?? r.tokens;
    const usage = { prompt_tokens: r.promptTokens, completion_tokens: completionTokens, total_tokens: r.promptTokens + completionTokens };
    const ext = { seed: p.request.sampling.seed, lang: p.request.lang, backend: r.backend, ...(r.appliedPrompt !== undefined ? { applied_prompt: r.appliedPrompt } : {}), ...(r.constrained !== undefined ? { constrained: r.constrained } : {}) };
    if (p.stream) {
      if (text.length > sent) res.write(`data: ${JSON.stringify(chunk(text.slice(sent), null))}\n\n`);
      const last = chunk('', finish) as Record<string, unknown>;
      res.write(`data: ${JSON.stringify({ ...last, usage, aya: ext })}\n\n`);
      res.write('data: [DONE]\n\n');
      res.end();
      return;
    }
    const choice = chat
      ? {
          index: 0,
          message: { role: 'assistant', content: text },
          logprobs: lps ? { content: lps.map((t) => ({ token: t.token, logprob: t.logprob, bytes: [...Buffer.from(t.token)], top_logprobs: t.top.map((x) => ({ token: x.token, logprob: x.logprob, bytes: [...Buffer.from(x.token)] })) })) } : null,
          finish_reason: finish,
        }
      : {
          index: 0,
          text,
          logprobs: lps
            ? {
                tokens: lps.map((t) => t.token),
                token_logprobs: lps.map((t) => t.logprob),
                top_logprobs: lps.map((t) => Object.fromEntries(t.top.map((x) => [x.token, x.logprob]))),
                text_offset: lps.reduce<number[]>((acc, t, i) => (acc.push(i === 0 ? 0 : acc[i - 1] + lps[i - 1].token.length), acc), []),
              }
            : null,
          finish_reason: finish,
        };
    sendJson(res, 200, { id, object: chat ? 'chat.completion' : 'text_completion', created, model: p.model, choices: [choice], usage, aya: ext });
  } catch (e) {
    sendError(res, e);
  }
}
