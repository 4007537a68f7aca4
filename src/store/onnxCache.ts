// ONNX teacher folders kept in the browser (IndexedDB via idb-keyval), and their download from the
// Hugging Face Hub (or any server with the Hub's URL scheme: a mirror, or a local server in tests):
//   GET {hub}/api/models/{repo}/tree/{revision}?recursive=true   → [{type, path, size}]
//   GET {hub}/{repo}/resolve/{revision}/{path}                   → the file (Range for resuming)
// A download is saved in pieces as it arrives, so a reload, a lost connection or a cancel resumes
// where it stopped (HTTP Range) instead of starting over. A folder is listed only once every file
// is complete, so a half-downloaded or half-saved teacher never appears.
import { del, get, set, update } from 'idb-keyval';
import type { ModelFiles } from '../model/folder.ts';
import { onnxGraphs } from '../model/onnxFeeds.ts';

export const DEFAULT_HUB = 'https://huggingface.co';
/** The files of a transformers.js decoder folder besides the .onnx graph. */
export const FOLDER_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json'] as const;
const OPTIONAL = new Set(['generation_config.json']);
/** Saved to IndexedDB at least this often while a file downloads. */
const PIECE_BYTES = 4 * 2 ** 20;

export interface CachedOnnxTeacher {
  name: string;
  /** 'hub:owner/repo@revision' or 'folder:<name>'. */
  source: string;
  onnxFile: string;
  files: Array<{ path: string; bytes: number }>;
  bytes: number;
  savedAt: string;
}

export interface HubFile {
  path: string;
  size: number | null;
}

export interface DownloadProgress {
  file: string;
  received: number;
  total: number | null;
  /** All files of the folder. */
  receivedAll: number;
  totalAll: number | null;
  resumedFrom: number;
}

const INDEX = 'onnx:index';
const fileKey = (source: string, path: string) => `onnx:file:${source}:${path}`;
const partKey = (source: string, path: string) => `onnx:part:${source}:${path}`;

function storageError(e: unknown, what: string): Error {
  const err = e as DOMException;
  if (err?.name === 'QuotaExceededError') return new Error(`Browser storage is full: ${what} was not saved. Teachers and models saved earlier are kept; delete some under Models.`);
  return new Error(`${what} could not be saved to browser storage: ${err?.message ?? String(e)}`);
}

export function checkRepoId(repo: string): string {
  const r = repo.trim();
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/.test(r)) throw new Error(`'${repo}' is not a Hub repo id (owner/name, e.g. onnx-community/Qwen2.5-0.5B-Instruct)`);
  return r;
}

const trimBase = (hub: string) => hub.replace(/\/+$/, '');

/** The repo's files (recursive), from the Hub's tree API. */
export async function listHubRepo(hub: string, repo: string, revision = 'main', fetchFn: typeof fetch = fetch): Promise<HubFile[]> {
  const url = `${trimBase(hub)}/api/models/${checkRepoId(repo)}/tree/${encodeURIComponent(revision)}?recursive=true`;
  let res: Response;
  try {
    res = await fetchFn(url);
  } catch (e) {
    throw new Error(`${url}: cannot connect (${(e as Error).message}); is the browser online?`);
  }
  if (res.status === 404 || res.status === 401) throw new Error(`${repo}: no such repo on ${hub} (or it is private/gated: HTTP ${res.status})`);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  const list = (await res.json()) as Array<{ type?: string; path?: string; size?: number }>;
  if (!Array.isArray(list)) throw new Error(`${url}: not a file list`);
  return list.filter((f) => f.type === 'file' && typeof f.path === 'string').map((f) => ({ path: f.path!, size: typeof f.size === 'number' ? f.size : null }));
}

/** The .onnx graphs a repo offers (dtype variants: model.onnx, model_fp16.onnx, model_q4.onnx …). */
export function onnxChoices(files: readonly HubFile[]): HubFile[] {
  const byPath = new Map(files.map((f) => [f.path, f]));
  return onnxGraphs(byPath.keys()).map((p) => byPath.get(p)!);
}

