// OpenAI-compatible servers as teachers, through the official client: the server is a real `serve`
// (its /v1 with one of our models and a GGUF teacher behind llama.cpp); the failure cases are real
// HTTP servers on 127.0.0.1 that are down, hang, answer errors or send broken SSE.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRuntime, type Runtime } from '../../src/runtime/server.ts';
import { LlamaTeachers } from '../../src/runtime/llamaTeachers.ts';
import { modelToGguf } from '../../src/model/ggufExport.ts';
import { Engine } from '../../src/engine/engine.ts';
import { nodePlatform } from '../../src/cli/platform.ts';
import { loadFolder } from './oracle/llamacpp.ts';

const prompt = 'Article 23. Toute personne a droit au travail,';
const greedy = { temperature: 0, topK: 0, topP: 1, maxNewTokens: 12, minNewTokens: 4, seed: 1 };
let runtime: Runtime;
let engine: Engine;
const servers: Server[] = [];

async function httpServer(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const s = createServer(handler);
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}/v1`;
}

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'aya-openai-t-'));
  const m = await loadFolder('public/models/teacher-romance', 'teacher-romance');
  writeFileSync(join(dir, 'romance.gguf'), modelToGguf(m.folder, m.tok, { dtype: 'f32', name: 'teacher-romance' }));
  runtime = await startRuntime({ port: 0, roots: [mkdtempSync(join(tmpdir(), 'aya-lib-'))], zooDir: 'public/models', appDir: null, teachers: [await LlamaTeachers.open([join(dir, 'romance.gguf')], { gpu: false })] });
  engine = new Engine(nodePlatform);
}, 60_000);

afterAll(async () => {
  engine?.dispose();
  for (const s of servers) s.closeAllConnections(), s.close();
  await runtime?.close();
});

describe('an OpenAI-compatible server as teachers', () => {
  it('lists the server\'s models and samples them like the engine does', async () => {
    const listed = await engine.connectEndpoint({ name: 'rt', baseUrl: `http://127.0.0.1:${runtime.port}/v1`, apiKey: runtime.token });
    const ids = listed.map((t) => t.id);
    expect(ids).toContain('openai:rt/builtin:teacher-romance');
    expect(ids).toContain('openai:rt/gguf:romance');
    expect((await engine.listTeachers()).teachers.map((t) => t.id)).toEqual(expect.arrayContaining(ids));
    const local = await engine.start('sample', { modelId: 'public/models/teacher-romance', prompt, lang: 'fra', sampling: greedy }).result();
    for (const id of ['openai:rt/builtin:teacher-romance', 'openai:rt/gguf:romance']) {
      const job = engine.start('sample', { modelId: id, prompt, lang: 'fra', sampling: greedy });
      let streamed = '';
      job.on((e) => (streamed += e.delta));
      const r = await job.result();
      expect(r.backend, id).toBe('openai');
      expect(r.text, id).toBe(local.text);
      expect(streamed, id).toBe(r.text);
      expect(r.tokens, id).toBe(local.tokens);
    }
  }, 60_000);

  it('a server that is down is not connected, with the reason', async () => {
    const url = await httpServer(() => {});
    const port = new URL(url).port;
    servers.pop()!.close();
    await expect(engine.connectEndpoint({ name: 'down', baseUrl: `http://127.0.0.1:${port}/v1` })).rejects.toThrow(/\/v1\/models: cannot connect/);
    expect((await engine.listTeachers()).teachers.some((t) => t.id.startsWith('openai:down/'))).toBe(false);
  });

  it('HTTP errors, malformed SSE and a hung server fail the generation with what happened', async () => {
    const models = JSON.stringify({ object: 'list', data: [{ id: 'm', object: 'model', owned_by: 'someone' }] });
    const serve = (completions: (res: import('node:http').ServerResponse) => void) =>
      httpServer((req, res) => {
        if (req.url === '/v1/models') {
          res.writeHead(200, { 'Content-Type': 'application/json' }).end(models);
          return;
        }
        req.resume();
        req.on('end', () => completions(res));
      });
    const req = { modelId: '', prompt: 'hello', lang: 'eng', sampling: greedy, mode: 'raw' as const };

    await engine.connectEndpoint({ name: 'e500', baseUrl: await serve((res) => res.writeHead(500, { 'Content-Type': 'application/json' }).end(JSON.stringify({ error: { message: 'model exploded' } }))) });
    await expect(engine.start('sample', { ...req, modelId: 'openai:e500/m' }).result()).rejects.toThrow(/e500 .*model m: HTTP 500: .*model exploded/);

    await engine.connectEndpoint({ name: 'bad-sse', baseUrl: await serve((res) => res.writeHead(200, { 'Content-Type': 'text/event-stream' }).end('data: {"choices": [ {not json\n\n')) });
    await expect(engine.start('sample', { ...req, modelId: 'openai:bad-sse/m' }).result()).rejects.toThrow(/bad-sse .*model m: /);

    await engine.connectEndpoint({ name: 'hung', baseUrl: await serve(() => {}), timeoutMs: 1000 });
    await expect(engine.start('sample', { ...req, modelId: 'openai:hung/m' }).result()).rejects.toThrow(/hung .*model m: timed out/);
  }, 30_000);

  it('a server that refuses response_format is asked again without it, and the reply is marked unconstrained', async () => {
    const models = JSON.stringify({ object: 'list', data: [{ id: 'm', object: 'model', owned_by: 'someone' }] });
    const bodies: Array<Record<string, unknown>> = [];
    const url = await httpServer((req, res) => {
      if (req.url === '/v1/models') return void res.writeHead(200, { 'Content-Type': 'application/json' }).end(models);
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const b = JSON.parse(body);
        bodies.push(b);
        if (b.response_format) return void res.writeHead(400, { 'Content-Type': 'application/json' }).end(JSON.stringify({ error: { message: "Unrecognized request argument supplied: response_format" } }));
        res.writeHead(200, { 'Content-Type': 'text/event-stream' });
        res.end(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: 'My final verdict is: [[B>A]]' }, finish_reason: 'stop' }] })}\n\ndata: [DONE]\n\n`);
      });
    });
    await engine.connectEndpoint({ name: 'plain', baseUrl: url });
    const r = await engine.start('sample', { modelId: 'openai:plain/m', prompt: 'judge', lang: 'eng', sampling: greedy, mode: 'chat', jsonSchema: { type: 'object', properties: { verdict: { enum: ['[[A>B]]', '[[B>A]]'] } }, required: ['verdict'] } }).result();
    expect(bodies).toHaveLength(2);
    expect(bodies[0].response_format).toMatchObject({ type: 'json_schema', json_schema: { schema: { required: ['verdict'] } } });
    expect(bodies[1].response_format).toBeUndefined();
    expect(r).toMatchObject({ text: 'My final verdict is: [[B>A]]', constrained: false, backend: 'openai' });
    await engine.disconnectEndpoint('plain');
  });

  it('refuses bad settings and forgets a server on request', async () => {
    await expect(engine.connectEndpoint({ name: 'x y', baseUrl: 'http://a' })).rejects.toThrow(/endpoint name/);
    await expect(engine.connectEndpoint({ name: 'x', baseUrl: 'not a url' })).rejects.toThrow(/is not a URL/);
    expect(await engine.disconnectEndpoint('rt')).toBe(true);
    expect(await engine.disconnectEndpoint('rt')).toBe(false);
    await expect(engine.start('sample', { modelId: 'openai:rt/gguf:romance', prompt, lang: 'fra', sampling: greedy }).result()).rejects.toThrow(/unknown teacher 'openai:rt\/gguf:romance'/);
  });
});
