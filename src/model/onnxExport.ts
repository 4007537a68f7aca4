// ONNX export in the transformers.js layout (`onnx/model.onnx` beside config.json, tokenizer.json,
// tokenizer_config.json, generation_config.json): a Cohere decoder with the KV-cache I/O that
// transformers.js and onnxruntime-genai-style loops expect —
//   inputs  input_ids [batch, seq] int64, attention_mask [batch, past + seq] int64,
//           position_ids [batch, seq] int64, past_key_values.N.key / .value [batch, kv_heads, past, head_dim]
//   outputs logits [batch, seq, vocab], present.N.key / .value [batch, kv_heads, past + seq, head_dim]
// (a zero-length past on the first step). Built from standard ONNX ops (opset 17: LayerNormalization)
// and encoded with onnx-proto's protobuf schema. The graph computes what src/model/cpu.ts computes:
// LayerNorm without bias, parallel attention + SwiGLU MLP from the same normalised input, Cohere's
// interleaved RoPE from float64 cos/sin tables (the engine's own), grouped-query attention, tied
// output embedding times logit_scale.
import * as onnxModule from 'onnx-proto';
import type { onnx as P } from 'onnx-proto';
import type { HostTensor } from '../gpu/host.ts';
import { ropeTableCpu } from '../ops/rope.ts';
import { headDim, toHfConfig, type ModelConfig } from './config.ts';
import { encodeJson, type ModelFiles, type ModelFolder } from './folder.ts';
import { LITTLE_ENDIAN } from './safetensors.ts';

/** onnx-proto's protobuf classes. It is CommonJS: Node's ESM loader sees only its default export, a bundler its names too. */
export const onnx: typeof P = (onnxModule as { onnx?: typeof P }).onnx ?? (onnxModule as unknown as { default: { onnx: typeof P } }).default.onnx;

export const ONNX_OPSET = 17;
export const ONNX_MODEL_FILE = 'onnx/model.onnx';
/** protobuf's limit for one message: larger models need external data, which this exporter does not write. */
const PROTOBUF_LIMIT = 2 ** 31 - 1;

const F32 = onnx.TensorProto.DataType.FLOAT;
const I64 = onnx.TensorProto.DataType.INT64;

/** An attribute: an integer, a float ({ f }), integers, or a string. */
type Attr = number | { f: number } | number[] | string;

/** A small graph builder: named values, nodes in order, initializers. */
class Graph {
  readonly nodes: P.INodeProto[] = [];
  readonly initializers: P.ITensorProto[] = [];
  private n = 0;

  private fresh(hint: string): string {
    return `${hint}_${this.n++}`;
  }

