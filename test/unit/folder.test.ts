import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { HostTensor } from '../../src/gpu/host.ts';
import { parameterShapes, toHfConfig, type ModelConfig } from '../../src/model/config.ts';
import { readModelFolder, writeModelFolder, type ModelFiles, type ModelFolder } from '../../src/model/folder.ts';
import { readModelDir, writeModelDir } from '../../src/model/folder.node.ts';
import { writeSafetensors } from '../../src/model/safetensors.ts';
import { Rng } from '../../src/util/rng.ts';

const CONFIG: ModelConfig = {
  vocabSize: 50,
  hiddenSize: 16,
  intermediateSize: 24,
  numHiddenLayers: 2,
  numAttentionHeads: 4,
  numKeyValueHeads: 2,
  maxPositionEmbeddings: 64,
  ropeTheta: 10000,
  layerNormEps: 1e-5,
  logitScale: 0.0625,
  bosTokenId: 1,
  eosTokenId: 2,
  padTokenId: 0,
};

function randomWeights(seed: number): Map<string, HostTensor> {
  const rng = new Rng(seed);
  const weights = new Map<string, HostTensor>();
  for (const { name, shape } of parameterShapes(CONFIG)) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = 0.02 * rng.normal();
    weights.set(name, { shape, data });
  }
  return weights;
}

function makeFolder(seed = 1): ModelFolder {
  return {
    config: CONFIG,
    weights: randomWeights(seed),
    tokenizerJson: { version: '1.0', model: { type: 'BPE', vocab: { a: 0, b: 1 }, merges: [] } },
    tokenizerConfigJson: { bos_token: '<BOS_TOKEN>', model_max_length: 64 },
    playground: { trainedBy: 'test', seed, steps: 0, parents: [] },
  };
}

function expectSameFolder(actual: ModelFolder, expected: ModelFolder): void {
  expect(actual.config).toEqual(expected.config);
  expect([...actual.weights.keys()]).toEqual(parameterShapes(expected.config).map((p) => p.name));
  for (const [name, t] of expected.weights) {
    const got = actual.weights.get(name)!;
    expect(got.shape, name).toEqual(t.shape);
    expect(got.data, name).toBeInstanceOf(Float32Array);
    expect(Buffer.from(got.data.buffer, got.data.byteOffset, got.data.byteLength).equals(Buffer.from(t.data.buffer)), name).toBe(true);
  }
  expect(actual.tokenizerJson).toEqual(expected.tokenizerJson);
  expect(actual.tokenizerConfigJson).toEqual(expected.tokenizerConfigJson);
  expect(actual.playground).toEqual(expected.playground);
}

const text = (b: Uint8Array): string => new TextDecoder().decode(b);
const json = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));

/** A single-file folder with exactly these tensors (bypassing writeModelFolder's own checks). */
function filesWith(tensors: Array<{ name: string; tensor: HostTensor }>): ModelFiles {
  return new Map([
    ['config.json', json(toHfConfig(CONFIG))],
    ['model.safetensors', writeSafetensors(tensors)],
  ]);
}

const paramList = (weights: Map<string, HostTensor>) => [...weights].map(([name, tensor]) => ({ name, tensor }));

