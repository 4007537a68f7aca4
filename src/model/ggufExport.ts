// A model folder → a llama.cpp GGUF of architecture `command-r` (llama.cpp's name for Cohere's
// CohereForCausalLM: parallel attention and MLP, weight-only LayerNorm, interleaved RoPE — its
// ROPE_TYPE_NORM —, tied output, logit_scale), with our byte-level BPE as a `gpt2` tokenizer. The
// tensor bytes are the safetensors' own: a HF [out, in] row-major matrix is ggml's [in, out].

import { GgmlType, GgufType, GgufWriter } from './gguf.ts';
import type { ModelFolder } from './folder.ts';
import { f32ToF16, LITTLE_ENDIAN } from './safetensors.ts';
import type { BpeTokenizer } from '../tokenizer/bpe.ts';
import { DEFAULT_SAMPLING } from './sample.ts';

export type GgufDtype = 'f32' | 'f16';
export const GGUF_DTYPES: readonly GgufDtype[] = ['f32', 'f16'];

export const GGUF_ARCHITECTURE = 'command-r';
/** llama.cpp's name for GPT-2's pre-tokenisation regex (an unknown name fails to load). */
export const GGUF_PRE_TOKENIZER = 'gpt-2';

/** llama.cpp's token types. */
export const GgufTokenType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

/** llama_ftype: what most tensors are. */
const FILE_TYPE: Record<GgufDtype, number> = { f32: 0, f16: 1 };

/** Hugging Face tensor name → llama.cpp's. */
export function ggufTensorName(hf: string): string {
  if (hf === 'model.embed_tokens.weight') return 'token_embd.weight';
  if (hf === 'model.norm.weight') return 'output_norm.weight';
  const m = /^model\.layers\.(\d+)\.(.+)\.weight$/.exec(hf);
  const part: Record<string, string> = {
    input_layernorm: 'attn_norm',
    'self_attn.q_proj': 'attn_q',
    'self_attn.k_proj': 'attn_k',
    'self_attn.v_proj': 'attn_v',
    'self_attn.o_proj': 'attn_output',
    'mlp.gate_proj': 'ffn_gate',
    'mlp.up_proj': 'ffn_up',
    'mlp.down_proj': 'ffn_down',
  };
  if (!m || !part[m[2]]) throw new Error(`no GGUF name for tensor '${hf}'`);
  return `blk.${m[1]}.${part[m[2]]}.weight`;
}

export interface GgufExportOptions {
  dtype: GgufDtype;
  /** general.name */
  name: string;
}

