// A new, randomly initialised model folder of a preset size with a given tokenizer.
import type { BpeTokenizer } from '../tokenizer/bpe.ts';
import { type ModelConfig, validateConfig } from './config.ts';
import { type ModelFiles, writeModelFolder } from './folder.ts';
import { initWeights } from './init.ts';
import { preset } from './presets.ts';

export const INIT_STD = 0.02;

export function createRandomModel(
  tokenizer: BpeTokenizer,
  presetId: string,
  seed: number,
  createdBy: string,
): { config: ModelConfig; files: ModelFiles; playground: Record<string, unknown> } {
  const p = preset(presetId);
  const config = validateConfig({
    ...p.config,
    vocabSize: tokenizer.vocabSize,
    bosTokenId: tokenizer.bos,
    eosTokenId: tokenizer.eos,
    padTokenId: tokenizer.pad,
  });
  const playground = {
    created_by: createdBy,
    trained: false,
    init: { preset: presetId, seed, std: INIT_STD },
    tokenizer: 'universal byte-level BPE (23 languages)',
  };
  const files = writeModelFolder({
    config,
    weights: initWeights(config, seed, INIT_STD),
    tokenizerJson: tokenizer.toTokenizerJson(),
    tokenizerConfigJson: tokenizer.tokenizerConfigJson(),
    playground,
  });
  return { config, files, playground };
}