/** What to download for one graph: the JSON files, the graph and its external data. */
export function filesFor(files: readonly HubFile[], onnxFile: string): HubFile[] {
  const have = new Map(files.map((f) => [f.path, f]));
  const missing = FOLDER_FILES.filter((p) => !OPTIONAL.has(p) && !have.has(p));
  if (missing.length) throw new Error(`the repo has no ${missing.join(', ')}: not a transformers.js model folder`);
  if (!have.has(onnxFile)) throw new Error(`the repo has no ${onnxFile}`);
  const data = files.filter((f) => f.path.startsWith(`${onnxFile}_data`) || f.path.startsWith(`${onnxFile}.data`));
  return [...FOLDER_FILES.filter((p) => have.has(p)).map((p) => have.get(p)!), have.get(onnxFile)!, ...data];
}

/** What an unfinished download has saved: its pieces (each under its own key, so a save writes
 *  only the new piece) and the server's ETag, so a resume can ask for "the rest of that version". */
interface PartMeta {
  pieces: number;
  bytes: number;
  etag: string | null;
}

const pieceKey = (source: string, path: string, i: number) => `${partKey(source, path)}:${i}`;

async function readMeta(source: string, path: string): Promise<PartMeta> {
  return ((await get(partKey(source, path))) as PartMeta | undefined) ?? { pieces: 0, bytes: 0, etag: null };
}

async function readParts(source: string, path: string, meta: PartMeta): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (let i = 0; i < meta.pieces; i++) {
    const p = (await get(pieceKey(source, path, i))) as Uint8Array | undefined;
    if (!p) break; // a piece lost: resume from what is contiguous
    out.push(p);
  }
  return out;
}