/** The whole GGUF file. F16 files keep the norm vectors in F32, as llama.cpp's converter does. */
export function modelToGguf(folder: ModelFolder, tok: BpeTokenizer, opts: GgufExportOptions): Uint8Array {
  const c = folder.config;
  if (!GGUF_DTYPES.includes(opts.dtype)) throw new Error(`GGUF dtype must be one of ${GGUF_DTYPES.join(', ')}, got '${opts.dtype}'`);
  if (tok.vocabSize !== c.vocabSize) throw new Error(`the tokenizer has ${tok.vocabSize} tokens but config.json says vocab_size ${c.vocabSize}`);
  const arch = GGUF_ARCHITECTURE;
  const w = new GgufWriter();
  w.string('general.architecture', arch)
    .string('general.name', opts.name)
    .u32('general.file_type', FILE_TYPE[opts.dtype])
    .u32('general.alignment', w.alignment)
    .u32(`${arch}.vocab_size`, c.vocabSize)
    .u32(`${arch}.context_length`, c.maxPositionEmbeddings)
    .u32(`${arch}.embedding_length`, c.hiddenSize)
    .u32(`${arch}.block_count`, c.numHiddenLayers)
    .u32(`${arch}.feed_forward_length`, c.intermediateSize)
    .u32(`${arch}.attention.head_count`, c.numAttentionHeads)
    .u32(`${arch}.attention.head_count_kv`, c.numKeyValueHeads)
    .f32(`${arch}.rope.freq_base`, c.ropeTheta)
    .f32(`${arch}.attention.layer_norm_epsilon`, c.layerNormEps)
    .f32(`${arch}.logit_scale`, c.logitScale);

  const tokens: string[] = [];
  const types: number[] = [];
  for (let id = 0; id < tok.vocabSize; id++) {
    tokens.push(tok.idToToken(id));
    types.push(tok.isSpecial(id) ? GgufTokenType.CONTROL : GgufTokenType.NORMAL);
  }
  const merges = ((tok.toTokenizerJson().model as { merges: Array<[string, string]> }).merges).map(([a, b]) => `${a} ${b}`);
  w.string('tokenizer.ggml.model', 'gpt2')
    .string('tokenizer.ggml.pre', GGUF_PRE_TOKENIZER)
    .array('tokenizer.ggml.tokens', GgufType.STRING, tokens)
    .array('tokenizer.ggml.token_type', GgufType.INT32, types)
    .array('tokenizer.ggml.merges', GgufType.STRING, merges)
    .u32('tokenizer.ggml.bos_token_id', c.bosTokenId)
    .u32('tokenizer.ggml.eos_token_id', c.eosTokenId)
    .u32('tokenizer.ggml.padding_token_id', c.padTokenId)
    // A prompt is <bos><lang:xx> text (DESIGN §6): llama.cpp adds the <bos>, the caller writes the tag.
    .bool('tokenizer.ggml.add_bos_token', true)
    .bool('tokenizer.ggml.add_eos_token', false);

  for (const [hf, t] of folder.weights) {
    const dims = [...t.shape].reverse();
    if (opts.dtype === 'f16' && t.shape.length >= 2) {
      const half = new Uint16Array(t.data.length);
      for (let i = 0; i < half.length; i++) half[i] = f32ToF16(t.data[i]);
      w.tensor(ggufTensorName(hf), dims, GgmlType.F16, littleEndianBytes(half));
    } else {
      w.tensor(ggufTensorName(hf), dims, GgmlType.F32, littleEndianBytes(Float32Array.from(t.data)));
    }
  }
  return w.finish();
}

function littleEndianBytes(a: Float32Array | Uint16Array): Uint8Array {
  const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  if (LITTLE_ENDIAN) return bytes;
  const out = new Uint8Array(bytes.byteLength);
  const k = a.BYTES_PER_ELEMENT;
  for (let i = 0; i < bytes.byteLength; i += k) for (let j = 0; j < k; j++) out[i + j] = bytes[i + k - 1 - j];
  return out;
}

/** `<name>.f16.gguf` style file name from a model name. */
export function ggufFileName(name: string, dtype: GgufDtype): string {
  const base = name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'model';
  return `${base}.${dtype}.gguf`;
}

/** An Ollama Modelfile for the export, to sit beside it (`ollama create NAME -f Modelfile`). */
export function ollamaModelfile(file: string, folder: ModelFolder, tok: BpeTokenizer, name: string): string {
  const tag = tok.languages.length ? `<lang:${tok.languages[0]}>` : '';
  const ollamaName = name.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'model';
  return [
    `# Ollama Modelfile for ${name}, exported by aya-playground (llama.cpp architecture ${GGUF_ARCHITECTURE}).`,
    `#   ollama create ${ollamaName} -f Modelfile`,
    `#   ollama run ${ollamaName} "${tag}…"`,
    '# A base model, not a chat model: the prompt is raw text. Begin it with the language tag the',
    `# model knows (${tok.languages.map((l) => `<lang:${l}>`).join(' ')});`,
    '# <bos> is added by the tokenizer.',
    `FROM ./${file}`,
    'TEMPLATE """{{ .Prompt }}"""',
    `PARAMETER num_ctx ${folder.config.maxPositionEmbeddings}`,
    `PARAMETER temperature ${DEFAULT_SAMPLING.temperature}`,
    `PARAMETER top_k ${DEFAULT_SAMPLING.topK}`,
    `PARAMETER top_p ${DEFAULT_SAMPLING.topP}`,
    `PARAMETER stop "${tok.idToToken(folder.config.eosTokenId)}"`,
    '',
  ].join('\n');
}
