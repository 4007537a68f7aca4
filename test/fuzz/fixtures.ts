// Valid inputs the doors' mutations start from, made by the project's own writers: a tiny model
// folder (single file and sharded), its GGUF and ONNX exports, TRL JSONL lines, mergekit configs.
import type { MergeConfig } from '../../src/merge/config.ts';
import { toMergekitYaml } from '../../src/merge/yaml.ts';
import type { ModelConfig } from '../../src/model/config.ts';
import { type ModelFiles, type ModelFolder, readModelFolder, writeModelFolder } from '../../src/model/folder.ts';
import { modelToGguf } from '../../src/model/ggufExport.ts';
import { initWeights } from '../../src/model/init.ts';
import { onnxFolderFiles } from '../../src/model/onnxExport.ts';
import { BpeTokenizer } from '../../src/tokenizer/bpe.ts';

const TEXTS = [
  'Tous les êtres humains naissent libres et égaux en dignité et en droits.',
  'All human beings are born free and equal in dignity and rights.',
  'Toute personne a droit à la vie, à la liberté et à la sûreté de sa personne.',
  'Everyone has the right to life, liberty and security of person.',
];

let cache: { tok: BpeTokenizer; folder: ModelFolder; files: ModelFiles; sharded: ModelFiles; gguf: Uint8Array; onnx: ModelFiles } | null = null;

/** The tiny model every folder door starts from (hidden 8, one layer, a 300-token tokenizer). */
export function tinyModel() {
  if (cache) return cache;
  const tok = BpeTokenizer.train(TEXTS, { vocabSize: 300, languages: ['fra', 'eng'] });
  const config: ModelConfig = {
    vocabSize: tok.vocabSize,
    hiddenSize: 8,
    intermediateSize: 16,
    numHiddenLayers: 1,
    numAttentionHeads: 2,
    numKeyValueHeads: 1,
    maxPositionEmbeddings: 32,
    ropeTheta: 10000,
    layerNormEps: 1e-5,
    logitScale: 0.0625,
    bosTokenId: tok.bos,
    eosTokenId: tok.eos,
    padTokenId: tok.pad,
  };
  const folder: ModelFolder = {
    config,
    weights: initWeights(config, 1, 0.02),
    tokenizerJson: tok.toTokenizerJson(),
    tokenizerConfigJson: tok.tokenizerConfigJson(),
    playground: { created_by: 'fuzz', trained: false, family: 'romance', languages: ['fra'] },
  };
  const files = writeModelFolder(folder);
  const sharded = writeModelFolder(folder, { maxShardBytes: 4000 });
  const read = readModelFolder(files, 'fuzz-model');
  cache = { tok, folder: read, files, sharded, gguf: modelToGguf(read, tok, { dtype: 'f32', name: 'fuzz' }), onnx: onnxFolderFiles(read, 'fuzz') };
  return cache;
}

export const SFT_LINES = [
  { prompt: 'Bonjour', completion: ' le monde', language: 'fra' },
  { prompt: 'Hello', completion: ' world', language: 'eng' },
];
export const PREFERENCE_LINES = [
  { prompt: 'Bonjour', chosen: ' le monde', rejected: ' world', language: 'fra' },
  { prompt: 'Hello', chosen: ' world', rejected: ' monde' },
];
export const PROMPT_LINES = [
  { prompt: 'Toute personne a droit au travail,', language: 'fra', reference: 'au libre choix de son travail.' },
  { question_id: 'q6', prompt: 'Каждый человек имеет право на образование', language: 'rus' },
  { question_id: '1a2b', category: 'arena-hard-v0.1', cluster: 'x', turns: [{ content: 'Write a poem' }], prompt: 'Write a poem', language: 'eng' },
];

export const MERGE_CONFIGS: MergeConfig[] = [
  { method: 'linear', models: [{ model: '/m/a', parameters: { weight: 0.3 } }, { model: '/m/b', parameters: { weight: 0.7 } }], parameters: { normalize: false } },
  { method: 'ties', baseModel: 'base', models: [{ model: 'x', parameters: { weight: 1, density: [1, 0.7, 0.1] } }, { model: 'y', parameters: { weight: 0.5, density: 0.5 } }], parameters: { normalize: true, int8_mask: true } },
  { method: 'dare_ties', baseModel: 'base', models: [{ model: 'x', parameters: { weight: 1, density: [0.2, 1e-8] } }], parameters: { rescale: 'inverse_density', lambda: 1.5 }, seed: 42 },
  { method: 'slerp', baseModel: 'a', models: [{ model: 'a' }, { model: 'b' }], parameters: { t: [{ filter: 'self_attn', value: [0, 0.5, 0.3, 0.7, 1] }, { value: 0.5 }] }, layerRange: [0, 40] },
  { method: 'model_stock', baseModel: 'b', models: [{ model: 'x' }, { model: 'y' }], parameters: { filter_wise: true }, tokenizerSource: 'x' },
];
export const MERGE_YAMLS = MERGE_CONFIGS.map((c) => toMergekitYaml(c));