async function dropParts(source: string, path: string): Promise<void> {
  const meta = await readMeta(source, path);
  for (let i = 0; i < meta.pieces; i++) await del(pieceKey(source, path, i));
  await del(partKey(source, path));
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const n = parts.reduce((s, p) => s + p.byteLength, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}

class StorageFull extends Error {}

/** One file, resumed from what an earlier attempt saved. */
async function downloadFile(url: string, source: string, f: HubFile, signal: AbortSignal | undefined, fetchFn: typeof fetch, onBytes: (received: number, resumedFrom: number) => void): Promise<Uint8Array> {
  const done = (await get(fileKey(source, f.path))) as Uint8Array | undefined;
  if (done && (f.size === null || done.byteLength === f.size)) {
    onBytes(done.byteLength, done.byteLength);
    return done;
  }
  let meta = await readMeta(source, f.path);
  const parts = await readParts(source, f.path, meta);
  let received = parts.reduce((s, p) => s + p.byteLength, 0);
  if (f.size !== null && received > f.size) {
    // More than the file: not this version's bytes.
    await dropParts(source, f.path);
    parts.length = 0;
    received = 0;
  }
  meta = { pieces: parts.length, bytes: received, etag: meta.etag };
  let resumedFrom = received;
  let res: Response;
  try {
    // Range alone is a CORS-safelisted header (If-Range is not, and would need the server's leave):
    // the version is checked by the ETag of the answer instead.
    res = await fetchFn(url, { signal, headers: received > 0 ? { Range: `bytes=${received}-` } : {} });
  } catch (e) {
    if (signal?.aborted) throw new DOMException('cancelled', 'AbortError');
    throw new Error(`${url}: cannot connect (${(e as Error).message})`);
  }
  if (received > 0 && res.status === 206) {
    const start = /bytes (\d+)-/.exec(res.headers.get('Content-Range') ?? '');
    const etag = res.headers.get('ETag');
    if (meta.etag && etag && etag !== meta.etag) {
      // The file changed since the saved bytes: they belong to another version.
      await res.body?.cancel();
      await dropParts(source, f.path);
      return downloadFile(url, source, f, signal, fetchFn, onBytes);
    }
    if (start && Number(start[1]) !== received) {
      await res.body?.cancel();
      await dropParts(source, f.path);
      throw new Error(`${url}: the server resumed at byte ${start[1]}, not ${received}; start it again to download it whole`);
    }
  } else if (received > 0 && res.status === 200) {
    // The server ignored the Range, or the file changed: start it over.
    await dropParts(source, f.path);
    parts.length = 0;
    received = 0;
    resumedFrom = 0;
  } else if (res.status === 416 && f.size !== null && received === f.size) {
    // Asked past the end: what was saved is the whole file.
  } else if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`${url}: HTTP ${res.status}`);
  }
  meta = { pieces: parts.length, bytes: received, etag: res.headers.get('ETag') ?? meta.etag };
  onBytes(received, resumedFrom);
  if (res.status !== 416 && res.body) {
    const reader = res.body.getReader();
    let pending: Uint8Array[] = [];
    let pendingBytes = 0;
    const flush = async () => {
      if (!pendingBytes) return;
      const piece = concat(pending);
      try {
        await set(pieceKey(source, f.path, parts.length), piece);
        parts.push(piece);
        meta = { ...meta, pieces: parts.length, bytes: meta.bytes + piece.byteLength };
        await set(partKey(source, f.path), meta);
      } catch (e) {
        throw new StorageFull(storageError(e, `the download of ${f.path}`).message);
      }
      pending = [];
      pendingBytes = 0;
    };
    try {
      for (;;) {
        const { done: end, value } = await reader.read();
        if (end) break;
        pending.push(value);
        pendingBytes += value.byteLength;
        received += value.byteLength;
        onBytes(received, resumedFrom);
        if (pendingBytes >= PIECE_BYTES) await flush();
      }
    } catch (e) {
      await reader.cancel().catch(() => undefined);
      if (e instanceof StorageFull) throw new Error(e.message);
      await flush().catch(() => undefined); // keep what arrived, for the next attempt
      if (signal?.aborted) throw new DOMException('cancelled', 'AbortError');
      throw new Error(`${url}: the download broke off after ${received} bytes (${(e as Error).message}); start it again to resume`);
    }
    try {
      await flush();
    } catch (e) {
      throw new Error((e as Error).message);
    }
  }
  const bytes = concat(parts);
  if (f.size !== null && bytes.byteLength !== f.size) {
    await dropParts(source, f.path); // these bytes cannot become the file: the next attempt starts over
    throw new Error(`${url}: got ${bytes.byteLength} bytes, the repo lists ${f.size}; start it again`);
  }
  try {
    await set(fileKey(source, f.path), bytes);
  } catch (e) {
    throw storageError(e, f.path);
  }
  await dropParts(source, f.path);
  return bytes;
}

/** Downloads (or resumes) a repo's folder for one graph and keeps it; listed once complete. */
export async function downloadHubTeacher(opts: {
  hub: string;
  repo: string;
  revision?: string;
  onnxFile: string;
  name: string;
  listing: readonly HubFile[];
  signal?: AbortSignal;
  onProgress?: (p: DownloadProgress) => void;
  fetchFn?: typeof fetch;
}): Promise<{ entry: CachedOnnxTeacher; files: ModelFiles }> {
  const revision = opts.revision ?? 'main';
  const repo = checkRepoId(opts.repo);
  const source = `hub:${repo}@${revision}`;
  const wanted = filesFor(opts.listing, opts.onnxFile);
  const totalAll = wanted.every((f) => f.size !== null) ? wanted.reduce((s, f) => s + f.size!, 0) : null;
  const files: ModelFiles = new Map();
  let before = 0;
  for (const f of wanted) {
    const url = `${trimBase(opts.hub)}/${repo}/resolve/${encodeURIComponent(revision)}/${f.path.split('/').map(encodeURIComponent).join('/')}`;
    const bytes = await downloadFile(url, source, f, opts.signal, opts.fetchFn ?? fetch, (received, resumedFrom) =>
      opts.onProgress?.({ file: f.path, received, total: f.size, receivedAll: before + received, totalAll, resumedFrom }),
    );
    files.set(f.path, bytes);
    before += bytes.byteLength;
  }
  const entry: CachedOnnxTeacher = { name: opts.name, source, onnxFile: opts.onnxFile, files: wanted.map((f) => ({ path: f.path, bytes: files.get(f.path)!.byteLength })), bytes: before, savedAt: new Date().toISOString() };
  await saveIndexEntry(entry);
  return { entry, files };
}