  /** A float32 initializer (raw little-endian bytes). */
  weight(name: string, dims: number[], data: Float32Array): string {
    if (!LITTLE_ENDIAN) throw new Error('ONNX export needs a little-endian machine');
    this.initializers.push({ name, dims, dataType: F32, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
    return name;
  }

  ints(values: number[], hint = 'const'): string {
    const name = this.fresh(hint);
    const raw = new BigInt64Array(values.map((v) => BigInt(v)));
    this.initializers.push({ name, dims: [values.length], dataType: I64, rawData: new Uint8Array(raw.buffer) });
    return name;
  }

  scalar(value: number, hint = 'scalar'): string {
    const name = this.fresh(hint);
    this.initializers.push({ name, dims: [], dataType: F32, rawData: new Uint8Array(new Float32Array([value]).buffer) });
    return name;
  }

  op(opType: string, inputs: string[], attrs: Record<string, Attr> = {}, outputs: string[] | number = 1): string[] {
    const outs = typeof outputs === 'number' ? Array.from({ length: outputs }, () => this.fresh(opType)) : outputs;
    const attribute = Object.entries(attrs).map(([name, v]): P.IAttributeProto => {
      if (typeof v === 'string') return { name, type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode(v) };
      if (Array.isArray(v)) return { name, type: onnx.AttributeProto.AttributeType.INTS, ints: v };
      if (typeof v === 'object') return { name, type: onnx.AttributeProto.AttributeType.FLOAT, f: v.f };
      if (!Number.isInteger(v)) throw new Error(`ONNX export: attribute ${name} = ${v} is not an integer (floats go as { f })`);
      return { name, type: onnx.AttributeProto.AttributeType.INT, i: v };
    });
    this.nodes.push({ opType, input: inputs, output: outs, name: this.fresh(`${opType}_node`), attribute });
    return outs;
  }

  one(opType: string, inputs: string[], attrs: Record<string, Attr> = {}, output?: string): string {
    return this.op(opType, inputs, attrs, output ? [output] : 1)[0];
  }
}

function tensorOf(weights: Map<string, HostTensor>, name: string): HostTensor {
  const t = weights.get(name);
  if (!t) throw new Error(`ONNX export: missing weight ${name}`);
  return t;
}

/** [rows, cols] → [cols, rows], so the graph multiplies x · Wᵀ with one MatMul. */
function transposed(t: HostTensor): Float32Array {
  const [rows, cols] = t.shape;
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = t.data[r * cols + c];
  return out;
}

const valueInfo = (name: string, elemType: number, dims: Array<number | string>): P.IValueInfoProto => ({
  name,
  type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
});

/** The decoder graph of `folder` as an ONNX ModelProto. */
export function buildOnnxModel(folder: ModelFolder, name: string): P.IModelProto {
  const c = folder.config;
  const hd = headDim(c);
  const half = hd / 2;
  const nh = c.numAttentionHeads;
  const kvh = c.numKeyValueHeads;
  const groups = nh / kvh;
  const g = new Graph();
  const W = (n: string) => tensorOf(folder.weights, n);

  // Positions → cos/sin rows of the engine's own float64-computed tables: [batch, seq, 1, half].
  const table = ropeTableCpu(c.maxPositionEmbeddings, hd, c.ropeTheta);
  const cosTable = g.weight('rope.cos', [c.maxPositionEmbeddings, half], table.cos.data as Float32Array);
  const sinTable = g.weight('rope.sin', [c.maxPositionEmbeddings, half], table.sin.data as Float32Array);
  const axis2 = g.ints([2], 'axes');
  const cos = g.one('Unsqueeze', [g.one('Gather', [cosTable, 'position_ids'], { axis: 0 }), axis2]);
  const sin = g.one('Unsqueeze', [g.one('Gather', [sinTable, 'position_ids'], { axis: 0 }), axis2]);

  // Interleaved RoPE on x [batch, seq, heads, head_dim]: pairs (x[2j], x[2j+1]).
  const pairsShape = g.ints([0, 0, 0, half, 2], 'shape');
  const headShape = g.ints([0, 0, 0, hd], 'shape');
  const lastAxis = g.ints([-1], 'axes');
  const rope = (x: string): string => {
    const pairs = g.one('Reshape', [x, pairsShape]);
    const [e, o] = g.op('Split', [pairs, g.ints([1, 1], 'split')], { axis: -1 }, 2);
    const x0 = g.one('Squeeze', [e, lastAxis]);
    const x1 = g.one('Squeeze', [o, lastAxis]);
    const r0 = g.one('Sub', [g.one('Mul', [x0, cos]), g.one('Mul', [x1, sin])]);
    const r1 = g.one('Add', [g.one('Mul', [x1, cos]), g.one('Mul', [x0, sin])]);
    const both = g.one('Concat', [g.one('Unsqueeze', [r0, lastAxis]), g.one('Unsqueeze', [r1, lastAxis])], { axis: -1 });
    return g.one('Reshape', [both, headShape]);
  };

  // The attention mask: query i (absolute position past + i) sees key j when j ≤ past + i and the
  // key is not padding. [batch, 1, 1, seq, total] for scores laid out [batch, kv_heads, groups, seq, total].
  const total = g.one('Gather', [g.one('Shape', ['attention_mask']), g.ints([1], 'idx')], { axis: 0 }); // [1]
  const seq = g.one('Gather', [g.one('Shape', ['input_ids']), g.ints([1], 'idx')], { axis: 0 });
  const past = g.one('Sub', [total, seq]);
  const zero = g.ints([0], 'zero');
  const oneStep = g.ints([1], 'one');
  const squeeze0 = g.ints([0], 'axes');
  const kpos = g.one('Range', [g.one('Squeeze', [zero, squeeze0]), g.one('Squeeze', [total, squeeze0]), g.one('Squeeze', [oneStep, squeeze0])]); // [total]
  const qpos = g.one('Range', [g.one('Squeeze', [past, squeeze0]), g.one('Squeeze', [total, squeeze0]), g.one('Squeeze', [oneStep, squeeze0])]); // [seq]
  const causal = g.one('LessOrEqual', [g.one('Unsqueeze', [kpos, squeeze0]), g.one('Unsqueeze', [qpos, g.ints([1], 'axes')])]); // [seq, total]
  const keep = g.one('Cast', ['attention_mask'], { to: onnx.TensorProto.DataType.BOOL });
  const keep5 = g.one('Unsqueeze', [keep, g.ints([1, 2, 3], 'axes')]); // [batch, 1, 1, 1, total]
  const allowed = g.one('And', [keep5, causal]); // [batch, 1, 1, seq, total]
  const minusBig = g.scalar(-3.4028234663852886e38, 'masked');
  const scale = g.scalar(1 / Math.sqrt(hd), 'attn_scale');

  let x = g.one('Gather', [g.weight('model.embed_tokens.weight', [c.vocabSize, c.hiddenSize], W('model.embed_tokens.weight').data as Float32Array), 'input_ids'], { axis: 0 });
  for (let l = 0; l < c.numHiddenLayers; l++) {
    const p = `model.layers.${l}`;
    const h = g.one('LayerNormalization', [x, g.weight(`${p}.input_layernorm.weight`, [c.hiddenSize], W(`${p}.input_layernorm.weight`).data as Float32Array)], { axis: -1, epsilon: { f: c.layerNormEps } });
    const proj = (n: string) => {
      const t = W(`${p}.${n}.weight`);
      return g.one('MatMul', [h, g.weight(`${p}.${n}.weight_T`, [t.shape[1], t.shape[0]], transposed(t))]);
    };
    const q = rope(g.one('Reshape', [proj('self_attn.q_proj'), g.ints([0, 0, nh, hd], 'shape')])); // [B, S, nh, hd]
    const k = rope(g.one('Reshape', [proj('self_attn.k_proj'), g.ints([0, 0, kvh, hd], 'shape')])); // [B, S, kvh, hd]
    const v = g.one('Reshape', [proj('self_attn.v_proj'), g.ints([0, 0, kvh, hd], 'shape')]);
    const present = (name: 'key' | 'value', t: string) => g.one('Concat', [`past_key_values.${l}.${name}`, g.one('Transpose', [t], { perm: [0, 2, 1, 3] })], { axis: 2 }, `present.${l}.${name}`);
    const kAll = present('key', k); // [B, kvh, total, hd]
    const vAll = present('value', v);
    // Grouped-query attention by broadcasting: q as [B, kvh, groups, S, hd] against k as [B, kvh, 1, total, hd].
    const q5 = g.one('Transpose', [g.one('Reshape', [q, g.ints([0, 0, kvh, groups, hd], 'shape')])], { perm: [0, 2, 3, 1, 4] });
    const kT = g.one('Unsqueeze', [g.one('Transpose', [kAll], { perm: [0, 1, 3, 2] }), axis2]); // [B, kvh, 1, hd, total]
    const scores = g.one('Mul', [g.one('MatMul', [q5, kT]), scale]);
    const probs = g.one('Softmax', [g.one('Where', [allowed, scores, minusBig])], { axis: -1 });
    const ctx = g.one('MatMul', [probs, g.one('Unsqueeze', [vAll, axis2])]); // [B, kvh, groups, S, hd]
    const merged = g.one('Reshape', [g.one('Transpose', [ctx], { perm: [0, 3, 1, 2, 4] }), g.ints([0, 0, nh * hd], 'shape')]);
    const o = g.one('MatMul', [merged, g.weight(`${p}.self_attn.o_proj.weight_T`, [nh * hd, c.hiddenSize], transposed(W(`${p}.self_attn.o_proj.weight`)))]);
    const gate = proj('mlp.gate_proj');
    const act = g.one('Mul', [g.one('Mul', [gate, g.one('Sigmoid', [gate])]), proj('mlp.up_proj')]);
    const down = W(`${p}.mlp.down_proj.weight`);
    const m = g.one('MatMul', [act, g.weight(`${p}.mlp.down_proj.weight_T`, [down.shape[1], down.shape[0]], transposed(down))]);
    x = g.one('Add', [g.one('Add', [x, o]), m]);
  }
  const xn = g.one('LayerNormalization', [x, g.weight('model.norm.weight', [c.hiddenSize], W('model.norm.weight').data as Float32Array)], { axis: -1, epsilon: { f: c.layerNormEps } });
  // Tied output: the embedding, transposed once (ORT folds the Transpose of an initializer at load).
  const logits = g.one('Mul', [g.one('MatMul', [xn, g.one('Transpose', ['model.embed_tokens.weight'], { perm: [1, 0] })]), g.scalar(c.logitScale, 'logit_scale')], {}, 'logits');
  void logits;

  const kv = (prefix: string, seqDim: string) =>
    Array.from({ length: c.numHiddenLayers }, (_, l) => (['key', 'value'] as const).map((n) => valueInfo(`${prefix}.${l}.${n}`, F32, ['batch_size', kvh, seqDim, hd]))).flat();
  return {
    irVersion: 8,
    producerName: 'aya-playground',
    modelVersion: 1,
    docString: `${name}: Cohere decoder (CohereForCausalLM) exported by aya-playground with a KV cache`,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    graph: {
      name,
      node: g.nodes,
      initializer: g.initializers,
      input: [
        valueInfo('input_ids', I64, ['batch_size', 'sequence_length']),
        valueInfo('attention_mask', I64, ['batch_size', 'total_sequence_length']),
        valueInfo('position_ids', I64, ['batch_size', 'sequence_length']),
        ...kv('past_key_values', 'past_sequence_length'),
      ],
      output: [valueInfo('logits', F32, ['batch_size', 'sequence_length', c.vocabSize]), ...kv('present', 'total_sequence_length')],
    },
  };
}

/** model.onnx's bytes. */
export function modelToOnnx(folder: ModelFolder, name: string): Uint8Array {
  const bytes = folder.weights.size ? [...folder.weights.values()].reduce((s, t) => s + t.data.length * 4, 0) : 0;
  if (bytes * 1.05 > PROTOBUF_LIMIT) throw new Error(`ONNX export: ${name}'s weights (${(bytes / 2 ** 30).toFixed(2)} GiB) exceed protobuf's 2 GiB limit for one file; external data is not written by this exporter`);
  return onnx.ModelProto.encode(onnx.ModelProto.create(buildOnnxModel(folder, name))).finish();
}

/** generation_config.json as transformers writes it. */
export function generationConfig(c: ModelConfig): Record<string, unknown> {
  return { bos_token_id: c.bosTokenId, eos_token_id: c.eosTokenId, pad_token_id: c.padTokenId, max_length: c.maxPositionEmbeddings, do_sample: true, temperature: 0.8, top_k: 40, top_p: 0.95 };
}

/** The transformers.js folder: onnx/model.onnx, config.json, the tokenizer files, generation_config.json. */
export function onnxFolderFiles(folder: ModelFolder, name: string): ModelFiles {
  if (!folder.tokenizerJson || !folder.tokenizerConfigJson) throw new Error(`ONNX export: ${name} has no tokenizer.json and tokenizer_config.json (transformers.js needs both)`);
  const files: ModelFiles = new Map();
  files.set(ONNX_MODEL_FILE, modelToOnnx(folder, name));
  files.set('config.json', encodeJson({ ...toHfConfig(folder.config), transformers_js_config: { dtype: 'fp32', use_external_data_format: false } }));
  files.set('tokenizer.json', encodeJson(folder.tokenizerJson));
  files.set('tokenizer_config.json', encodeJson(folder.tokenizerConfigJson));
  files.set('generation_config.json', encodeJson(generationConfig(folder.config)));
  return files;
}
