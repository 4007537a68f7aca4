import { memoryStore } from './memoryStore.ts';
// Whole-model merges: input checks (shapes, vocabularies, missing tensors), GPU vs CPU over every
// tensor, the layer schedule, the streaming folder writer (byte-identical to writeModelFolder, shards,
// atomic failure), the Engine job (progress, cancel, provenance) and the inspection data.
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { relativeError } from '../../src/gpu/host.ts';
import { type ModelConfig, parameterShapes, validateConfig } from '../../src/model/config.ts';
import { type ModelFiles, readModelFolder, writeModelFolder } from '../../src/model/folder.ts';
import { readModelDir, writeModelDir } from '../../src/model/folder.node.ts';
import { initWeights } from '../../src/model/init.ts';
import { writeSafetensors } from '../../src/model/safetensors.ts';
import type { MergeConfig } from '../../src/merge/config.ts';
import { collectingSink, mergeModels } from '../../src/merge/merge.ts';
import { mergeFolders } from '../../src/merge/merge.node.ts';
import { memorySource, type ModelSource } from '../../src/merge/source.ts';
import { parseMergekitYaml } from '../../src/merge/yaml.ts';
import { linearCpu } from '../../src/merge/methods.ts';
import { Engine } from '../../src/engine/engine.ts';
import { nodePlatform } from '../../src/cli/platform.ts';
import { gpu } from './gpu.ts';

const MICRO: ModelConfig = validateConfig({
  vocabSize: 50,
  hiddenSize: 16,
  intermediateSize: 32,
  numHiddenLayers: 3,
  numAttentionHeads: 2,
  numKeyValueHeads: 1,
  maxPositionEmbeddings: 32,
  ropeTheta: 10000,
  layerNormEps: 1e-5,
  logitScale: 1,
  bosTokenId: 1,
  eosTokenId: 2,
  padTokenId: 0,
});

const TOKENIZER = { version: '1.0', note: 'stand-in tokenizer.json: merges copy it byte for byte' };

/** A micro model whose norms are not all 1 (so their task vectors are not zero). */
function microFiles(seed: number, config: ModelConfig = MICRO, trained = true): ModelFiles {
  const weights = initWeights(config, seed, 0.5);
  for (const [name, t] of weights) if (name.endsWith('norm.weight')) for (let i = 0; i < t.data.length; i++) (t.data as Float32Array)[i] = 1 + 0.1 * Math.sin(seed * 7 + i);
  return writeModelFolder({ config, weights, tokenizerJson: { ...TOKENIZER, seed }, tokenizerConfigJson: { bos_token: '<bos>' }, playground: { trained, seed } });
}

const sourcesOf = (files: Record<string, ModelFiles>) => new Map<string, ModelSource>(Object.entries(files).map(([ref, f]) => [ref, memorySource(ref, f)]));

async function mergeInMemory(config: MergeConfig, files: Record<string, ModelFiles>, onGpu: boolean) {
  const sink = collectingSink();
  const outcome = await mergeModels(config, sourcesOf(files), sink, { ctx: onGpu ? await gpu() : null });
  return { weights: sink.weights, outcome };
}

const models = { base: microFiles(1), a: microFiles(2), b: microFiles(3), c: microFiles(4) };
const w = (f: ModelFiles, name: string) => readModelFolder(f).weights.get(name)!.data as Float32Array;

