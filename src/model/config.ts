// The model's configuration, mirroring Hugging Face's CohereConfig (config.json of CohereForCausalLM).

export interface ModelConfig {
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  numKeyValueHeads: number;
  maxPositionEmbeddings: number;
  ropeTheta: number;
  layerNormEps: number;
  logitScale: number;
  bosTokenId: number;
  eosTokenId: number;
  padTokenId: number;
}

export function headDim(c: ModelConfig): number {
  return c.hiddenSize / c.numAttentionHeads;
}

const MAX_DIMS: Record<string, number> = {
  vocabSize: 1 << 21,
  hiddenSize: 1 << 16,
  intermediateSize: 1 << 18,
  numHiddenLayers: 1024,
  numAttentionHeads: 1024,
  numKeyValueHeads: 1024,
  maxPositionEmbeddings: 1 << 24,
};

/** Checks the invariants the kernels rely on; throws a message naming the offending field. */
export function validateConfig(c: ModelConfig): ModelConfig {
  const ints: Array<keyof ModelConfig> = [
    'vocabSize',
    'hiddenSize',
    'intermediateSize',
    'numHiddenLayers',
    'numAttentionHeads',
    'numKeyValueHeads',
    'maxPositionEmbeddings',
  ];
  for (const k of ints) {
    if (!Number.isInteger(c[k]) || c[k] <= 0) throw new Error(`config: ${k} must be a positive integer, got ${c[k]}`);
    // Far beyond any real checkpoint (Aya Expanse 32B: 40 layers, hidden 8192, 256k vocabulary);
    // a corrupt value must be refused, not looped over.
    if (c[k] > MAX_DIMS[k]) throw new Error(`config: ${k} ${c[k]} is larger than the playground supports (${MAX_DIMS[k]})`);
  }
  if (c.hiddenSize % c.numAttentionHeads !== 0) {
    throw new Error(`config: hidden_size ${c.hiddenSize} is not divisible by num_attention_heads ${c.numAttentionHeads}`);
  }
  if (headDim(c) % 2 !== 0) throw new Error(`config: head_dim ${headDim(c)} must be even for rotary embeddings`);
  if (c.numAttentionHeads % c.numKeyValueHeads !== 0) {
    throw new Error(`config: num_attention_heads ${c.numAttentionHeads} is not a multiple of num_key_value_heads ${c.numKeyValueHeads}`);
  }
  for (const k of ['ropeTheta', 'layerNormEps', 'logitScale'] as const) {
    if (!Number.isFinite(c[k]) || c[k] <= 0) throw new Error(`config: ${k} must be a positive number, got ${c[k]}`);
  }
  for (const k of ['bosTokenId', 'eosTokenId', 'padTokenId'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 0 || c[k] >= c.vocabSize) throw new Error(`config: ${k} ${c[k]} is outside the vocabulary`);
  }
  return c;
}

/** config.json as transformers writes it for CohereForCausalLM. */
export function toHfConfig(c: ModelConfig): Record<string, unknown> {
  return {
    architectures: ['CohereForCausalLM'],
    model_type: 'cohere',
    vocab_size: c.vocabSize,
    hidden_size: c.hiddenSize,
    intermediate_size: c.intermediateSize,
    num_hidden_layers: c.numHiddenLayers,
    num_attention_heads: c.numAttentionHeads,
    num_key_value_heads: c.numKeyValueHeads,
    max_position_embeddings: c.maxPositionEmbeddings,
    rope_theta: c.ropeTheta,
    layer_norm_eps: c.layerNormEps,
    logit_scale: c.logitScale,
    tie_word_embeddings: true,
    use_qk_norm: false,
    attention_bias: false,
    attention_dropout: 0.0,
    hidden_act: 'silu',
    initializer_range: 0.02,
    bos_token_id: c.bosTokenId,
    eos_token_id: c.eosTokenId,
    pad_token_id: c.padTokenId,
    torch_dtype: 'float32',
    use_cache: true,
  };
}

