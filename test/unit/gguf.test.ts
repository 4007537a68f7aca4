// The GGUF writer byte by byte, the reader's refusals, the model mapping, and binary16 rounding.
import { describe, expect, it } from 'vitest';
import { GgmlType, GgufNeedsMoreBytes, GgufType, GgufWriter, readGgufHeader } from '../../src/model/gguf.ts';
import { ggufFileName, ggufTensorName, modelToGguf, ollamaModelfile } from '../../src/model/ggufExport.ts';
import { readModelFolder } from '../../src/model/folder.ts';
import { readModelDir } from '../../src/model/folder.node.ts';
import { f16ToF32, f32ToF16 } from '../../src/model/safetensors.ts';
import { BpeTokenizer } from '../../src/tokenizer/bpe.ts';

/** Little-endian helpers that spell the expected bytes out by hand. */
const u32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const u64 = (v: number) => [...u32(v), 0, 0, 0, 0];
const str = (s: string) => [...u64(new TextEncoder().encode(s).length), ...new TextEncoder().encode(s)];
const f32 = (v: number) => [...new Uint8Array(new Float32Array([v]).buffer)];

describe('GGUF writer', () => {
  it('lays out header, key-values, tensor infos, padding and aligned data exactly', () => {
    const w = new GgufWriter(32);
    w.string('general.architecture', 'x').u32('x.n', 7).bool('flag', true).array('list', GgufType.INT32, [-1, 2]);
    w.tensor('a', [2], GgmlType.F32, new Uint8Array(new Float32Array([1.5, -2]).buffer));
    w.tensor('b', [1], GgmlType.F32, new Uint8Array(new Float32Array([3]).buffer));
    const got = [...w.finish()];
    const head = [
      ...[0x47, 0x47, 0x55, 0x46], // "GGUF"
      ...u32(3),
      ...u64(2), // tensors
      ...u64(4), // key-values
      ...str('general.architecture'), ...u32(8), ...str('x'),
      ...str('x.n'), ...u32(4), ...u32(7),
      ...str('flag'), ...u32(7), 1,
      ...str('list'), ...u32(9), ...u32(5), ...u64(2), ...u32(-1 >>> 0), ...u32(2),
      ...str('a'), ...u32(1), ...u64(2), ...u32(0), ...u64(0),
      ...str('b'), ...u32(1), ...u64(1), ...u32(0), ...u64(32), // 'a' is 8 bytes: 'b' starts at the next 32
    ];
    const dataStart = Math.ceil(head.length / 32) * 32;
    const expected = [...head, ...new Array(dataStart - head.length).fill(0), ...f32(1.5), ...f32(-2), ...new Array(24).fill(0), ...f32(3)];
    expect(got).toEqual(expected);
  });

  it('reads back what it wrote', () => {
    const w = new GgufWriter();
    w.string('s', 'héllo').f32('f', 0.25).u32('u', 4_000_000_000).array('t', GgufType.STRING, ['a', 'b c']);
    w.tensor('m', [3, 2], GgmlType.F16, new Uint8Array(12));
    const bytes = w.finish();
    const h = readGgufHeader(bytes, 'x.gguf');
    expect(h.version).toBe(3);
    expect(Object.fromEntries(h.metadata)).toEqual({ s: 'héllo', f: 0.25, u: 4_000_000_000, t: ['a', 'b c'] });
    expect(h.tensors).toEqual([{ name: 'm', dims: [3, 2], type: GgmlType.F16, offset: 0 }]);
    expect(h.dataStart % 32).toBe(0);
    expect(bytes.byteLength).toBe(h.dataStart + 12);
  });

  it('refuses values that do not fit their type, and tensors whose bytes do not match their dims', () => {
    expect(() => new GgufWriter().u32('k', -1).finish()).toThrow(/'k'.*-1/);
    expect(() => new GgufWriter().u32('k', 1).u32('k', 2)).toThrow(/set twice/);
    expect(() => new GgufWriter().tensor('t', [4], GgmlType.F32, new Uint8Array(8))).toThrow(/8 bytes for dims \[4\]/);
  });
});

