// The desktop runtime's doors, fuzzed through a real server on 127.0.0.1: WebSocket frames of the
// engine protocol, and the OpenAI-compatible HTTP endpoints. Each case must get an answer (a
// 'return', or a 'throw' / 4xx that says which field is wrong), and the runtime must still serve.
import fc from 'fast-check';
import { mkdtempSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { encodeFrame } from '../../src/engine/codec.ts';
import { writeModelDir } from '../../src/model/folder.node.ts';
import { startRuntime, type Runtime } from '../../src/runtime/server.ts';
import type { Door } from './harness.ts';
import { applyByteEdits, applyJsonEdits, byteEdits, type JsonValue, jsonEdits, nastyValue, utf8 } from './mutate.ts';
import { tinyModel } from './fixtures.ts';

let runtime: Runtime | null = null;
let socket: WebSocket | null = null;
let users = 0;
const MODEL = 'lib/tiny';

/** One runtime for the runtime doors (a library holding the fuzz model). */
async function up(): Promise<Runtime> {
  users++;
  if (runtime) return runtime;
  const base = mkdtempSync(join(tmpdir(), 'aya-fuzz-'));
  await writeModelDir(join(base, 'lib', 'tiny'), tinyModel().files);
  runtime = await startRuntime({ port: 0, roots: [join(base, 'lib')], zooDir: null, appDir: null, maxMessageBytes: 1 << 20, auth: { maxFailures: 1e9, windowMs: 60_000, lockoutMs: 1 }, log: () => undefined });
  return runtime;
}

async function down(): Promise<void> {
  if (--users > 0) return;
  socket?.close();
  socket = null;
  await runtime?.close();
  runtime = null;
}

function openSocket(rt: Runtime): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${rt.engineUrl}?token=${rt.token}`);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

let nextId = 1_000_000;

/** Sends a frame and waits for the answer to `id` (or, for a frame without a usable id, the answer with id null). */
function exchange(ws: WebSocket, frame: string | Uint8Array, ids: Array<number | null>): Promise<{ kind: string; payload: { name?: string; message?: string } }> {
  return new Promise((resolve, reject) => {
    const onMessage = (data: WebSocket.RawData, binary: boolean) => {
      if (binary) return;
      let m: { id?: unknown; kind?: string; payload?: unknown };
      try {
        m = JSON.parse(data.toString());
      } catch {
        return;
      }
      if (m.kind === 'event') return;
      if (ids.includes(m.id as number | null) || (m.id === null && m.kind === 'throw')) {
        ws.off('message', onMessage);
        ws.off('close', onClose);
        resolve(m as { kind: string; payload: { name?: string; message?: string } });
      }
    };
    const onClose = (code: number) => reject(new Error(`the runtime closed the connection (${code})`));
    ws.on('message', onMessage);
    ws.once('close', onClose);
    ws.send(frame);
  });
}

// Calls that are harmless to repeat with any arguments (nothing long, nothing outside the library).
const CALLS: Array<[string, JsonValue[]]> = [
  ['listModels', []],
  ['listTeachers', []],
  ['tokenize', [MODEL, 'Bonjour le monde']],
  ['tokenize', [null, 'Hello']],
  ['prompts', ['fra', 2]],
  ['promptSet', [{ kind: 'builtin', languages: ['fra'], perLanguage: 1 }]],
  ['jobs', []],
  ['deleteModel', ['lib/nothing-here']],
  ['removeOnnxTeacher', ['none']],
  ['zooManifest', []],
];
const CONTROL = ['subscribe', 'unsubscribe', 'cancel', 'pause', 'resume'];
const WORDS = ['id', 'kind', 'method', 'payload', 'job', 'from', 'call', 'start', ...CONTROL, ...CALLS.map(([m]) => m), MODEL, 'sample', 'train'];

const messages: JsonValue[] = [...CALLS.map(([method, payload], i) => ({ id: i + 1, kind: 'call', method, payload })), ...CONTROL.map((kind, i) => ({ id: 100 + i, kind, payload: { job: 'sample-none', from: 0 } }))];

type Frame = { text: string } | { binary: Uint8Array };

const frame: fc.Arbitrary<Frame> = fc.oneof(
  { weight: 5, arbitrary: fc.tuple(fc.constantFrom(...messages), jsonEdits(WORDS)).map(([m, e]) => ({ text: JSON.stringify(applyJsonEdits(m, e)) })) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...messages), byteEdits).map(([m, e]) => ({ text: new TextDecoder().decode(applyByteEdits(utf8(JSON.stringify(m)), e)) })) },
  // Binary frames (the codec's: a JSON head, then byte parts), as an import of a model folder sends.
  { weight: 2, arbitrary: byteEdits.map((e) => ({ binary: applyByteEdits(encodeFrame({ id: 7, kind: 'call', method: 'importModel', payload: ['fuzz', new Map([['config.json', tinyModel().files.get('config.json')!]])] }) as Uint8Array, e) })) },
  { weight: 1, arbitrary: fc.oneof(fc.string(), fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? 'null')).map((text) => ({ text })) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((binary) => ({ binary })) },
);

const CRASH_NAMES = new Set(['TypeError', 'RangeError', 'ReferenceError']);

export const runtimeWebSocket: Door<Frame> = {
  name: 'runtime-websocket',
  what: "the runtime's engine WebSocket: protocol frames (text and binary), mutated and made up",
  input: frame,
  enter: async (f) => {
    socket ??= await openSocket(runtime!);
    const data = 'text' in f ? f.text : f.binary;
    // The id the answer will carry: the frame's own numeric id, else null.
    let id: number | null = null;
    try {
      const m = 'text' in f ? JSON.parse(f.text) : null;
      id = typeof m?.id === 'number' ? m.id : null;
    } catch {
      id = null;
    }
    // A binary frame answers under its head's id when that can be read (7 here), else null.
    const answer = await exchange(socket, data, 'binary' in f ? [7, null] : [id]);
    // The connection must still answer a plain call.
    const probe = await exchange(socket, JSON.stringify({ id: ++nextId, kind: 'call', method: 'listModels', payload: [] }), [nextId]);
    if (probe.kind !== 'return') throw new TypeError(`the runtime stopped serving after this frame: ${JSON.stringify(probe).slice(0, 200)}`);
    if (answer.kind === 'throw') {
      const { name = 'Error', message = '' } = answer.payload ?? {};
      const E = CRASH_NAMES.has(name) ? TypeError : Error;
      throw new E(`runtime: ${name}: ${message}`);
    }
  },
  names: { file: /^runtime: /, place: /\bid\b|kind|method|payload|job|argument|frame|message|JSON|part|header|'[^']*'|"[^"]*"|\b[a-z]+[A-Z]\w*\b|\b[a-z]+_[a-z_]+\b|model|language|tokenizer|config\.json|not stored|no such|unknown|\bthe \w+ must\b/ },
  timeoutMs: 15_000,
  setup: async () => void (await up()),
  teardown: down,
};

// ---- HTTP: the OpenAI-compatible endpoints ----

type HttpCase = { path: string; body: string };

function post(rt: Runtime, path: string, body: string): Promise<{ status: number; body: string; stream: boolean }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: rt.port, path, method: 'POST', headers: { Authorization: `Bearer ${rt.token}`, 'Content-Type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, stream: String(res.headers['content-type']).startsWith('text/event-stream') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const COMPLETION = { model: MODEL, prompt: 'Bonjour', max_tokens: 2, temperature: 0, seed: 1, lang: 'fra' };
const CHAT = { model: MODEL, messages: [{ role: 'user', content: 'Bonjour' }], max_tokens: 2, seed: 1 };
const HTTP_WORDS = ['model', 'prompt', 'messages', 'role', 'content', 'user', 'system', 'max_tokens', 'max_completion_tokens', 'temperature', 'top_p', 'top_k', 'seed', 'stop', 'stream', 'logprobs', 'top_logprobs', 'lang', 'fra', 'response_format', 'json_schema', MODEL];

const httpCase: fc.Arbitrary<HttpCase> = fc.oneof(
  { weight: 4, arbitrary: jsonEdits(HTTP_WORDS).map((e) => ({ path: '/v1/completions', body: JSON.stringify(applyJsonEdits(COMPLETION, e)) })) },
  { weight: 2, arbitrary: jsonEdits(HTTP_WORDS).map((e) => ({ path: '/v1/chat/completions', body: JSON.stringify(applyJsonEdits(CHAT, e)) })) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('/v1/completions', '/v1/chat/completions'), byteEdits).map(([path, e]) => ({ path, body: new TextDecoder().decode(applyByteEdits(utf8(JSON.stringify(COMPLETION)), e)) })) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('/v1/completions', '/v1/chat/completions', '/v1/models', '/v1/embeddings', '/v1/x'), nastyValue(HTTP_WORDS)).map(([path, v]) => ({ path, body: JSON.stringify(v) })) },
);

/** The error field of an OpenAI-style answer. */
const errorOf = (body: string): { message?: string; param?: string | null } => {
  try {
    return (JSON.parse(body) as { error?: { message?: string; param?: string | null } }).error ?? {};
  } catch {
    return { message: body };
  }
};

export const runtimeHttp: Door<HttpCase> = {
  name: 'runtime-http',
  what: "the runtime's OpenAI-compatible endpoints (/v1/completions, /v1/chat/completions, /v1/models)",
  input: httpCase,
  enter: async ({ path, body }) => {
    const r = await post(runtime!, path, body);
    if (r.status === 200 && !r.stream) return;
    let e = errorOf(r.body);
    if (r.stream) {
      // A stream answers 200 at once; a failure after that is an error event inside it.
      const failed = r.body
        .split('\n')
        .filter((l) => l.startsWith('data: ') && l !== 'data: [DONE]')
        .map((l) => JSON.parse(l.slice(6)) as { error?: { message?: string; param?: string | null; type?: string } })
        .find((m) => m.error);
      if (!failed) return;
      e = failed.error!;
      if (failed.error!.type === 'server_error') throw new TypeError(`stream error event (a crash, not a refusal): ${e.message}`);
      throw new Error(`${path}: stream error: ${e.param ? `[${e.param}] ` : ''}${e.message}`);
    }
    if (r.status >= 500) throw new TypeError(`HTTP ${r.status} (a crash, not a refusal): ${e.message ?? r.body}`);
    throw new Error(`${path}: HTTP ${r.status}: ${e.param ? `[${e.param}] ` : ''}${e.message ?? r.body}`);
  },
  names: { file: /^\/v1\//, place: /\[\w+\]|\b(model|prompt|messages|max_tokens|max_completion_tokens|temperature|top_p|top_k|seed|stop|lang|logprobs|top_logprobs|response_format|body|JSON|POST|GET|stream|min_tokens)\b|HTTP 40[45]/ },
  timeoutMs: 30_000,
  setup: async () => void (await up()),
  teardown: down,
};