describe('model folders', () => {
  it('round-trips through a single model.safetensors', () => {
    const folder = makeFolder(1);
    const files = writeModelFolder(folder);
    expect([...files.keys()].sort()).toEqual(['config.json', 'model.safetensors', 'playground.json', 'tokenizer.json', 'tokenizer_config.json']);
    expect(text(files.get('config.json')!)).toBe(`${JSON.stringify(toHfConfig(CONFIG), null, 2)}\n`);
    expect(text(files.get('playground.json')!)).toBe(`${JSON.stringify(folder.playground, null, 2)}\n`);
    expectSameFolder(readModelFolder(files), folder);
  });

  it('round-trips through shards and an index with total_size', () => {
    const folder = makeFolder(2);
    const maxShardBytes = 2048;
    const files = writeModelFolder(folder, { maxShardBytes });
    expect(files.has('model.safetensors')).toBe(false);
    const index = JSON.parse(text(files.get('model.safetensors.index.json')!));
    const shards = [...files.keys()].filter((n) => n.startsWith('model-')).sort();
    const n = shards.length;
    expect(n).toBeGreaterThan(2);
    expect(shards).toEqual(Array.from({ length: n }, (_, i) => `model-${String(i + 1).padStart(5, '0')}-of-${String(n).padStart(5, '0')}.safetensors`));
    const totalSize = [...folder.weights.values()].reduce((s, t) => s + 4 * t.data.length, 0);
    expect(index.metadata.total_size).toBe(totalSize);
    expect(Object.keys(index.weight_map)).toEqual(parameterShapes(CONFIG).map((p) => p.name));
    expect(new Set(Object.values(index.weight_map))).toEqual(new Set(shards));
    // Each shard stays under the limit unless one tensor alone exceeds it (the 3200-byte embedding).
    for (const shard of shards) {
      const names = Object.keys(index.weight_map).filter((k) => index.weight_map[k] === shard);
      const bytes = names.reduce((s, k) => s + 4 * folder.weights.get(k)!.data.length, 0);
      expect(bytes <= maxShardBytes || names.length === 1, shard).toBe(true);
    }
    expectSameFolder(readModelFolder(files), folder);
  });

  it('finds shards through the index, whatever they are called', () => {
    const files = writeModelFolder(makeFolder(3), { maxShardBytes: 8192 });
    const index = JSON.parse(text(files.get('model.safetensors.index.json')!));
    const renamed: ModelFiles = new Map();
    for (const [name, bytes] of files) renamed.set(name.replace(/^model-/, 'weights-part-'), bytes);
    for (const k of Object.keys(index.weight_map)) index.weight_map[k] = index.weight_map[k].replace(/^model-/, 'weights-part-');
    renamed.set('model.safetensors.index.json', json(index));
    expectSameFolder(readModelFolder(renamed), makeFolder(3));
  });

  it('rejects an index that points a tensor at the wrong shard', () => {
    const files = writeModelFolder(makeFolder(4), { maxShardBytes: 8192 });
    const index = JSON.parse(text(files.get('model.safetensors.index.json')!));
    index.weight_map['model.norm.weight'] = 'model-00001-of-00003.safetensors';
    expect(Object.values(index.weight_map)).toContain('model-00003-of-00003.safetensors');
    files.set('model.safetensors.index.json', json(index));
    expect(() => readModelFolder(files, 'm')).toThrow(
      "m/model-00001-of-00003.safetensors: tensor 'model.norm.weight' is listed in model.safetensors.index.json but not in this shard",
    );
  });

  it('rejects a missing shard', () => {
    const files = writeModelFolder(makeFolder(5), { maxShardBytes: 8192 });
    files.delete('model-00002-of-00003.safetensors');
    expect(() => readModelFolder(files, 'm')).toThrow(
      'm/model.safetensors.index.json: shard(s) missing from the folder: model-00002-of-00003.safetensors',
    );
  });

  it('rejects an index with a path in place of a shard name', () => {
    const files = writeModelFolder(makeFolder(5), { maxShardBytes: 8192 });
    files.set('model.safetensors.index.json', json({ metadata: {}, weight_map: { 'model.norm.weight': '../x.safetensors' } }));
    expect(() => readModelFolder(files, 'm')).toThrow(/m\/model\.safetensors\.index\.json: weight_map entry for 'model\.norm\.weight' is not a plain file name/);
  });

  it('reports missing, wrong-shaped and unexpected tensors together, by name', () => {
    const weights = randomWeights(6);
    weights.delete('model.layers.1.mlp.up_proj.weight');
    weights.set('model.layers.0.self_attn.k_proj.weight', { shape: [16, 16], data: new Float32Array(256) });
    weights.set('model.layers.0.self_attn.q_norm.weight', { shape: [4], data: new Float32Array(4) });
    expect(() => readModelFolder(filesWith(paramList(weights)), 'm')).toThrow(
      'm/model.safetensors: weights do not match config.json: ' +
        'missing 1 tensor(s): model.layers.1.mlp.up_proj.weight; ' +
        'wrong shape: model.layers.0.self_attn.k_proj.weight [16, 16] (expected [8, 16]); ' +
        'unexpected 1 tensor(s): model.layers.0.self_attn.q_norm.weight',
    );
  });

  it('ignores an lm_head tied to the embedding and rotary inv_freq buffers', () => {
    const weights = randomWeights(7);
    const list = [
      ...paramList(weights),
      { name: 'lm_head.weight', tensor: weights.get('model.embed_tokens.weight')! },
      { name: 'model.layers.0.self_attn.rotary_emb.inv_freq', tensor: { shape: [2], data: new Float32Array([1, 0.01]) } },
    ];
    const folder = readModelFolder(filesWith(list));
    expect(folder.weights.has('lm_head.weight')).toBe(false);
    expect(folder.weights.size).toBe(parameterShapes(CONFIG).length);
    expect(folder.tokenizerJson).toBeNull();
    expect(folder.playground).toBeNull();
  });

  it('rejects a bad or missing config.json and missing weights', () => {
    const files = writeModelFolder(makeFolder(8));
    const without = (name: string): ModelFiles => new Map([...files].filter(([k]) => k !== name));
    expect(() => readModelFolder(without('config.json'), 'm')).toThrow('m: no config.json');
    expect(() => readModelFolder(without('model.safetensors'), 'm')).toThrow('m: no model.safetensors or model.safetensors.index.json');
    const bad = (config: unknown): ModelFiles => new Map([...files, ['config.json', typeof config === 'string' ? new TextEncoder().encode(config) : json(config)]]);
    expect(() => readModelFolder(bad('{"vocab_size": 50,'), 'm')).toThrow(/^m\/config\.json: invalid JSON/);
    expect(() => readModelFolder(bad({ ...toHfConfig(CONFIG), model_type: 'llama' }), 'm')).toThrow(/^m\/config\.json: model_type "llama" is not supported/);
    expect(() => readModelFolder(bad({ ...toHfConfig(CONFIG), num_attention_heads: 3 }), 'm')).toThrow(/not divisible by num_attention_heads 3/);
    // A valid config that disagrees with the weights: every tensor of layer 2 is missing.
    expect(() => readModelFolder(bad({ ...toHfConfig(CONFIG), num_hidden_layers: 3 }), 'm')).toThrow(/^m\/model\.safetensors: weights do not match config\.json: missing 8 tensor\(s\): model\.layers\.2\./);
    expect(() => readModelFolder(new Map([...files, ['playground.json', json([1])]]), 'm')).toThrow('m/playground.json: not a JSON object');
    expect(() => readModelFolder(new Map([...files, ['tokenizer.json', new TextEncoder().encode('{')]]), 'm')).toThrow(/^m\/tokenizer\.json: invalid JSON/);
  });

  it('refuses to write weights that do not match the config', () => {
    const folder = makeFolder(9);
    folder.weights.delete('model.norm.weight');
    expect(() => writeModelFolder(folder)).toThrow(/missing 1 tensor\(s\): model\.norm\.weight/);
  });
});

