// The desktop runtime's refusals (DESIGN §14), one test each, against a real `serve` on 127.0.0.1:
// each asserts the refusal and then that the runtime still serves a good client.
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startRuntime, type Runtime } from '../../src/runtime/server.ts';
import { writeModelDir } from '../../src/model/folder.node.ts';
import { createRandomModel } from '../../src/model/create.ts';
import { BpeTokenizer } from '../../src/tokenizer/bpe.ts';
import { readBuiltinTokenizer } from '../../src/cli/platform.ts';
import { wsClient } from './runtimeClient.ts';

const MAX_MESSAGE = 1 << 20;

let runtime: Runtime;
let root: string;
const logs: string[] = [];

interface HttpAnswer {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

function http(path: string, headers: Record<string, string> = {}, port = runtime.port): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Opens a raw socket; resolves with it open, or rejects with the server's answer. */
function rawSocket(query: string, opts: { origin?: string; port?: number } = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${opts.port ?? runtime.port}/engine${query}`, { headers: opts.origin ? { Origin: opts.origin } : {} });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => reject(new Error(`${res.statusCode}: ${body.trim()}`)));
    });
    ws.once('error', reject);
  });
}

/** The next message on a raw socket, decoded (text frames only are expected here). */
function nextMessage(ws: WebSocket): Promise<{ id: number | null; kind: string; payload: { message?: string } & Record<string, unknown> }> {
  return new Promise((resolve) => ws.once('message', (data) => resolve(JSON.parse(data.toString()))));
}

/** A client with the right token lists the library: the runtime still serves. */
async function stillServes(rt = runtime): Promise<void> {
  const api = wsClient(rt);
  try {
    const models = await api.listModels();
    expect(models.map((m) => m.id)).toContain('lib/good');
  } finally {
    api.close();
  }
}

beforeAll(async () => {
  const base = mkdtempSync(join(tmpdir(), 'aya-security-'));
  root = join(base, 'lib');
  mkdirSync(root);
  const tok = BpeTokenizer.fromTokenizerJson(await readBuiltinTokenizer(), 'tokenizer.json');
  const model = createRandomModel(tok, 'tiny', 1, 'test');
  await writeModelDir(join(root, 'good'), model.files);
  // A model outside the library, reachable by `..` and through a symbolic link inside it.
  await writeModelDir(join(base, 'outside'), model.files);
  symlinkSync(join(base, 'outside'), join(root, 'escape'));
  const app = join(base, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'index.html'), '<!doctype html><title>app</title>');
  runtime = await startRuntime({ port: 0, roots: [root], zooDir: null, appDir: app, maxMessageBytes: MAX_MESSAGE, auth: { maxFailures: 1000, windowMs: 60_000, lockoutMs: 60_000 }, log: (l) => logs.push(l) });
});
afterAll(async () => runtime?.close());

describe('the desktop runtime refuses', () => {
  it('an HTTP request and a WebSocket without the token (401)', async () => {
    const r = await http('/');
    expect(r.status).toBe(401);
    expect(r.body).toMatch(/needs its token/);
    await expect(rawSocket('')).rejects.toThrow(/^401/);
    // With it: the app, and a cookie that lets its own requests in without the token.
    const ok = await http(`/?token=${runtime.token}`);
    expect(ok.status).toBe(200);
    expect(ok.body).toContain('<title>app</title>');
    const cookie = String(ok.headers['set-cookie']).split(';')[0];
    expect(cookie).toMatch(new RegExp(`^aya_runtime_token_${runtime.port}=`)); // one cookie per runtime port
    expect(String(ok.headers['set-cookie'])).toMatch(/HttpOnly/);
    expect((await http('/index.html', { Cookie: cookie })).status).toBe(200);
    expect((await http('/runtime.json', { Cookie: cookie })).body).toContain('"engine":"/engine"');
    // The cookie stands for the token only on the runtime's own pages: another allowed origin (a
    // dev server, where any project's page could run) must present the token itself.
    await expect(rawSocket('', { origin: 'http://127.0.0.1:5173' }).then((ws) => ws.close())).rejects.toThrow(/^401/);
    (await rawSocket(`?token=${runtime.token}`, { origin: 'http://127.0.0.1:5173' })).close();
    await stillServes();
  });

  it('request targets and cookies that are not well-formed (400 / 401), without crashing', async () => {
    expect((await http('//')).status).toBe(400);
    await expect(new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${runtime.port}//`);
      ws.once('unexpected-response', (_q, res) => reject(new Error(String(res.statusCode))));
      ws.once('open', resolve);
      ws.once('error', reject);
    })).rejects.toThrow(/400/);
    expect((await http('/', { Cookie: `aya_runtime_token_${runtime.port}=%E0%A4%A` })).status).toBe(401);
    await stillServes();
  });

  it('a wrong token (401), compared in constant time, and never logs the token', async () => {
    const wrong = runtime.token.replace(/.$/, (c) => (c === '0' ? '1' : '0'));
    expect((await http(`/?token=${wrong}`)).status).toBe(401);
    expect((await http('/', { Authorization: `Bearer ${wrong}` })).status).toBe(401);
    await expect(rawSocket(`?token=${wrong}`)).rejects.toThrow(/^401: Wrong token/);
    await expect(rawSocket(`?token=${'x'.repeat(10_000)}`)).rejects.toThrow(/^401/);
    await stillServes();
    expect(logs.some((l) => l.includes('wrong token'))).toBe(true);
    expect(logs.some((l) => l.includes(runtime.token) || l.includes(wrong))).toBe(false);
    expect(runtime.token).toMatch(/^[0-9a-f]{64}$/); // 256 random bits
  });

  it('an Origin that is not on the allow-list (403); the app’s own and the dev server’s are allowed', async () => {
    await expect(rawSocket(`?token=${runtime.token}`, { origin: 'http://evil.example' })).rejects.toThrow(/^403: Origin 'http:\/\/evil.example' is not allowed/);
    expect((await http(`/?token=${runtime.token}`, { Origin: 'http://evil.example' })).status).toBe(403);
    for (const origin of [`http://127.0.0.1:${runtime.port}`, 'http://localhost:5173']) (await rawSocket(`?token=${runtime.token}`, { origin })).close();
    await stillServes();
  });

  it('a Host header that is not this server (DNS rebinding, 421)', async () => {
    expect((await http(`/?token=${runtime.token}`, { Host: 'evil.example' })).status).toBe(421);
    await stillServes();
  });

  it('a model path that escapes the library with ".." or an absolute path', async () => {
    const api = wsClient(runtime);
    try {
      await expect(api.exportModel('lib/../outside')).rejects.toThrow(/must stay inside the library folder/);
      await expect(api.exportModel('lib/good/../../outside')).rejects.toThrow(/must stay inside the library folder/);
      await expect(api.exportModel(join(root, '..', 'outside'))).rejects.toThrow(/absolute path is not a model id/);
      await expect(api.exportModel('elsewhere/good')).rejects.toThrow(/no library folder 'elsewhere'/);
      await expect(api.start('train', { modelId: 'lib/good', name: 'x', outId: 'lib/../../tmp/pwned', mix: [{ language: 'fra', weight: 1 }], useCorpus: true, steps: 1, batchSize: 1, seqLen: 8, lr: 1e-3, seed: 1, evalEvery: 0, checkpointEvery: 0 }).result()).rejects.toThrow(/inside the library folder/);
      expect((await api.exportModel('lib/good')).has('model.safetensors')).toBe(true);
    } finally {
      api.close();
    }
    await stillServes();
  });

  it('a model reached through a symbolic link that leads out of the library', async () => {
    const api = wsClient(runtime);
    try {
      await expect(api.exportModel('lib/escape')).rejects.toThrow(/leads outside the library folder .* symbolic link/);
      await expect(api.tokenize('lib/escape', 'a')).rejects.toThrow(/symbolic link/);
      expect((await api.listModels()).map((m) => m.id)).not.toContain('lib/escape');
    } finally {
      api.close();
    }
    await stillServes();
  });

  it('a frame larger than the maximum message size (the connection closes with 1009)', async () => {
    const ws = await rawSocket(`?token=${runtime.token}`);
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    ws.send(new Uint8Array(MAX_MESSAGE + 1));
    expect(await closed).toBe(1009);
    await stillServes();
  });

  it('malformed JSON, an unknown message kind and an unknown method get an error reply; the connection goes on', async () => {
    const ws = await rawSocket(`?token=${runtime.token}`);
    try {
      let reply = nextMessage(ws);
      ws.send('{not json');
      expect(await reply).toMatchObject({ id: null, kind: 'throw', payload: { message: expect.stringMatching(/malformed message: not valid JSON/) } });
      reply = nextMessage(ws);
      ws.send(JSON.stringify({ id: 7, kind: 'explode' }));
      expect(await reply).toMatchObject({ id: 7, kind: 'throw', payload: { message: expect.stringMatching(/unknown message kind "explode"/) } });
      reply = nextMessage(ws);
      ws.send(JSON.stringify({ id: 8, kind: 'call', method: 'dispose', payload: [] }));
      expect(await reply).toMatchObject({ id: 8, kind: 'throw', payload: { message: expect.stringMatching(/unknown method "dispose"/) } });
      reply = nextMessage(ws);
      ws.send(JSON.stringify({ id: 9, kind: 'start', method: 'rm-rf', payload: { job: 'j', request: {} } }));
      expect(await reply).toMatchObject({ id: 9, kind: 'throw', payload: { message: expect.stringMatching(/unknown job "rm-rf"/) } });
      reply = nextMessage(ws);
      ws.send(new Uint8Array([0xff, 0xff, 0xff, 0x7f, 1, 2]));
      expect(await reply).toMatchObject({ id: null, kind: 'throw', payload: { message: expect.stringMatching(/header says/) } });
      // The same connection still answers a good call.
      reply = nextMessage(ws);
      ws.send(JSON.stringify({ id: 10, kind: 'call', method: 'listModels', payload: [] }));
      const list = await reply;
      expect(list.kind).toBe('return');
      expect((list.payload as unknown as Array<{ id: string }>).map((m) => m.id)).toContain('lib/good');
    } finally {
      ws.close();
    }
    await stillServes();
  });

  it('repeated wrong tokens: rate-limited (429) for a while; the right token still passes', async () => {
    const rt = await startRuntime({ port: 0, roots: [root], zooDir: null, appDir: null, auth: { maxFailures: 3, windowMs: 60_000, lockoutMs: 1500 } });
    try {
      // Requests without a token are not attempts: any web page can send those.
      for (let i = 0; i < 5; i++) expect((await http('/', {}, rt.port)).status).toBe(401);
      for (let i = 0; i < 3; i++) expect((await http('/?token=nope', {}, rt.port)).status).toBe(401);
      const locked = await http('/?token=nope2', {}, rt.port);
      expect(locked.status).toBe(429);
      expect(locked.headers['retry-after']).toBeDefined();
      await expect(rawSocket('?token=nope3', { port: rt.port })).rejects.toThrow(/^429: Too many wrong tokens/);
      // A page that sends wrong tokens cannot lock the user out.
      await stillServes(rt);
      await new Promise((r) => setTimeout(r, 1700));
      expect((await http('/?token=nope4', {}, rt.port)).status).toBe(401);
    } finally {
      await rt.close();
    }
  });
});
