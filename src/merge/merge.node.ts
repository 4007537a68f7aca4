// Node-only: merge model folders on disk into a new folder, streaming (the CLI's `merge`).
// Inputs are read tensor by tensor at their offsets (source.node.ts); the output shards' headers are
// known before the first tensor is merged (F32, parameterShapes order), so each merged tensor is
// appended to its shard as soon as it exists. Everything is written to temporary files and renamed
// into place at the end, so a failed or cancelled merge leaves the output folder as it was.
//
// Public API:
//   mergeFolders(config, outDir, opts) → Promise<MergeFoldersResult>
//   parseByteSize('2GB') → bytes
import { makeDirs, removeMadeDirs } from '../util/fs.node.ts';
import { randomBytes } from 'node:crypto';
import { open, readdir, rename, unlink, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { GpuContext } from '../gpu/context.ts';
import { type ModelConfig, parameterShapes, toHfConfig } from '../model/config.ts';
import { DEFAULT_MAX_SHARD_BYTES, encodeJson, INDEX_FILE, isShardName, shardName, TOKENIZER_CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE, CONFIG_FILE, PLAYGROUND_FILE } from '../model/folder.ts';
import { type MergeConfig, modelRefs } from './config.ts';
import { mergeModels, mergeProvenance, type MergeProgress, type TensorSink, tokenizerDonor } from './merge.ts';
import type { ModelSource } from './source.ts';
import { openModelDirSource } from './source.node.ts';
import { MERGEKIT_CONFIG_FILE, toMergekitYaml } from './yaml.ts';

export { MERGEKIT_CONFIG_FILE };

/** Tokenizer files copied from the donor model as they are (mergekit's --copy-tokenizer). */
const TOKENIZER_FILES = [TOKENIZER_FILE, TOKENIZER_CONFIG_FILE, 'special_tokens_map.json'];
const SAFETENSORS_METADATA = { format: 'pt' };

/** '2GB', '500MB', '1.5G', '4096' (bytes) → bytes (powers of 1024, as folder.ts's default). */
export function parseByteSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$/i.exec(text);
  if (!m) throw new Error(`'${text}' is not a size (e.g. 2GB, 500MB, 1048576)`);
  const bytes = Number(m[1]) * 1024 ** ' kmgt'.indexOf(m[2].toLowerCase() || ' ');
  if (!(bytes >= 1)) throw new Error(`size '${text}' must be at least one byte`);
  return Math.floor(bytes);
}

interface ShardPlan {
  file: string;
  names: string[];
  header: Uint8Array;
  bytes: number;
}