describe('whole-model merge', () => {
  const configs: Array<[string, MergeConfig]> = [
    ['linear', { method: 'linear', models: [{ model: 'a', parameters: { weight: 0.25 } }, { model: 'b', parameters: { weight: 0.75 } }] }],
    ['ties with gradients', { method: 'ties', baseModel: 'base', models: [{ model: 'a', parameters: { weight: 1, density: [1, 0.3] } }, { model: 'b', parameters: { weight: 0.5, density: 0.5 } }] }],
    ['dare_ties', { method: 'dare_ties', baseModel: 'base', models: [{ model: 'a', parameters: { weight: 0.6, density: 0.4 } }, { model: 'b', parameters: { weight: 0.4, density: 0.7 } }], seed: 5 }],
    ['slerp with filters', { method: 'slerp', baseModel: 'base', models: [{ model: 'base' }, { model: 'a' }], parameters: { t: [{ filter: 'mlp', value: [0.2, 0.8] }, { value: 0.5 }] } }],
    ['model_stock', { method: 'model_stock', baseModel: 'base', models: [{ model: 'a' }, { model: 'b' }, { model: 'c' }] }],
  ];
  for (const [label, config] of configs) {
    it(`${label}: the GPU merge matches the CPU reference on every tensor`, async () => {
      const onGpu = await mergeInMemory(config, models, true);
      const onCpu = await mergeInMemory(config, models, false);
      expect(onGpu.outcome.tensors).toBe(parameterShapes(MICRO).length);
      for (const [name, t] of onCpu.weights) expect(relativeError(onGpu.weights.get(name)!.data, t.data), name).toBeLessThan(1e-5);
      // The result is a loadable model folder.
      const folder = readModelFolder(writeModelFolder({ config: onGpu.outcome.config, weights: onGpu.weights, tokenizerJson: null, tokenizerConfigJson: null, playground: null }));
      expect(folder.config).toEqual(MICRO);
    });
  }

  it('linear with weights [1, 0] returns model a exactly', async () => {
    const { weights } = await mergeInMemory({ method: 'linear', models: [{ model: 'a', parameters: { weight: 1 } }, { model: 'b', parameters: { weight: 0 } }] }, models, true);
    for (const { name } of parameterShapes(MICRO)) expect([...weights.get(name)!.data]).toEqual([...w(models.a, name)]);
  });

  it('the layer schedule: t = [0, 1] gives the base at layer 0 and the embeddings, the other model at the last layer', async () => {
    const config: MergeConfig = { method: 'slerp', baseModel: 'base', models: [{ model: 'base' }, { model: 'a' }], parameters: { t: [0, 1] } };
    const { weights } = await mergeInMemory(config, models, false);
    const q0 = 'model.layers.0.self_attn.q_proj.weight';
    const q2 = 'model.layers.2.self_attn.q_proj.weight';
    expect([...weights.get(q0)!.data]).toEqual([...w(models.base, q0)]);
    expect([...weights.get('model.embed_tokens.weight')!.data]).toEqual([...w(models.base, 'model.embed_tokens.weight')]);
    expect([...weights.get('model.norm.weight')!.data]).toEqual([...w(models.base, 'model.norm.weight')]);
    expect(relativeError(weights.get(q2)!.data, w(models.a, q2))).toBeLessThan(1e-6);
    const q1 = 'model.layers.1.self_attn.q_proj.weight'; // t = ½: neither endpoint
    expect(relativeError(weights.get(q1)!.data, w(models.a, q1))).toBeGreaterThan(0.1);
  });

  it('rejects different vocabularies, naming the models', async () => {
    const other = microFiles(9, { ...MICRO, vocabSize: 60 });
    await expect(mergeInMemory({ method: 'linear', models: [{ model: 'a', parameters: { weight: 1 } }, { model: 'big', parameters: { weight: 1 } }] }, { a: models.a, big: other }, false)).rejects.toThrow(
      /vocabulary sizes differ .*a has vocab_size 50, big has 60/,
    );
    const deeper = microFiles(9, { ...MICRO, numHiddenLayers: 4 });
    await expect(mergeInMemory({ method: 'ties', baseModel: 'base', models: [{ model: 'deep', parameters: { weight: 1 } }] }, { base: models.base, deep: deeper }, false)).rejects.toThrow(/num_hidden_layers differs: base has num_hidden_layers 3, deep has 4/);
  });

  it('rejects a missing tensor and a wrong shape, naming the tensor and the model', async () => {
    const weights = readModelFolder(models.b).weights;
    const tensors = parameterShapes(MICRO).map(({ name }) => ({ name, tensor: weights.get(name)! }));
    const missing: ModelFiles = new Map(models.b);
    missing.set('model.safetensors', writeSafetensors(tensors.filter((t) => t.name !== 'model.layers.1.mlp.up_proj.weight')));
    const config: MergeConfig = { method: 'task_arithmetic', baseModel: 'base', models: [{ model: 'b', parameters: { weight: 1 } }] };
    await expect(mergeInMemory(config, { base: models.base, b: missing }, false)).rejects.toThrow(/model\.layers\.1\.mlp\.up_proj\.weight is missing from b/);
    const reshaped: ModelFiles = new Map(models.b);
    reshaped.set('model.safetensors', writeSafetensors(tensors.map((t) => (t.name === 'model.layers.0.self_attn.o_proj.weight' ? { name: t.name, tensor: { shape: [8, 32], data: t.tensor.data } } : t))));
    await expect(mergeInMemory(config, { base: models.base, b: reshaped }, false)).rejects.toThrow(/model\.layers\.0\.self_attn\.o_proj\.weight has shape \[8, 32\] in b \(expected \[16, 16\] as in base\)/);
    await expect(mergeInMemory(config, { base: models.base }, false)).rejects.toThrow(/no model source for b/);
  });

  it('reads BF16 checkpoints (from memory and from disk at offsets)', async () => {
    // BF16 = the upper 16 bits of an f32: write model a that way by hand.
    const weights = readModelFolder(models.a).weights;
    const tensors = parameterShapes(MICRO);
    let offset = 0;
    const header: Record<string, unknown> = {};
    for (const { name, shape } of tensors) {
      const bytes = 2 * shape.reduce((x, y) => x * y, 1);
      header[name] = { dtype: 'BF16', shape, data_offsets: [offset, offset + bytes] };
      offset += bytes;
    }
    const json = new TextEncoder().encode(JSON.stringify(header));
    const file = new Uint8Array(8 + json.length + offset);
    new DataView(file.buffer).setUint32(0, json.length, true);
    file.set(json, 8);
    const view = new DataView(file.buffer);
    let at = 8 + json.length;
    const rounded = new Map<string, Float32Array>();
    for (const { name } of tensors) {
      const src = weights.get(name)!.data as Float32Array;
      const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
      const r = new Float32Array(src.length);
      const rBits = new Uint32Array(r.buffer);
      for (let i = 0; i < src.length; i++) {
        view.setUint16(at, bits[i] >>> 16, true);
        rBits[i] = bits[i] & 0xffff0000;
        at += 2;
      }
      rounded.set(name, r);
    }
    const bf16: ModelFiles = new Map(models.a);
    bf16.set('model.safetensors', file);
    const config: MergeConfig = { method: 'linear', models: [{ model: 'a16', parameters: { weight: 1 } }] };
    const { weights: merged } = await mergeInMemory(config, { a16: bf16 }, false);
    for (const { name } of tensors) expect([...merged.get(name)!.data], name).toEqual([...rounded.get(name)!]);
    const dir = join(mkdtempSync(join(tmpdir(), 'aya-bf16-')), 'a16');
    await writeModelDir(dir, bf16);
    const out = join(dir, '..', 'out');
    await mergeFolders({ method: 'linear', models: [{ model: dir, parameters: { weight: 1 } }] }, out, { ctx: null, createdBy: 'test' });
    const fromDisk = readModelFolder(await readModelDir(out)).weights;
    for (const { name } of tensors) expect([...fromDisk.get(name)!.data], name).toEqual([...rounded.get(name)!]);
  });

  it('a slice config must cover every layer', async () => {
    const { config } = parseMergekitYaml(`merge_method: slerp\nbase_model: base\nslices:\n  - sources: [{model: base, layer_range: [0, 2]}, {model: a, layer_range: [0, 2]}]\nparameters: {t: 0.5}\n`);
    await expect(mergeInMemory(config, models, false)).rejects.toThrow(/layer_range \[0,2\] does not cover the 3 layers/);
  });
});