async function saveIndexEntry(entry: CachedOnnxTeacher): Promise<void> {
  try {
    await update(INDEX, (list: CachedOnnxTeacher[] | undefined) => [...(list ?? []).filter((x) => x.name !== entry.name), entry]);
  } catch (e) {
    throw storageError(e, `the teacher '${entry.name}'`);
  }
}

/** A folder the user dropped: every file kept under a fresh key, then listed (replacing an
 *  earlier teacher of that name only once the new files are all saved). */
export async function saveFolderTeacher(name: string, files: ModelFiles, onnxFile: string): Promise<CachedOnnxTeacher> {
  const source = `folder:${name}:${Date.now().toString(36)}`;
  for (const [path, bytes] of files) {
    try {
      await set(fileKey(source, path), bytes);
    } catch (e) {
      for (const p of files.keys()) await del(fileKey(source, p)).catch(() => undefined);
      throw storageError(e, `the folder '${name}'`);
    }
  }
  const entry: CachedOnnxTeacher = { name, source, onnxFile, files: [...files].map(([path, b]) => ({ path, bytes: b.byteLength })), bytes: [...files.values()].reduce((s, b) => s + b.byteLength, 0), savedAt: new Date().toISOString() };
  const previous = (await listCachedTeachers()).find((x) => x.name === name);
  await saveIndexEntry(entry);
  if (previous) await deleteFiles(previous, [entry]);
  return entry;
}

export async function listCachedTeachers(): Promise<CachedOnnxTeacher[]> {
  return ((await get(INDEX)) as CachedOnnxTeacher[] | undefined) ?? [];
}

export async function cachedFiles(entry: CachedOnnxTeacher): Promise<ModelFiles> {
  const files: ModelFiles = new Map();
  for (const f of entry.files) {
    const b = (await get(fileKey(entry.source, f.path))) as Uint8Array | undefined;
    if (!b) throw new Error(`${entry.name}: ${f.path} is no longer in this browser's storage (download it again)`);
    files.set(f.path, b);
  }
  return files;
}

/** Deletes `entry`'s files, except those another listed teacher of the same source still uses. */
async function deleteFiles(entry: CachedOnnxTeacher, others: readonly CachedOnnxTeacher[]): Promise<void> {
  const shared = new Set(others.filter((x) => x.source === entry.source).flatMap((x) => x.files.map((f) => f.path)));
  for (const f of entry.files) if (!shared.has(f.path)) await del(fileKey(entry.source, f.path));
}

/** Forgets a teacher and its files (a file another cached teacher shares is kept). */
export async function deleteCachedTeacher(name: string): Promise<void> {
  let entry: CachedOnnxTeacher | undefined;
  let rest: CachedOnnxTeacher[] = [];
  await update(INDEX, (list: CachedOnnxTeacher[] | undefined) => {
    entry = (list ?? []).find((x) => x.name === name);
    rest = (list ?? []).filter((x) => x.name !== name);
    return rest;
  });
  if (!entry) return;
  await deleteFiles(entry, rest);
  // An unfinished download of the same files goes too.
  if (entry.source.startsWith('hub:')) for (const f of entry.files) await dropParts(entry.source, f.path);
}

/** Bytes saved of a download not finished yet (to offer "resume"). */
export async function partialBytes(repo: string, revision: string, paths: readonly string[]): Promise<number> {
  const source = `hub:${checkRepoId(repo)}@${revision}`;
  let n = 0;
  for (const p of paths) n += (await readParts(source, p, await readMeta(source, p))).reduce((s, x) => s + x.byteLength, 0);
  return n;
}