/** The header writeSafetensors would write for these F32 tensors (so the bytes match it exactly). */
function safetensorsHeader(tensors: Array<{ name: string; shape: number[] }>): { header: Uint8Array; dataBytes: number } {
  const parts = [`"__metadata__":${JSON.stringify(SAFETENSORS_METADATA)}`];
  let offset = 0;
  for (const { name, shape } of tensors) {
    const bytes = 4 * shape.reduce((a, b) => a * b, 1);
    parts.push(`${JSON.stringify(name)}:${JSON.stringify({ dtype: 'F32', shape: [...shape], data_offsets: [offset, offset + bytes] })}`);
    offset += bytes;
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const headerLength = Math.ceil(json.length / 8) * 8;
  const header = new Uint8Array(8 + headerLength);
  new DataView(header.buffer).setUint32(0, headerLength, true);
  header.set(json, 8);
  header.fill(0x20, 8 + json.length);
  return { header, dataBytes: offset };
}

/** Same grouping as writeModelFolder: one file under the limit, else greedy shards. */
function planShards(config: ModelConfig, maxShardBytes: number): { shards: ShardPlan[]; total: number } {
  const tensors = parameterShapes(config);
  const size = (s: number[]) => 4 * s.reduce((a, b) => a * b, 1);
  const total = tensors.reduce((s, t) => s + size(t.shape), 0);
  const groups: Array<typeof tensors> = [];
  if (total <= maxShardBytes) groups.push(tensors);
  else {
    let current: typeof tensors = [];
    let bytes = 0;
    for (const t of tensors) {
      if (current.length > 0 && bytes + size(t.shape) > maxShardBytes) {
        groups.push(current);
        current = [];
        bytes = 0;
      }
      current.push(t);
      bytes += size(t.shape);
    }
    if (current.length) groups.push(current);
  }
  const shards = groups.map((g, i) => {
    const { header, dataBytes } = safetensorsHeader(g);
    return { file: groups.length === 1 ? WEIGHTS_FILE : shardName(i + 1, groups.length), names: g.map((t) => t.name), header, bytes: dataBytes };
  });
  return { shards, total };
}

/** Temporary files in the output folder, renamed into place by commit() (as writeModelDir does). */
class StagedFolder {
  private readonly temps = new Map<string, string>();
  constructor(readonly dir: string) {}

  /** Runs a write of `name`; a failure (a full disk, say) names the folder and the file. */
  async writing<T>(name: string, write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (e) {
      throw new Error(`could not write ${name} into ${this.dir}: ${(e as Error).message} (the folder is left as it was)`);
    }
  }

  async create(name: string): Promise<FileHandle> {
    const tmp = join(this.dir, `.${name}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
    this.temps.set(name, tmp);
    return this.writing(name, () => open(tmp, 'wx'));
  }

  async writeFile(name: string, bytes: Uint8Array): Promise<void> {
    const fh = await this.create(name);
    try {
      await this.writing(name, async () => {
        await fh.write(bytes, 0, bytes.byteLength, 0);
        await fh.sync();
      });
    } finally {
      await fh.close();
    }
  }

  async commit(): Promise<void> {
    const removeIfExists = async (p: string) => unlink(p).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
    // The stale entry point goes first: after a crash the folder fails to load rather than loading
    // old weights beside a new config.
    if (this.temps.has(WEIGHTS_FILE)) await removeIfExists(join(this.dir, INDEX_FILE));
    if (this.temps.has(INDEX_FILE)) await removeIfExists(join(this.dir, WEIGHTS_FILE));
    for (const [name, tmp] of this.temps) await rename(tmp, join(this.dir, name));
    for (const name of await readdir(this.dir)) if (isShardName(name) && !this.temps.has(name)) await removeIfExists(join(this.dir, name));
    this.temps.clear();
  }

  async abandon(): Promise<void> {
    await Promise.all([...this.temps.values()].map((t) => unlink(t).catch(() => undefined)));
    this.temps.clear();
  }
}

/** Appends merged tensors to their shard files, in order. */
class StreamingShardSink implements TensorSink {
  private shardIndex = 0;
  private inShard = 0;
  private position = 0;
  private fh: FileHandle | null = null;

  constructor(
    private readonly staged: StagedFolder,
    private readonly shards: ShardPlan[],
  ) {}

  async write(name: string, _shape: number[], data: Float32Array): Promise<void> {
    const shard = this.shards[this.shardIndex];
    if (!shard || shard.names[this.inShard] !== name) throw new Error(`merge output: tensor '${name}' arrived out of order`);
    if (!this.fh) {
      const fh = (this.fh = await this.staged.create(shard.file));
      await this.staged.writing(shard.file, () => fh.write(shard.header, 0, shard.header.byteLength, 0));
      this.position = shard.header.byteLength;
    }
    const fh = this.fh;
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    await this.staged.writing(shard.file, () => fh.write(bytes, 0, bytes.byteLength, this.position));
    this.position += bytes.byteLength;
    if (++this.inShard === shard.names.length) {
      await this.staged.writing(shard.file, () => fh.sync());
      await this.fh.close();
      this.fh = null;
      this.shardIndex++;
      this.inShard = 0;
    }
  }

  async close(): Promise<void> {
    await this.fh?.close().catch(() => undefined);
    this.fh = null;
  }
}

export interface MergeFoldersOptions {
  ctx: GpuContext | null;
  maxShardBytes?: number;
  createdBy: string;
  onProgress?: (p: MergeProgress) => void;
  checkStop?: () => void;
}

export interface MergeFoldersResult {
  outDir: string;
  files: string[];
  config: ModelConfig;
  tensors: number;
  parameters: number;
  warnings: string[];
  seconds: number;
}

/** Merges the model folders the config names (paths, relative to the working directory, as mergekit
 *  resolves them) into `outDir`: weights, config.json, tokenizer files, mergekit_config.yml and
 *  playground.json. */
export async function mergeFolders(config: MergeConfig, outDir: string, opts: MergeFoldersOptions): Promise<MergeFoldersResult> {
  const out = resolve(outDir);
  const refs = modelRefs(config);
  for (const r of refs) if (resolve(r) === out) throw new Error(`merge: the output folder ${out} is one of the inputs (${r}); choose another --out`);
  const sources = new Map<string, ModelSource>();
  const staged = new StagedFolder(out);
  let sink: StreamingShardSink | null = null;
  let made: string[] = [];
  try {
    for (const r of refs) sources.set(r, await openModelDirSource(resolve(r), r));
    const template = sources.get(refs[0])!.config;
    // The first ref is the base or the first model: the result's config (checked equal below).
    const { shards, total } = planShards(template, opts.maxShardBytes ?? DEFAULT_MAX_SHARD_BYTES);
    made = await makeDirs(out);
    sink = new StreamingShardSink(staged, shards);
    const outcome = await mergeModels(config, sources, sink, { ctx: opts.ctx, onProgress: opts.onProgress, checkStop: opts.checkStop });
    await sink.close();

    const yaml = toMergekitYaml(config, { header: ` merged by ${opts.createdBy}` });
    const files: string[] = shards.map((s) => s.file);
    if (shards.length > 1) {
      const weightMap: Record<string, string> = {};
      for (const s of shards) for (const n of s.names) weightMap[n] = s.file;
      await staged.writeFile(INDEX_FILE, encodeJson({ metadata: { total_size: total }, weight_map: weightMap }));
      files.push(INDEX_FILE);
    }
    await staged.writeFile(CONFIG_FILE, encodeJson(toHfConfig(outcome.config)));
    files.push(CONFIG_FILE);
    const donor = sources.get(tokenizerDonor(config))!;
    for (const name of TOKENIZER_FILES) {
      const bytes = await donor.file(name);
      if (bytes) {
        await staged.writeFile(name, bytes);
        files.push(name);
      }
    }
    const playground = mergeProvenance(config, sources, { createdBy: opts.createdBy, mergekitYaml: yaml, device: opts.ctx ? `gpu: ${opts.ctx.adapter.description || opts.ctx.adapter.vendor}` : 'cpu reference', seconds: outcome.seconds });
    await staged.writeFile(PLAYGROUND_FILE, encodeJson(playground));
    await staged.writeFile(MERGEKIT_CONFIG_FILE, new TextEncoder().encode(yaml));
    files.push(PLAYGROUND_FILE, MERGEKIT_CONFIG_FILE);
    await staged.commit();
    return { outDir: out, files, config: outcome.config, tensors: outcome.tensors, parameters: outcome.parameters, warnings: outcome.warnings, seconds: outcome.seconds };
  } catch (e) {
    await sink?.close();
    await staged.abandon();
    await removeMadeDirs(made);
    throw e;
  } finally {
    await Promise.all([...sources.values()].map((s) => s.close()));
  }
}
