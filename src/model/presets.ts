// Model sizes offered when creating a model (the vocabulary comes from the tokenizer).
import type { ModelConfig } from './config.ts';

export interface ModelPreset {
  id: string;
  description: string;
  config: Omit<ModelConfig, 'vocabSize' | 'bosTokenId' | 'eosTokenId' | 'padTokenId'>;
}

const common = { maxPositionEmbeddings: 256, ropeTheta: 10000, layerNormEps: 1e-5, logitScale: 1 };

export const MODEL_PRESETS: readonly ModelPreset[] = [
  {
    id: 'tiny',
    description: 'hidden 64, 2 layers, 4 heads (2 KV), MLP 256 — seconds to train a few steps on a CPU adapter',
    config: { ...common, hiddenSize: 64, intermediateSize: 256, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2 },
  },
  {
    id: 'small',
    description: 'hidden 128, 4 layers, 4 heads (2 KV), MLP 512',
    config: { ...common, hiddenSize: 128, intermediateSize: 512, numHiddenLayers: 4, numAttentionHeads: 4, numKeyValueHeads: 2 },
  },
  {
    id: 'base',
    description: 'hidden 256, 4 layers, 4 heads of 64 (2 KV), MLP 1024 — the bench\'s "model shapes"',
    config: { ...common, hiddenSize: 256, intermediateSize: 1024, numHiddenLayers: 4, numAttentionHeads: 4, numKeyValueHeads: 2 },
  },
];

export function preset(id: string): ModelPreset {
  const p = MODEL_PRESETS.find((x) => x.id === id);
  if (!p) throw new Error(`unknown model size '${id}'; choose one of: ${MODEL_PRESETS.map((x) => x.id).join(', ')}`);
  return p;
}