/** Reads config.json; rejects what this engine cannot run (with the reason). */
export function fromHfConfig(json: unknown, file = 'config.json'): ModelConfig {
  if (!json || typeof json !== 'object') throw new Error(`${file}: not a JSON object`);
  const j = json as Record<string, unknown>;
  if (j.model_type !== undefined && j.model_type !== 'cohere') {
    throw new Error(`${file}: model_type ${JSON.stringify(j.model_type)?.slice(0, 60)} is not supported (expected 'cohere', CohereForCausalLM)`);
  }
  if (j.use_qk_norm === true) throw new Error(`${file}: use_qk_norm=true (Command R+ style) is not supported`);
  if (j.attention_bias === true) throw new Error(`${file}: attention_bias=true is not supported`);
  if (j.tie_word_embeddings === false) throw new Error(`${file}: untied embeddings are not supported`);
  if (j.hidden_act !== undefined && j.hidden_act !== 'silu') throw new Error(`${file}: hidden_act ${JSON.stringify(j.hidden_act)?.slice(0, 60)} is not supported`);
  const num = (k: string, dflt?: number): number => {
    const v = j[k] ?? dflt;
    if (typeof v !== 'number') throw new Error(`${file}: '${k}' is missing or not a number`);
    return v;
  };
  const heads = num('num_attention_heads');
  const firstId = (k: string, dflt: number): number => {
    const v = j[k];
    if (Array.isArray(v)) return Number(v[0]);
    return typeof v === 'number' ? v : dflt;
  };
  const c = fields();
  try {
    return validateConfig(c);
  } catch (e) {
    // Said in config.json's own words: the file, and its snake_case field names.
    throw new Error(`${file}: ${(e as Error).message.replace(/^config: /, '').replace(/\b[a-z]+(?:[A-Z][a-z]+)+\b/g, (k) => HF_NAMES[k] ?? k)}`);
  }
  function fields(): ModelConfig {
    return {
      vocabSize: num('vocab_size'),
      hiddenSize: num('hidden_size'),
      intermediateSize: num('intermediate_size'),
      numHiddenLayers: num('num_hidden_layers'),
      numAttentionHeads: heads,
      numKeyValueHeads: num('num_key_value_heads', heads),
      maxPositionEmbeddings: num('max_position_embeddings'),
      ropeTheta: num('rope_theta', 10000),
      layerNormEps: num('layer_norm_eps', 1e-5),
      logitScale: num('logit_scale', 1),
      bosTokenId: firstId('bos_token_id', 1),
      eosTokenId: firstId('eos_token_id', 2),
      padTokenId: firstId('pad_token_id', 0),
    };
  }
}

const HF_NAMES: Record<string, string> = {
  vocabSize: 'vocab_size',
  hiddenSize: 'hidden_size',
  intermediateSize: 'intermediate_size',
  numHiddenLayers: 'num_hidden_layers',
  numAttentionHeads: 'num_attention_heads',
  numKeyValueHeads: 'num_key_value_heads',
  maxPositionEmbeddings: 'max_position_embeddings',
  ropeTheta: 'rope_theta',
  layerNormEps: 'layer_norm_eps',
  logitScale: 'logit_scale',
  bosTokenId: 'bos_token_id',
  eosTokenId: 'eos_token_id',
  padTokenId: 'pad_token_id',
};

/** HF tensor names and shapes ([out, in] for projections), in a stable order. */
export function parameterShapes(c: ModelConfig): Array<{ name: string; shape: number[] }> {
  const hd = headDim(c);
  const out: Array<{ name: string; shape: number[] }> = [{ name: 'model.embed_tokens.weight', shape: [c.vocabSize, c.hiddenSize] }];
  for (let i = 0; i < c.numHiddenLayers; i++) {
    const p = `model.layers.${i}`;
    out.push(
      { name: `${p}.input_layernorm.weight`, shape: [c.hiddenSize] },
      { name: `${p}.self_attn.q_proj.weight`, shape: [c.numAttentionHeads * hd, c.hiddenSize] },
      { name: `${p}.self_attn.k_proj.weight`, shape: [c.numKeyValueHeads * hd, c.hiddenSize] },
      { name: `${p}.self_attn.v_proj.weight`, shape: [c.numKeyValueHeads * hd, c.hiddenSize] },
      { name: `${p}.self_attn.o_proj.weight`, shape: [c.hiddenSize, c.numAttentionHeads * hd] },
      { name: `${p}.mlp.gate_proj.weight`, shape: [c.intermediateSize, c.hiddenSize] },
      { name: `${p}.mlp.up_proj.weight`, shape: [c.intermediateSize, c.hiddenSize] },
      { name: `${p}.mlp.down_proj.weight`, shape: [c.hiddenSize, c.intermediateSize] },
    );
  }
  out.push({ name: 'model.norm.weight', shape: [c.hiddenSize] });
  return out;
}

export function parameterCount(c: ModelConfig): number {
  return parameterShapes(c).reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
}
