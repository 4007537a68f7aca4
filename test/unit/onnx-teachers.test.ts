// ONNX teachers (issue 13, item 3) through the Engine contract: our ONNX export of a zoo model, run
// by real onnxruntime-web (WASM in Node) with Hugging Face's tokenizer and template code, samples
// what our engine samples — greedy and seeded alike — and folders that are not decoders in the
// transformers.js layout are refused by name.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.ts';
import { nodePlatform } from '../../src/cli/platform.ts';
import { encodeJson, type ModelFiles } from '../../src/model/folder.ts';
import { onnx, onnxFolderFiles } from '../../src/model/onnxExport.ts';
import { loadFolder } from './oracle/llamacpp.ts';
import { VERDICT_LABELS, VERDICT_SCHEMA } from '../../src/eval/llmJudge.ts';

const prompt = 'Article 23. Toute personne a droit au travail,';
let engine: Engine;
let files: ModelFiles;

beforeAll(async () => {
  engine = new Engine(nodePlatform);
  const m = await loadFolder('public/models/teacher-romance', 'teacher-romance');
  files = onnxFolderFiles(m.folder, m.name);
}, 60_000);

afterAll(() => engine?.dispose());

describe('ONNX teachers', () => {
  it('load with the execution provider named, and sample exactly what our engine samples (greedy and seeded)', async () => {
    const t = await engine.addOnnxTeacher({ name: 'romance-onnx', files, source: 'test' });
    expect(t).toMatchObject({ id: 'onnx:romance-onnx', backend: 'onnx', chat: false, defaultMode: 'raw', location: 'test' });
    expect(t.details).toMatchObject({ architecture: 'cohere', file: 'onnx/model.onnx', executionProvider: 'WASM (onnxruntime-web, CPU)', vocabulary: 4096 });
    expect((await engine.listTeachers()).teachers.map((x) => x.id)).toContain('onnx:romance-onnx');
    for (const sampling of [
      { temperature: 0, topK: 0, topP: 1, maxNewTokens: 20, minNewTokens: 8, seed: 1 },
      { temperature: 0.9, topK: 40, topP: 0.95, maxNewTokens: 20, minNewTokens: 8, seed: 7 },
    ]) {
      const ours = await engine.start('sample', { modelId: 'public/models/teacher-romance', prompt, lang: 'fra', sampling }).result();
      const job = engine.start('sample', { modelId: 'onnx:romance-onnx', prompt, lang: 'fra', sampling });
      const deltas: string[] = [];
      job.on((e) => deltas.push(e.delta));
      const r = await job.result();
      expect(r.backend).toBe('onnx');
      expect(r.text, JSON.stringify(sampling)).toBe(ours.text);
      expect(r.ids).toEqual(ours.ids.filter((id) => id !== 2));
      expect(deltas.join('')).toBe(r.text);
      expect(r.appliedPrompt).toBe(`<bos><lang:fra>${prompt}`);
      expect(r.promptTokens).toBe(ours.promptTokens);
    }
    // The LLM judge's constrained verdict works on ONNX teachers too.
    const verdict = await engine.start('sample', { modelId: 'onnx:romance-onnx', prompt: 'Verdict (JSON): ', lang: 'eng', sampling: { temperature: 0, topK: 0, topP: 1, maxNewTokens: 32, seed: 1 }, jsonSchema: VERDICT_SCHEMA as unknown as Record<string, unknown> }).result();
    expect(verdict.constrained).toBe(true);
    expect(VERDICT_LABELS.map((l) => JSON.stringify({ verdict: `[[${l}]]` }))).toContain(verdict.text);
    const lp = await engine.start('sample', { modelId: 'onnx:romance-onnx', prompt, lang: 'fra', sampling: { temperature: 0, topK: 0, topP: 1, maxNewTokens: 6, minNewTokens: 6, seed: 1 }, logprobs: 2 }).result();
    expect(lp.logprobs).toHaveLength(6);
    for (const x of lp.logprobs!) expect(x.top[0].logprob).toBeGreaterThanOrEqual(x.logprob - 1e-9);
  }, 120_000);

  it("a chat template in tokenizer_config.json is applied with Hugging Face's jinja, and shown", async () => {
    const config = JSON.parse(new TextDecoder().decode(files.get('tokenizer_config.json')));
    const chat = new Map(files);
    chat.set('tokenizer_config.json', encodeJson({ ...config, chat_template: "{{ bos_token }}{% for m in messages %}<lang:fra>{{ m['content'] }}{% endfor %}" }));
    const t = await engine.addOnnxTeacher({ name: 'romance-chat', files: chat });
    expect(t).toMatchObject({ chat: true, defaultMode: 'chat' });
    const r = await engine.start('sample', { modelId: 'onnx:romance-chat', prompt, lang: 'fra', mode: 'chat', sampling: { temperature: 0, topK: 0, topP: 1, maxNewTokens: 8, minNewTokens: 4, seed: 1 } }).result();
    expect(r.appliedPrompt).toBe(`<bos><lang:fra>${prompt}`);
    const raw = await engine.start('sample', { modelId: 'onnx:romance-onnx', prompt, lang: 'fra', sampling: { temperature: 0, topK: 0, topP: 1, maxNewTokens: 8, minNewTokens: 4, seed: 1 } }).result();
    expect(r.text).toBe(raw.text); // the template produced the same tokens as the raw prompt
    expect(await engine.removeOnnxTeacher('romance-chat')).toBe(true);
    expect(await engine.removeOnnxTeacher('romance-chat')).toBe(false);
  }, 60_000);

  it('refuses what is not a decoder folder, by name and reason', async () => {
    const without = (name: string) => new Map([...files].filter(([k]) => k !== name));
    await expect(engine.addOnnxTeacher({ name: 'x', files: without('tokenizer.json') })).rejects.toThrow(/x: no tokenizer\.json/);
    await expect(engine.addOnnxTeacher({ name: 'x', files: without('onnx/model.onnx') })).rejects.toThrow(/x: no \.onnx file/);
    const broken = new Map(files);
    broken.set('onnx/model.onnx', files.get('onnx/model.onnx')!.subarray(0, 5000));
    await expect(engine.addOnnxTeacher({ name: 'x', files: broken })).rejects.toThrow(/x\/onnx\/model\.onnx: onnxruntime could not load it/);
    // A valid ONNX graph that is not a decoder: logits = Identity(input_ids), no KV cache.
    const notDecoder = new Map(files);
    const vi = (name: string, elemType: number) => ({ name, type: { tensorType: { elemType, shape: { dim: [{ dimParam: 'b' }, { dimParam: 's' }] } } } });
    notDecoder.set(
      'onnx/model.onnx',
      onnx.ModelProto.encode({
        irVersion: 8,
        opsetImport: [{ domain: '', version: 17 }],
        graph: { name: 'g', node: [{ opType: 'Identity', input: ['input_ids'], output: ['logits'] }], input: [vi('input_ids', 7)], output: [vi('logits', 7)] },
      }).finish(),
    );
    await expect(engine.addOnnxTeacher({ name: 'x', files: notDecoder })).rejects.toThrow(/x\/onnx\/model\.onnx: not a decoder with a KV cache in the transformers\.js layout — missing attention_mask, past_key_values\.0\.key/);
    await expect(engine.addOnnxTeacher({ name: 'bad name', files })).rejects.toThrow(/ONNX teacher name/);
    await expect(engine.start('sample', { modelId: 'onnx:nothing', prompt, lang: 'fra', sampling: { temperature: 0, topK: 0, topP: 1, maxNewTokens: 2, seed: 1 } }).result()).rejects.toThrow(/unknown ONNX teacher 'onnx:nothing'/);
  }, 60_000);
});