describe('merging model folders on disk (streaming)', () => {
  const root = mkdtempSync(join(tmpdir(), 'aya-merge-'));
  const dirs: Record<string, string> = {};
  const ready = (async () => {
    for (const [name, files] of Object.entries(models)) {
      dirs[name] = join(root, name);
      await writeModelDir(dirs[name], files);
    }
    // A sharded input: the reader must follow the index.
    dirs.sharded = join(root, 'sharded');
    await writeModelDir(dirs.sharded, writeModelFolder(readModelFolder(models.c), { maxShardBytes: 4000 }));
  })();

  const tiesConfig = (): MergeConfig => ({
    method: 'ties',
    baseModel: dirs.base,
    models: [{ model: dirs.a, parameters: { weight: 1, density: 0.5 } }, { model: dirs.sharded, parameters: { weight: 0.5, density: [0.9, 0.4] } }],
    parameters: { normalize: true },
  });

  it('writes the same model.safetensors bytes as the in-memory path, plus config, tokenizer, playground.json, mergekit_config.yml', async () => {
    await ready;
    const out = join(root, 'out');
    const ctx = await gpu();
    const r = await mergeFolders(tiesConfig(), out, { ctx, createdBy: 'test' });
    expect(r.files.sort()).toEqual(['config.json', 'mergekit_config.yml', 'model.safetensors', 'playground.json', 'tokenizer.json', 'tokenizer_config.json']);
    expect(readdirSync(out).filter((f) => f.startsWith('.'))).toEqual([]); // no temp files left
    const folder = readModelFolder(await readModelDir(out), out);
    expect(folder.config).toEqual(MICRO);
    // Same tensors as merging the in-memory copies (the sharded input holds model c).
    const mem = await mergeInMemory({ ...tiesConfig(), baseModel: 'base', models: [{ model: 'a', parameters: { weight: 1, density: 0.5 } }, { model: 'c', parameters: { weight: 0.5, density: [0.9, 0.4] } }] }, models, true);
    const expected = writeModelFolder({ config: MICRO, weights: mem.weights, tokenizerJson: null, tokenizerConfigJson: null, playground: null }).get('model.safetensors')!;
    expect(Buffer.from(readFileSync(join(out, 'model.safetensors'))).equals(Buffer.from(expected))).toBe(true);
    // Tokenizer files are the base's, byte for byte.
    expect(readFileSync(join(out, 'tokenizer.json'))).toEqual(readFileSync(join(dirs.base, 'tokenizer.json')));
    const pg = folder.playground!;
    expect(pg.merged).toBe(true);
    expect(pg.trained).toBe(true);
    expect((pg.parents as Array<{ id: string; role: string; playground: { seed: number } }>).map((p) => [p.id, p.role, p.playground.seed])).toEqual([
      [dirs.base, 'base', 1],
      [dirs.a, 'model', 2],
      [dirs.sharded, 'model', 4],
    ]);
    expect((pg.merge as { method: string }).method).toBe('ties');
    const yaml = readFileSync(join(out, 'mergekit_config.yml'), 'utf8');
    expect(parseMergekitYaml(yaml).config).toEqual({ ...tiesConfig(), dtype: 'float32' });
  });

  it('shards above --max-shard-size with an index the app reads', async () => {
    await ready;
    const out = join(root, 'out-sharded');
    const r = await mergeFolders({ method: 'linear', models: [{ model: dirs.a, parameters: { weight: 0.5 } }, { model: dirs.b, parameters: { weight: 0.5 } }] }, out, { ctx: null, maxShardBytes: 5000, createdBy: 'test' });
    const shards = r.files.filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f));
    expect(shards.length).toBeGreaterThan(2);
    expect(r.files).toContain('model.safetensors.index.json');
    const folder = readModelFolder(await readModelDir(out), out);
    const up = 'model.layers.2.mlp.up_proj.weight';
    expect([...folder.weights.get(up)!.data]).toEqual([...linearCpu([w(models.a, up), w(models.b, up)], [0.5, 0.5], true)]);
    // Merging again into the same folder as one file removes the old shards and index.
    await mergeFolders({ method: 'linear', models: [{ model: dirs.a, parameters: { weight: 1 } }] }, out, { ctx: null, createdBy: 'test' });
    expect(readdirSync(out).some((f) => f.startsWith('model-') || f.endsWith('index.json'))).toBe(false);
    expect([...readModelFolder(await readModelDir(out)).weights.get(up)!.data]).toEqual([...w(models.a, up)]);
  });

  it('a failed merge leaves the output folder as it was; the output may not be an input', async () => {
    await ready;
    const out = join(root, 'out-fail');
    await writeModelDir(out, models.c);
    const before = readdirSync(out).sort();
    const bad = join(root, 'bigvocab');
    await writeModelDir(bad, microFiles(5, { ...MICRO, vocabSize: 64 }));
    await expect(mergeFolders({ method: 'linear', models: [{ model: dirs.a, parameters: { weight: 1 } }, { model: bad, parameters: { weight: 1 } }] }, out, { ctx: null, createdBy: 'test' })).rejects.toThrow(/vocabulary sizes differ/);
    expect(readdirSync(out).sort()).toEqual(before);
    let calls = 0;
    await expect(
      mergeFolders({ method: 'linear', models: [{ model: dirs.a, parameters: { weight: 1 } }] }, out, {
        ctx: null,
        createdBy: 'test',
        checkStop: () => {
          if (++calls > 5) throw new Error('stopped by the test');
        },
      }),
    ).rejects.toThrow(/stopped by the test/);
    expect(readdirSync(out).sort()).toEqual(before);
    expect([...readModelFolder(await readModelDir(out)).weights.get('model.norm.weight')!.data]).toEqual([...w(models.c, 'model.norm.weight')]);
    await expect(mergeFolders({ method: 'linear', models: [{ model: out, parameters: { weight: 1 } }] }, out, { ctx: null, createdBy: 'test' })).rejects.toThrow(/is one of the inputs/);
    await expect(mergeFolders({ method: 'linear', models: [{ model: join(root, 'nope'), parameters: { weight: 1 } }] }, join(root, 'o2'), { ctx: null, createdBy: 'test' })).rejects.toThrow(/nope: no such model folder/);
  });
});