describe('model directories (Node)', () => {
  const dirs: string[] = [];
  const tempDir = async (): Promise<string> => {
    const d = await mkdtemp(join(tmpdir(), 'aya-folder-test-'));
    dirs.push(d);
    return d;
  };
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('round-trips a folder on disk, single file and sharded, leaving no temp files', async () => {
    const dir = join(await tempDir(), 'nested', 'model');
    const folder = makeFolder(10);
    await writeModelDir(dir, writeModelFolder(folder, { maxShardBytes: 8192 }));
    expect((await readdir(dir)).sort()).toEqual([
      'config.json',
      'model-00001-of-00003.safetensors',
      'model-00002-of-00003.safetensors',
      'model-00003-of-00003.safetensors',
      'model.safetensors.index.json',
      'playground.json',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
    expectSameFolder(readModelFolder(await readModelDir(dir), dir), folder);

    // Re-saving as one file removes the old shards and index, which would otherwise shadow it.
    const next = makeFolder(11);
    await writeFile(join(dir, 'notes.txt'), 'kept');
    await writeModelDir(dir, writeModelFolder(next));
    expect((await readdir(dir)).sort()).toEqual(['config.json', 'model.safetensors', 'notes.txt', 'playground.json', 'tokenizer.json', 'tokenizer_config.json']);
    const files = await readModelDir(dir);
    expect(files.has('notes.txt')).toBe(false);
    expectSameFolder(readModelFolder(files, dir), next);
  });

  it('says which directory and which file is missing', async () => {
    const root = await tempDir();
    await expect(readModelDir(join(root, 'nope'))).rejects.toThrow(`no such directory: ${join(root, 'nope')}`);
    const dir = join(root, 'm');
    await writeModelDir(dir, writeModelFolder(makeFolder(12), { maxShardBytes: 8192 }));
    await rm(join(dir, 'model-00002-of-00003.safetensors'));
    await expect(readModelDir(dir)).rejects.toThrow(`shard model-00002-of-00003.safetensors named in model.safetensors.index.json is missing in ${dir}`);
    await rm(join(dir, 'model.safetensors.index.json'));
    await expect(readModelDir(dir)).rejects.toThrow(`no model.safetensors or model.safetensors.index.json in ${dir}`);
    await rm(join(dir, 'config.json'));
    await expect(readModelDir(dir)).rejects.toThrow(`no config.json in ${dir}`);
    await expect(writeModelDir(dir, new Map([['../escape.json', new Uint8Array(1)]]))).rejects.toThrow(/not a plain file name/);
  });
});
