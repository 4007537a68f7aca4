// GGUF teachers on the desktop runtime: our export of a zoo model, run by real llama.cpp
// (node-llama-cpp) behind a real `serve` WebSocket, samples like our engine — greedy gives the very
// same text — and bad files are refused by name before anything starts.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRuntime, type Runtime } from '../../src/runtime/server.ts';
import { LlamaTeachers } from '../../src/runtime/llamaTeachers.ts';
import { GgufWriter, GgmlType } from '../../src/model/gguf.ts';
import { wsClient } from './runtimeClient.ts';
import type { RemoteEngineApi } from '../../src/engine/protocol.ts';
import { loadFolder } from './oracle/llamacpp.ts';
import { modelToGguf } from '../../src/model/ggufExport.ts';

const dir = mkdtempSync(join(tmpdir(), 'aya-gguf-teachers-'));
const ZOO_MODEL = 'teacher-romance';
let runtime: Runtime;
let api: RemoteEngineApi;

const prompt = 'Article 23. Toute personne a droit au travail,';

beforeAll(async () => {
  const m = await loadFolder(`public/models/${ZOO_MODEL}`, ZOO_MODEL);
  writeFileSync(join(dir, 'romance.gguf'), modelToGguf(m.folder, m.tok, { dtype: 'f32', name: ZOO_MODEL }));
  const teachers = await LlamaTeachers.open([join(dir, 'romance.gguf')], { gpu: false });
  runtime = await startRuntime({ port: 0, roots: [mkdtempSync(join(tmpdir(), 'aya-lib-'))], zooDir: 'public/models', appDir: null, teachers: [teachers] });
  api = wsClient(runtime);
}, 60_000);

afterAll(async () => {
  api?.connection.close();
  await runtime?.close();
});

describe('GGUF teachers through serve', () => {
  it('are listed with their backend, file and what they are', async () => {
    const { teachers, errors } = await api.listTeachers();
    expect(errors).toEqual([]);
    expect(teachers).toHaveLength(1);
    expect(teachers[0]).toMatchObject({ id: 'gguf:romance', backend: 'llama.cpp', chat: false, defaultMode: 'raw', location: join(dir, 'romance.gguf') });
    expect(teachers[0].details).toMatchObject({ architecture: 'command-r', vocabulary: 4096, template: 'none (raw completion only)' });
  });

  it('greedy decoding gives exactly the text our engine gives for the same model', async () => {
    const sampling = { temperature: 0, topK: 0, topP: 1, maxNewTokens: 24, minNewTokens: 8, seed: 1 };
    const ours = await api.start('sample', { modelId: `builtin:${ZOO_MODEL}`, prompt, lang: 'fra', sampling }).result();
    const theirs = api.start('sample', { modelId: 'gguf:romance', prompt, lang: 'fra', sampling });
    const deltas: string[] = [];
    theirs.on((e) => deltas.push(e.delta));
    const r = await theirs.result();
    expect(r.backend).toBe('llama.cpp');
    expect(ours.backend).toBe('engine');
    expect(r.text).toBe(ours.text);
    expect(r.ids).toEqual(ours.ids.filter((id) => id !== 2));
    expect(deltas.join('')).toBe(r.text);
    expect(r.appliedPrompt).toBe(`<bos><lang:fra>${prompt}`);
    expect(r.tokens).toBe(r.ids.length);
  }, 60_000);

  it('seeded sampling is deterministic, honours min_new_tokens, and differs across seeds', async () => {
    const s = (seed: number) => api.start('sample', { modelId: 'gguf:romance', prompt: 'Article 23.', lang: 'fra', sampling: { temperature: 0.9, topK: 40, topP: 0.95, maxNewTokens: 20, minNewTokens: 12, seed } }).result();
    const [a, b, c] = [await s(5), await s(5), await s(6)];
    expect(b.text).toBe(a.text);
    expect(a.tokens).toBeGreaterThanOrEqual(12); // the zoo's teachers end "Article 23." at once otherwise
    expect(c.text).not.toBe(a.text);
  }, 60_000);

  it('a cancel ends with the text so far', async () => {
    const job = api.start('sample', { modelId: 'gguf:romance', prompt, lang: 'fra', sampling: { temperature: 0.8, topK: 40, topP: 0.95, maxNewTokens: 200, minNewTokens: 200, seed: 3 } });
    let n = 0;
    await new Promise<void>((res) => job.on(() => ++n === 3 && res()));
    await job.cancel();
    const o = await job.outcome;
    expect(o.status).toBe('cancelled');
    if (o.status !== 'cancelled') throw new Error('not cancelled');
    expect(o.result?.stopReason).toBe('cancelled');
    expect(o.result!.tokens).toBeGreaterThanOrEqual(3);
    expect(o.result!.tokens).toBeLessThan(200);
  }, 60_000);

  it('chat mode is refused for a model without a chat template', async () => {
    await expect(api.start('sample', { modelId: 'gguf:romance', prompt, lang: 'fra', mode: 'chat', sampling: { temperature: 0, topK: 0, topP: 1, maxNewTokens: 4, seed: 1 } }).result()).rejects.toThrow(/has no chat template: use raw mode/);
  });
});

describe('bad GGUF files are refused by name before serve starts', () => {
  const write = (name: string, bytes: Uint8Array) => {
    const p = join(dir, name);
    writeFileSync(p, bytes);
    return p;
  };
  it('not a GGUF file', async () => {
    const p = write('notes.gguf', new TextEncoder().encode('these are my notes, not a model, but long enough'));
    await expect(LlamaTeachers.open([p])).rejects.toThrow(new RegExp(`^${p.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: not a GGUF file`));
  });
  it('a truncated file', async () => {
    const m = await loadFolder(`public/models/${ZOO_MODEL}`, ZOO_MODEL);
    const full = modelToGguf(m.folder, m.tok, { dtype: 'f16', name: 'x' });
    const p = write('cut.gguf', full.subarray(0, full.byteLength - 1000));
    await expect(LlamaTeachers.open([p])).rejects.toThrow(/cut\.gguf: tensor '.*' .* runs past the end of the file .*truncated/);
  });
  it('another kind of model (a vision projector), and one without a tokenizer', async () => {
    const clip = new GgufWriter().string('general.architecture', 'clip').tensor('t', [8], GgmlType.F32, new Uint8Array(32)).finish();
    await expect(LlamaTeachers.open([write('mmproj.gguf', clip)])).rejects.toThrow(/mmproj\.gguf: architecture 'clip' is an encoder or embedding model/);
    const bare = new GgufWriter().string('general.architecture', 'llama').tensor('t', [8], GgmlType.F32, new Uint8Array(32)).finish();
    await expect(LlamaTeachers.open([write('bare.gguf', bare)])).rejects.toThrow(/bare\.gguf: no tokenizer/);
  });
  it('a missing path, and a folder without .gguf files', async () => {
    await expect(LlamaTeachers.open([join(dir, 'nope.gguf')])).rejects.toThrow(/nope\.gguf: no such file or folder/);
    await expect(LlamaTeachers.open([mkdtempSync(join(tmpdir(), 'aya-empty-'))])).rejects.toThrow(/the folder has no \.gguf files/);
  });
});