describe('Engine.merge and Engine.mergeInspect', () => {
  const store = memoryStore();
  const engine = new Engine({ ...nodePlatform, models: store });
  afterAll(() => engine.dispose());
  for (const [id, files] of Object.entries(models)) {
    void store.put({ id, name: `model ${id}`, origin: 'imported', trained: true, createdAt: '', config: MICRO, parameters: 0, bytes: 0, files: [], playground: null }, files);
  }

  it('merges stored models into a new stored model with progress and provenance', async () => {
    const fractions: number[] = [];
    const config: MergeConfig = { method: 'dare_ties', baseModel: 'base', models: [{ model: 'a', parameters: { weight: 0.5, density: 0.5 } }, { model: 'b', parameters: { weight: 0.5, density: 0.5 } }], seed: 9 };
    const job = engine.start('merge', { config, name: 'merged one' });
    job.on((p) => fractions.push(p.fraction));
    const { model: summary, device } = await job.result();
    expect(device).toBe('gpu');
    expect(summary.name).toBe('merged one');
    expect(fractions.length).toBe(parameterShapes(MICRO).length);
    expect(fractions.every((f, i) => i === 0 || f > fractions[i - 1])).toBe(true);
    expect(fractions.at(-1)).toBe(1);
    const files = await store.files(summary.id);
    expect(files.has('mergekit_config.yml')).toBe(true);
    const folder = readModelFolder(files);
    expect(folder.tokenizerJson).toEqual({ ...TOKENIZER, seed: 1 });
    const parents = folder.playground!.parents as Array<{ id: string; name: string }>;
    expect(parents.map((p) => [p.id, p.name])).toEqual([['base', 'model base'], ['a', 'model a'], ['b', 'model b']]);
    expect(parseMergekitYaml(new TextDecoder().decode(files.get('mergekit_config.yml'))).config).toEqual({ ...config, dtype: 'float32' });
    // Same seed, same masks, same weights (and the CLI would draw the same: keys ignore references).
    const { model: again } = await engine.start('merge', { config, name: 'merged two' }).result();
    expect(Buffer.from((await store.files(again.id)).get('model.safetensors')!).equals(Buffer.from(files.get('model.safetensors')!))).toBe(true);
  });

  it('cancels between tensors and stores nothing', async () => {
    const before = store.data.size;
    const job = engine.start('merge', { config: { method: 'linear', models: [{ model: 'a', parameters: { weight: 1 } }, { model: 'b', parameters: { weight: 1 } }] }, name: 'cancelled' });
    job.on((p) => {
      if (p.index === 2) void job.cancel();
    });
    expect(await job.outcome).toEqual({ status: 'cancelled', result: null });
    expect(store.data.size).toBe(before);
  });

  it('inspects task vectors per layer and pictures one tensor', async () => {
    const r = await engine.mergeInspect({ modelIds: ['a', 'b', 'c'], baseId: 'base', tensor: 'model.layers.1.mlp.down_proj.weight', density: 0.3, maxCells: 8 });
    expect(r.models).toEqual(['a', 'b', 'c']);
    expect(r.layers.map((l) => l.key)).toEqual(['embed', 'layer.0', 'layer.1', 'layer.2', 'norm']);
    for (const l of r.layers) {
      expect(l.cosine.length).toBe(3);
      expect(l.cosine[0][1]).toBeCloseTo(l.cosine[1][0], 12);
      expect(l.signConflict).toBeGreaterThan(0);
      expect(l.signConflict).toBeLessThanOrEqual(1);
    }
    const t = r.tensor;
    expect(t.shape).toEqual([16, 32]);
    expect(t.slerp.arc[0][0]).toBeCloseTo(t.slerp.norms[0], 4);
    expect(t.slerp.arc.at(-1)![0]).toBeCloseTo(t.slerp.chord.at(-1)![0], 4);
    expect(t.ties!.trim).toHaveLength(3);
    expect(t.ties!.elect.rows * t.ties!.elect.cols).toBe(t.ties!.elect.values.length);
    expect(t.ties!.keptFraction[0]).toBeCloseTo(Math.floor(0.3 * 512) / 512, 12);
    expect(t.dare.map((d) => d.model)).toEqual(['a', 'b', 'c']);
    for (const d of t.dare) expect(Math.abs(d.dropped - 0.7)).toBeLessThan(0.1);
    await expect(engine.mergeInspect({ modelIds: ['a'], baseId: 'a' })).rejects.toThrow(/no model besides the base/);
  });
});
