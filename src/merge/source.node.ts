// Node-only: a model folder on disk as a ModelSource. Opening reads config.json, the index and each
// safetensors header (8 bytes, then the header); read(name) reads only that tensor's bytes at its
// offset. Memory stays bounded by the tensors in flight, not by the model size.
import { open, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { CONFIG_FILE, INDEX_FILE, parseShardIndex, PLAYGROUND_FILE, WEIGHTS_FILE } from '../model/folder.ts';
import { MAX_HEADER_BYTES } from '../model/safetensors.ts';
import { readIfExists } from '../model/folder.node.ts';
import { decodeTensor, type HeaderEntry, type ModelSource, parseHeaderJson, readFolderMeta, type TensorInfo } from './source.ts';


async function readExactly(fh: FileHandle, position: number, length: number, file: string): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(out, done, length - done, position + done);
    if (bytesRead === 0) throw new Error(`${file}: unexpected end of file at byte ${position + done}`);
    done += bytesRead;
  }
  return out;
}

interface OpenShard {
  fh: FileHandle;
  file: string;
  dataStart: number;
  entries: HeaderEntry[];
}

async function openShard(path: string): Promise<OpenShard> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`${path}: no such file`);
    throw new Error(`could not open ${path}: ${(e as Error).message}`);
  }
  try {
    const size = (await fh.stat()).size;
    if (size < 8) throw new Error(`${path}: not a safetensors file (${size} bytes)`);
    const head = await readExactly(fh, 0, 8, path);
    const view = new DataView(head.buffer);
    const headerLength = view.getUint32(0, true) + view.getUint32(4, true) * 2 ** 32;
    if (headerLength > MAX_HEADER_BYTES) throw new Error(`${path}: header length ${headerLength} bytes is absurd; not a safetensors file or corrupt`);
    if (8 + headerLength > size) throw new Error(`${path}: header length ${headerLength} runs past the end of the file (${size} bytes)`);
    const header = await readExactly(fh, 8, headerLength, path);
    return { fh, file: path, dataStart: 8 + headerLength, entries: parseHeaderJson(header, size - 8 - headerLength, path) };
  } catch (e) {
    await fh.close();
    throw e;
  }
}

/** Opens the model folder `dir`; `ref` is how the merge config names it (defaults to `dir`). */
export async function openModelDirSource(dir: string, ref = dir): Promise<ModelSource> {
  let isDir = false;
  try {
    isDir = (await stat(dir)).isDirectory();
  } catch {
    throw new Error(`${ref}: no such model folder (${dir})`);
  }
  if (!isDir) throw new Error(`${ref}: not a directory`);
  const { config, playground } = readFolderMeta(await readIfExists(join(dir, CONFIG_FILE)), await readIfExists(join(dir, PLAYGROUND_FILE)), ref);

  const shards: OpenShard[] = [];
  const located = new Map<string, { shard: OpenShard; entry: HeaderEntry }>();
  try {
    // Same preference as readModelFolder: the single file, then the index and its shards.
    const single = join(dir, WEIGHTS_FILE);
    const indexPath = join(dir, INDEX_FILE);
    const indexBytes = (await stat(single).catch(() => null)) ? null : await readIfExists(indexPath);
    if (!indexBytes && !(await stat(single).catch(() => null))) throw new Error(`${ref}: no ${WEIGHTS_FILE} or ${INDEX_FILE} in ${dir}`);
    if (!indexBytes) {
      const shard = await openShard(single);
      shards.push(shard);
      for (const entry of shard.entries) located.set(entry.name, { shard, entry });
    } else {
      const index = parseShardIndex(indexBytes, indexPath);
      for (const name of index.shards) {
        const shard = await openShard(join(dir, name));
        shards.push(shard);
        for (const entry of shard.entries) if (index.weightMap.get(entry.name) === name) located.set(entry.name, { shard, entry });
      }
      for (const [name, shard] of index.weightMap) if (!located.has(name)) throw new Error(`${indexPath}: tensor '${name}' is not in its shard ${shard}`);
    }
  } catch (e) {
    await Promise.all(shards.map((s) => s.fh.close().catch(() => undefined)));
    throw e;
  }
  const tensors = new Map<string, TensorInfo>();
  for (const [name, { entry }] of located) tensors.set(name, { name, dtype: entry.dtype, shape: entry.shape });
  return {
    ref,
    config,
    tensors,
    playground,
    async read(name) {
      const at = located.get(name);
      if (!at) throw new Error(`${ref}: no tensor '${name}'`);
      const { shard, entry } = at;
      const bytes = await readExactly(shard.fh, shard.dataStart + entry.begin, entry.end - entry.begin, shard.file);
      return decodeTensor(bytes, entry.dtype, entry.shape.reduce((a, b) => a * b, 1), `${shard.file}: tensor '${name}'`);
    },
    file: (name) => readIfExists(join(dir, name)),
    async close() {
      await Promise.all(shards.map((s) => s.fh.close().catch(() => undefined)));
    },
  };
}
