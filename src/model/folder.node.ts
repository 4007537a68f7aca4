// Node-only: model folders on disk. The browser gets the same ModelFiles from a folder picker or
// IndexedDB; everything past the bytes (parsing, validation) is in folder.ts.
import { makeDirs, removeMadeDirs } from '../util/fs.node.ts';
import { randomBytes } from 'node:crypto';
import { open, readFile, readdir, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { CHECKPOINT_STATE_FILES,
  CONFIG_FILE,
  INDEX_FILE,
  PLAYGROUND_FILE,
  TOKENIZER_CONFIG_FILE,
  TOKENIZER_FILE,
  WEIGHTS_FILE,
  isPlainFileName,
  isShardName,
  parseShardIndex,
  type ModelFiles,
} from './folder.ts';

/** The file's bytes, or null when it does not exist. A plain Uint8Array: Buffer.slice does not copy. */
export async function readIfExists(path: string): Promise<Uint8Array | null> {
  try {
    const buf = await readFile(path);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`could not read ${path}: ${(e as Error).message}`);
  }
}

/** Reads the known files of a model folder (and the shards its index names); nothing else. */
export async function readModelDir(dir: string): Promise<ModelFiles> {
  let isDir: boolean;
  try {
    isDir = (await stat(dir)).isDirectory();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`no such directory: ${dir}`);
    throw new Error(`could not read ${dir}: ${(e as Error).message}`);
  }
  if (!isDir) throw new Error(`${dir} is not a directory`);

  const files: ModelFiles = new Map();
  const config = await readIfExists(join(dir, CONFIG_FILE));
  if (!config) throw new Error(`no ${CONFIG_FILE} in ${dir}`);
  files.set(CONFIG_FILE, config);

  // Same preference as readModelFolder: the single file, then the index and its shards.
  const single = await readIfExists(join(dir, WEIGHTS_FILE));
  if (single) {
    files.set(WEIGHTS_FILE, single);
  } else {
    const index = await readIfExists(join(dir, INDEX_FILE));
    if (!index) throw new Error(`no ${WEIGHTS_FILE} or ${INDEX_FILE} in ${dir}`);
    files.set(INDEX_FILE, index);
    // parseShardIndex only accepts plain file names, so shards are read inside `dir`.
    for (const shard of parseShardIndex(index, join(dir, INDEX_FILE)).shards) {
      const bytes = await readIfExists(join(dir, shard));
      if (!bytes) throw new Error(`shard ${shard} named in ${INDEX_FILE} is missing in ${dir}`);
      files.set(shard, bytes);
    }
  }

  // A resumable checkpoint's optimizer state comes along (a finished model has none).
  for (const name of [TOKENIZER_FILE, TOKENIZER_CONFIG_FILE, PLAYGROUND_FILE, ...CHECKPOINT_STATE_FILES]) {
    const bytes = await readIfExists(join(dir, name));
    if (bytes) files.set(name, bytes);
  }
  return files;
}

async function removeIfExists(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

/** Writes every file through a synced temp file and a rename, so none is ever half-written. Removes
 *  the weights of the other layout (single file vs shards) left by an earlier save, which a reader
 *  would otherwise pick up instead of, or mix with, the new ones. */
export async function writeModelDir(dir: string, files: ModelFiles): Promise<void> {
  for (const name of files.keys()) {
    if (!isPlainFileName(name)) throw new Error(`cannot write '${name}' into ${dir}: not a plain file name`);
  }
  const made = await makeDirs(dir);

  const temps: Array<{ tmp: string; final: string }> = [];
  try {
    for (const [name, bytes] of files) {
      const tmp = join(dir, `.${name}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
      temps.push({ tmp, final: join(dir, name) });
      const fh = await open(tmp, 'wx');
      try {
        await fh.writeFile(bytes);
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
  } catch (e) {
    await Promise.all(temps.map(({ tmp }) => removeIfExists(tmp).catch(() => undefined)));
    await removeMadeDirs(made);
    throw new Error(`could not write the model to ${dir}: ${(e as Error).message}`);
  }

  // Drop the stale entry point first: after a crash the folder then fails to load, rather than
  // loading old weights beside a new config.
  if (files.has(WEIGHTS_FILE) && !files.has(INDEX_FILE)) await removeIfExists(join(dir, INDEX_FILE));
  if (files.has(INDEX_FILE) && !files.has(WEIGHTS_FILE)) await removeIfExists(join(dir, WEIGHTS_FILE));
  // A checkpoint's optimizer state does not outlive it: the finished model is saved without one.
  for (const name of CHECKPOINT_STATE_FILES) if (!files.has(name)) await removeIfExists(join(dir, name));
  for (const { tmp, final } of temps) await rename(tmp, final);
  for (const name of await readdir(dir)) {
    if (isShardName(name) && !files.has(name)) await removeIfExists(join(dir, name));
  }
}

/** What a model list shows of a folder, without reading its weights: config.json and
 *  playground.json parsed, the names and total size of the model's files. */
export async function readModelDirSummary(dir: string): Promise<{ config: unknown; playground: Record<string, unknown> | null; files: string[]; bytes: number; mtime: Date }> {
  const parse = (bytes: Uint8Array | null, name: string): unknown => {
    if (!bytes) return null;
    try {
      return JSON.parse(new TextDecoder().decode(bytes));
    } catch (e) {
      throw new Error(`${join(dir, name)}: invalid JSON (${(e as Error).message})`);
    }
  };
  const configBytes = await readIfExists(join(dir, CONFIG_FILE));
  if (!configBytes) throw new Error(`no ${CONFIG_FILE} in ${dir}`);
  const config = parse(configBytes, CONFIG_FILE);
  const pg = parse(await readIfExists(join(dir, PLAYGROUND_FILE)), PLAYGROUND_FILE);
  const known = (n: string) => n === 'mergekit_config.yml' || n === 'special_tokens_map.json' || n === CONFIG_FILE || n === WEIGHTS_FILE || n === INDEX_FILE || n === TOKENIZER_FILE || n === TOKENIZER_CONFIG_FILE || n === PLAYGROUND_FILE || isShardName(n);
  const files: string[] = [];
  let bytes = 0;
  for (const name of (await readdir(dir)).sort()) {
    if (!known(name)) continue;
    const s = await stat(join(dir, name));
    if (!s.isFile()) continue;
    files.push(name);
    bytes += s.size;
  }
  const mtime = (await stat(join(dir, CONFIG_FILE))).mtime;
  return { config, playground: pg && typeof pg === 'object' && !Array.isArray(pg) ? (pg as Record<string, unknown>) : null, files, bytes, mtime };
}

/** Only a folder's tokenizer.json (what tokenizing needs, without the weights). */
export async function readTokenizerFiles(dir: string): Promise<ModelFiles> {
  const bytes = await readIfExists(join(dir, TOKENIZER_FILE));
  if (!bytes) throw new Error(`no ${TOKENIZER_FILE} in ${dir}`);
  return new Map([[TOKENIZER_FILE, bytes]]);
}