describe('GGUF reader refusals name the file and the problem', () => {
  const good = (() => {
    const w = new GgufWriter();
    w.string('general.architecture', 'command-r');
    w.tensor('t', [8], GgmlType.F32, new Uint8Array(32));
    return w.finish();
  })();

  it('accepts the good file', () => {
    expect(readGgufHeader(good, 'ok.gguf').metadata.get('general.architecture')).toBe('command-r');
  });
  it('not GGUF at all', () => {
    expect(() => readGgufHeader(new TextEncoder().encode('{"not": "a gguf file at all"}'), 'a.gguf')).toThrow(/^a\.gguf: not a GGUF file \(its magic, bytes 0–3, is "\{\\"no"/);
  });
  it('an unsupported version', () => {
    const b = good.slice();
    b[4] = 9;
    expect(() => readGgufHeader(b, 'v.gguf')).toThrow(/^v\.gguf: GGUF version 9 is not supported/);
  });
  it('truncated in the header, and truncated in the data', () => {
    expect(() => readGgufHeader(good.subarray(0, 40), 'h.gguf')).toThrow(/^h\.gguf: the file ends inside the GGUF header/);
    expect(() => readGgufHeader(good.subarray(0, good.byteLength - 4), 'd.gguf')).toThrow(/^d\.gguf: tensor 't' \(F32 \[8\], 32 bytes at \d+\) runs past the end of the file.*truncated/);
  });
  it('a prefix of a bigger file asks for more bytes instead of failing', () => {
    expect(() => readGgufHeader(good.subarray(0, 40), 'p.gguf', good.byteLength)).toThrow(GgufNeedsMoreBytes);
    expect(readGgufHeader(good.subarray(0, 200), 'p.gguf', good.byteLength).tensors[0].name).toBe('t');
  });
  it('an unknown value type', () => {
    const b = good.slice();
    // The first key-value's type field follows its key: 4 + 4 + 8 + 8 + (8 + 20).
    new DataView(b.buffer).setUint32(52, 77, true);
    expect(() => readGgufHeader(b, 't.gguf')).toThrow(/^t\.gguf: 'general\.architecture': unknown value type 77/);
  });
});

describe('binary16 rounding', () => {
  it('every binary16 value round-trips through f16ToF32 → f32ToF16', () => {
    for (let h = 0; h < 0x10000; h++) {
      const x = f16ToF32(h);
      if (Number.isNaN(x)) expect(Number.isNaN(f16ToF32(f32ToF16(x)))).toBe(true);
      else expect(f32ToF16(x), `0x${h.toString(16)}`).toBe(h);
    }
  });
  it('rounds to nearest, ties to even, in the normal and subnormal ranges, and overflows to inf', () => {
    // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties to even (1).
    expect(f32ToF16(1 + 2 ** -11)).toBe(0x3c00);
    // 1 + 3·2^-11 is halfway between 1 + 2^-10 (odd) and 1 + 2^-9: ties to even (up).
    expect(f32ToF16(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(f32ToF16(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01);
    // Subnormals: 2^-24 is the smallest; half of it ties to 0, a bit more rounds up.
    expect(f32ToF16(2 ** -24)).toBe(0x0001);
    expect(f32ToF16(2 ** -25)).toBe(0x0000);
    expect(f32ToF16(2 ** -25 * 1.01)).toBe(0x0001);
    expect(f32ToF16(3 * 2 ** -25)).toBe(0x0002); // 1.5 units: ties to even (2)
    expect(f32ToF16(65504)).toBe(0x7bff);
    expect(f32ToF16(65520)).toBe(0x7c00); // halfway to the next (absent) value: to inf
    expect(f32ToF16(-1e6)).toBe(0xfc00);
    expect(f32ToF16(-0)).toBe(0x8000);
  });
});

describe('model folder → command-r GGUF', () => {
  it('maps every Hugging Face tensor name to llama.cpp\'s', () => {
    expect(ggufTensorName('model.embed_tokens.weight')).toBe('token_embd.weight');
    expect(ggufTensorName('model.norm.weight')).toBe('output_norm.weight');
    expect(ggufTensorName('model.layers.3.input_layernorm.weight')).toBe('blk.3.attn_norm.weight');
    expect(ggufTensorName('model.layers.0.self_attn.o_proj.weight')).toBe('blk.0.attn_output.weight');
    expect(ggufTensorName('model.layers.1.mlp.down_proj.weight')).toBe('blk.1.ffn_down.weight');
    expect(() => ggufTensorName('lm_head.weight')).toThrow(/no GGUF name/);
  });

  it('writes the keys, tokenizer and tensors llama.cpp reads, weights byte-identical to the safetensors', async () => {
    const folder = readModelFolder(await readModelDir('public/models/base-student'), 'base-student');
    const tok = BpeTokenizer.fromTokenizerJson(folder.tokenizerJson);
    const bytes = modelToGguf(folder, tok, { dtype: 'f32', name: 'base-student' });
    const h = readGgufHeader(bytes, 'base-student.gguf');
    const md = Object.fromEntries(h.metadata);
    const c = folder.config;
    expect(md).toMatchObject({
      'general.architecture': 'command-r',
      'general.file_type': 0,
      'command-r.context_length': c.maxPositionEmbeddings,
      'command-r.embedding_length': c.hiddenSize,
      'command-r.block_count': c.numHiddenLayers,
      'command-r.feed_forward_length': c.intermediateSize,
      'command-r.attention.head_count': c.numAttentionHeads,
      'command-r.attention.head_count_kv': c.numKeyValueHeads,
      'command-r.rope.freq_base': c.ropeTheta,
      'command-r.logit_scale': c.logitScale,
      'tokenizer.ggml.model': 'gpt2',
      'tokenizer.ggml.pre': 'gpt-2',
      'tokenizer.ggml.bos_token_id': c.bosTokenId,
      'tokenizer.ggml.eos_token_id': c.eosTokenId,
    });
    expect(md['command-r.attention.layer_norm_epsilon']).toBeCloseTo(c.layerNormEps, 12);
    const tokens = md['tokenizer.ggml.tokens'] as string[];
    const types = md['tokenizer.ggml.token_type'] as number[];
    expect(tokens.length).toBe(c.vocabSize);
    expect(tokens.slice(0, 4)).toEqual(['<pad>', '<bos>', '<eos>', '<lang:arb>']);
    // Specials and the 23 language tags are control tokens (3); everything else normal (1).
    expect(types.filter((t) => t === 3).length).toBe(3 + tok.languages.length);
    expect(types.filter((t) => t === 1).length).toBe(c.vocabSize - 3 - tok.languages.length);
    expect((md['tokenizer.ggml.merges'] as string[]).length).toBe(tok.mergeCount);
    expect(h.tensors.map((t) => t.name)).toContain('blk.1.ffn_gate.weight');
    expect(h.tensors.some((t) => t.name === 'output.weight')).toBe(false); // tied
    // A HF [out, in] matrix is ggml [in, out], its bytes unchanged.
    const q = h.tensors.find((t) => t.name === 'blk.0.attn_k.weight')!;
    const hf = folder.weights.get('model.layers.0.self_attn.k_proj.weight')!;
    expect(q.dims).toEqual([...hf.shape].reverse());
    const data = new Float32Array(bytes.slice(h.dataStart + q.offset, h.dataStart + q.offset + 4 * hf.data.length).buffer);
    expect(data).toEqual(Float32Array.from(hf.data));
  });

  it('F16 keeps the norm vectors in F32, halves the matrices, and names itself in the Modelfile', async () => {
    const folder = readModelFolder(await readModelDir('public/models/base-student'), 'base-student');
    const tok = BpeTokenizer.fromTokenizerJson(folder.tokenizerJson);
    const h = readGgufHeader(modelToGguf(folder, tok, { dtype: 'f16', name: 'base-student' }), 'b.gguf');
    expect(h.metadata.get('general.file_type')).toBe(1);
    for (const t of h.tensors) expect(t.type, t.name).toBe(t.dims.length === 1 ? GgmlType.F32 : GgmlType.F16);
    const file = ggufFileName('base student/β', 'f16');
    expect(file).toBe('base-student.f16.gguf');
    const mf = ollamaModelfile(file, folder, tok, 'base student');
    expect(mf).toContain(`FROM ./${file}\n`);
    expect(mf).toContain('PARAMETER stop "<eos>"');
    expect(mf).toContain(`PARAMETER num_ctx ${folder.config.maxPositionEmbeddings}`);
  });

});
