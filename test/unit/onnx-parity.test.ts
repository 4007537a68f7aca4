// onnxruntime as an oracle (issue 13): every shipped model's ONNX export (the transformers.js
// layout, src/model/onnxExport.ts), run by onnxruntime-web's WASM backend in Node, gives our
// engine's logits within 1e-4 at every position — the whole sequence at once, through the KV cache
// one token a step, and as a left-padded row of a batch. The zoo missing is a failure, not a skip.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { gpu } from './gpu.ts';
import { heldOutTexts, loadFolder, stressModel } from './oracle/llamacpp.ts';
import { BpeTokenizer } from '../../src/tokenizer/bpe.ts';
import { onnx, ONNX_MODEL_FILE, onnxFolderFiles } from '../../src/model/onnxExport.ts';
import type { onnx as P } from 'onnx-proto';
import { measureOnnxParity, ONNX_LANGUAGES, ONNX_LOGIT_BOUND, ONNX_POSITIONS } from './oracle/onnxruntime.ts';

const ZOO = 'public/models';
const manifest = JSON.parse(readFileSync(`${ZOO}/manifest.json`, 'utf8')) as { models: Array<{ id: string }> };
const shipped = manifest.models.map((m) => m.id);
let texts: Map<string, string[]>;

describe('onnxruntime as the oracle (ONNX export → onnxruntime-web WASM)', () => {
  beforeAll(async () => {
    texts = await heldOutTexts(ONNX_LANGUAGES);
  });

  it('the zoo ships models to check', () => {
    expect(shipped.length).toBeGreaterThanOrEqual(6);
  });

  for (const id of shipped) {
    it(`${id}: logits match with and without the KV cache, and in a left-padded batch`, async () => {
      const row = await measureOnnxParity(await gpu(), await loadFolder(`${ZOO}/${id}`, id), texts);
      expect(row.positions).toBe(ONNX_POSITIONS * ONNX_LANGUAGES.length);
      expect(row.maxAbsFull).toBeLessThanOrEqual(ONNX_LOGIT_BOUND);
      expect(row.maxAbsCached).toBeLessThanOrEqual(ONNX_LOGIT_BOUND);
      expect(row.maxAbsPadded).toBeLessThanOrEqual(ONNX_LOGIT_BOUND);
      expect(row.maxAbsLogit).toBeGreaterThan(1); // not vacuous: the logits are far from zero
    }, 120_000);
  }

  it('a model off the defaults (logit_scale 0.625, rope_theta 500, eps 1e-4, norms ≠ 1) matches too, and a misreading is caught', async () => {
    const tok = BpeTokenizer.fromTokenizerJson(JSON.parse(readFileSync('public/tokenizers/universal-23/tokenizer.json', 'utf8')));
    const m = stressModel(tok);
    const row = await measureOnnxParity(await gpu(), m, texts);
    expect(row.maxAbsFull).toBeLessThanOrEqual(ONNX_LOGIT_BOUND);
    expect(row.maxAbsCached).toBeLessThanOrEqual(ONNX_LOGIT_BOUND);
    expect(row.maxAbsPadded).toBeLessThanOrEqual(ONNX_LOGIT_BOUND);
    for (const wrong of [{ logitScale: 1 }, { ropeTheta: 10000 }, { layerNormEps: 1e-2 }]) {
      const bad = await measureOnnxParity(await gpu(), m, texts, { positions: 16, oursConfig: { ...m.folder.config, ...wrong } });
      expect(bad.maxAbsFull, JSON.stringify(wrong)).toBeGreaterThan(100 * ONNX_LOGIT_BOUND);
    }
  }, 180_000);

  it('the folder is the transformers.js layout: model_type cohere, the decoder I/O by name and shape', async () => {
    const m = await loadFolder(`${ZOO}/${shipped[0]}`, shipped[0]);
    const files = onnxFolderFiles(m.folder, m.name);
    expect([...files.keys()].sort()).toEqual(['config.json', 'generation_config.json', ONNX_MODEL_FILE, 'tokenizer.json', 'tokenizer_config.json'].sort());
    const json = (f: string) => JSON.parse(new TextDecoder().decode(files.get(f)));
    expect(json('config.json')).toMatchObject({ model_type: 'cohere', architectures: ['CohereForCausalLM'], num_key_value_heads: m.folder.config.numKeyValueHeads });
    expect(json('generation_config.json')).toMatchObject({ bos_token_id: m.tok.bos, eos_token_id: m.tok.eos, pad_token_id: m.tok.pad });
    expect(json('tokenizer.json')).toEqual(m.folder.tokenizerJson);
    const model = onnx.ModelProto.decode(files.get(ONNX_MODEL_FILE)!);
    expect(model.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([['', 17]]);
    const io = (vs: P.IValueInfoProto[]) => vs.map((v) => `${v.name}:${v.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || String(d.dimValue)).join(',')}`);
    const L = m.folder.config.numHiddenLayers;
    const [kvh, hd] = [m.folder.config.numKeyValueHeads, m.folder.config.hiddenSize / m.folder.config.numAttentionHeads];
    const kv = (p: string, s: string) => Array.from({ length: L }, (_, l) => [`${p}.${l}.key:batch_size,${kvh},${s},${hd}`, `${p}.${l}.value:batch_size,${kvh},${s},${hd}`]).flat();
    expect(io(model.graph!.input!)).toEqual(['input_ids:batch_size,sequence_length', 'attention_mask:batch_size,total_sequence_length', 'position_ids:batch_size,sequence_length', ...kv('past_key_values', 'past_sequence_length')]);
    expect(io(model.graph!.output!)).toEqual([`logits:batch_size,sequence_length,${m.folder.config.vocabSize}`, ...kv('present', 'total_sequence_length')]);
  });
});
