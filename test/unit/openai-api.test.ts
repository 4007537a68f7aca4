// The runtime's OpenAI-compatible API, driven by the official `openai` client against a real
// `serve` on 127.0.0.1 with one of our models (the zoo) and a GGUF teacher behind llama.cpp.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRuntime, type Runtime } from '../../src/runtime/server.ts';
import { LlamaTeachers } from '../../src/runtime/llamaTeachers.ts';
import { modelToGguf } from '../../src/model/ggufExport.ts';
import { loadFolder } from './oracle/llamacpp.ts';

const OURS = 'builtin:teacher-romance';
const GGUF = 'gguf:romance';
const prompt = 'Article 23. Toute personne a droit au travail,';
let runtime: Runtime;
let client: OpenAI;

// Our extensions ride along in the body (the client passes unknown fields through).
type Ext = { lang?: string; top_k?: number; min_tokens?: number };
const completion = (body: OpenAI.CompletionCreateParamsNonStreaming & Ext) => client.completions.create(body);

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'aya-openai-'));
  const m = await loadFolder('public/models/teacher-romance', 'teacher-romance');
  writeFileSync(join(dir, 'romance.gguf'), modelToGguf(m.folder, m.tok, { dtype: 'f32', name: 'teacher-romance' }));
  runtime = await startRuntime({ port: 0, roots: [mkdtempSync(join(tmpdir(), 'aya-lib-'))], zooDir: 'public/models', appDir: null, teachers: [await LlamaTeachers.open([join(dir, 'romance.gguf')], { gpu: false })] });
  client = new OpenAI({ baseURL: `http://127.0.0.1:${runtime.port}/v1`, apiKey: runtime.token, maxRetries: 0, timeout: 60_000 });
}, 60_000);

afterAll(async () => {
  await runtime?.close();
});

describe('OpenAI-compatible API of serve', () => {
  it('lists our models and the GGUF teachers', async () => {
    const ids: string[] = [];
    for await (const m of client.models.list()) ids.push(m.id);
    expect(ids).toContain(OURS);
    expect(ids).toContain(GGUF);
  });

  it('a greedy completion is the engine\'s, from our model and from its GGUF export alike', async () => {
    const ours = await completion({ model: OURS, prompt, max_tokens: 16, temperature: 0, lang: 'fra' });
    const engine = await runtime.engine.start('sample', { modelId: OURS, prompt, lang: 'fra', sampling: { temperature: 0, topK: 0, topP: 1, maxNewTokens: 16, minNewTokens: 0, seed: 1 } }).result();
    expect(ours.choices[0].text).toBe(engine.text);
    expect(ours.choices[0].finish_reason).toBe(engine.stopReason === 'eos' ? 'stop' : 'length');
    expect(ours.usage).toEqual({ prompt_tokens: engine.promptIds.length, completion_tokens: engine.tokens, total_tokens: engine.promptIds.length + engine.tokens });
    const gguf = await completion({ model: GGUF, prompt, max_tokens: 16, temperature: 0, lang: 'fra' });
    expect(gguf.choices[0].text).toBe(engine.text);
  }, 60_000);

  it('streams over SSE the same text, seeded', async () => {
    const body = { model: OURS, prompt, max_tokens: 12, temperature: 0.9, top_p: 0.95, seed: 7, lang: 'fra' };
    const whole = await completion(body);
    const stream = await client.completions.create({ ...body, stream: true } as OpenAI.CompletionCreateParamsStreaming);
    let text = '';
    let chunks = 0;
    let finish: string | null = null;
    for await (const c of stream) {
      text += c.choices[0]?.text ?? '';
      chunks++;
      finish = c.choices[0]?.finish_reason ?? finish;
    }
    expect(text).toBe(whole.choices[0].text);
    expect(chunks).toBeGreaterThan(2);
    expect(finish).toBe(whole.choices[0].finish_reason);
  }, 60_000);

  it('stop sequences cut the text (streamed or not) and finish with "stop"', async () => {
    const full = (await completion({ model: OURS, prompt, max_tokens: 24, temperature: 0, lang: 'fra' })).choices[0].text;
    const word = full.trim().split(/\s+/)[2];
    const at = full.indexOf(word);
    const cut = await completion({ model: OURS, prompt, max_tokens: 24, temperature: 0, lang: 'fra', stop: [word] });
    expect(cut.choices[0].text).toBe(full.slice(0, at));
    expect(cut.choices[0].finish_reason).toBe('stop');
    let streamed = '';
    const stream = await client.completions.create({ model: OURS, prompt, max_tokens: 24, temperature: 0, lang: 'fra', stop: word, stream: true } as OpenAI.CompletionCreateParamsStreaming);
    for await (const c of stream) streamed += c.choices[0]?.text ?? '';
    expect(streamed).toBe(full.slice(0, at));
  }, 60_000);

  it('logprobs: the greedy token is the top alternative, for our model and the GGUF teacher', async () => {
    for (const model of [OURS, GGUF]) {
      const r = await completion({ model, prompt, max_tokens: 6, temperature: 0, lang: 'fra', logprobs: 3 });
      const lp = r.choices[0].logprobs!;
      expect(lp.tokens!.join('')).toBe(r.choices[0].text);
      expect(lp.token_logprobs!.length).toBe(6);
      for (let i = 0; i < 6; i++) {
        const top = Object.values(lp.top_logprobs![i]);
        expect(top.length, model).toBe(3);
        expect(lp.token_logprobs![i]).toBeCloseTo(Math.max(...top), 5);
        expect(lp.token_logprobs![i]).toBeLessThan(0);
      }
    }
  }, 60_000);

  it('refuses clearly: chat on a base model, an unknown model, bad parameters, a wrong token', async () => {
    await expect(client.chat.completions.create({ model: OURS, messages: [{ role: 'user', content: 'Bonjour' }] })).rejects.toThrow(/base model without a chat template: use \/v1\/completions/);
    await expect(completion({ model: 'builtin:nope', prompt: 'a' })).rejects.toThrow(/does not exist on this runtime/);
    await expect(completion({ model: OURS, prompt: 'a', temperature: 7 })).rejects.toThrow(/temperature must be from 0 to 2, got 7/);
    await expect(completion({ model: OURS, prompt: 'a', lang: 'xx' })).rejects.toThrow(/lang must be one of/);
    const stranger = new OpenAI({ baseURL: `http://127.0.0.1:${runtime.port}/v1`, apiKey: 'not-the-token', maxRetries: 0 });
    await expect(stranger.models.list()).rejects.toMatchObject({ status: 401 });
  });
});
