// ONNX teachers in the tab: folders from the Hugging Face Hub (or a mirror, or a local server) and
// dropped folders, kept in this browser (src/store/onnxCache.ts) and loaded into whichever engine
// answers — again after every reload — as `onnx:<name>` teachers.
import type { ModelFiles } from '../../model/folder.ts';
import type { TeacherSummary } from '../../engine/api.ts';
import {
  type CachedOnnxTeacher,
  cachedFiles,
  checkRepoId,
  DEFAULT_HUB,
  deleteCachedTeacher,
  type DownloadProgress,
  downloadHubTeacher,
  filesFor,
  type HubFile,
  listCachedTeachers,
  listHubRepo,
  onnxChoices,
  partialBytes,
  saveFolderTeacher,
} from '../../store/onnxCache.ts';
import { engine } from '../engineClient.svelte.ts';
import { onnxGraphs } from '../../model/onnxFeeds.ts';

const HUB_KEY = 'teachers.hub';

/** The engine, once it has started (a folder chosen right after a reload waits for it). */
async function readyEngine() {
  for (let i = 0; i < 480 && engine.status !== 'ready' && engine.status !== 'error'; i++) await new Promise((r) => setTimeout(r, 250));
  return engine.ready();
}

/** A teacher name from a repo id and graph file: owner/Qwen2.5-0.5B + onnx/model_q4.onnx → Qwen2.5-0.5B-q4. */
export function nameFor(repo: string, onnxFile: string): string {
  const base = repo.split('/').pop() ?? repo;
  const variant = (onnxFile.split('/').pop() ?? '').replace(/\.onnx$/i, '').replace(/^model_?/, '');
  return `${base}${variant ? `-${variant}` : ''}`.replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 64);
}

class OnnxTeacherStore {
  hub = $state(localStorage.getItem(HUB_KEY) || DEFAULT_HUB);
  cached = $state<CachedOnnxTeacher[]>([]);
  /** Per cached teacher: its summary in the engine, or why it did not load. */
  loaded = $state<Record<string, TeacherSummary>>({});
  loadErrors = $state<Record<string, string>>({});
  listing = $state<HubFile[] | null>(null);
  listedRepo = $state('');
  progress = $state<DownloadProgress | null>(null);
  busy = $state<'listing' | 'downloading' | 'loading' | null>(null);
  error = $state<string | null>(null);
  message = $state<string | null>(null);
  /** Bytes a previous attempt at the chosen download saved (a resume). */
  partial = $state(0);
  private abort: AbortController | null = null;
  private restoredFor: unknown = null;

  setHub(url: string): void {
    this.hub = url.trim() || DEFAULT_HUB;
    localStorage.setItem(HUB_KEY, this.hub);
  }

  /** Loads every kept teacher into the engine (once per engine connection). */
  async restore(): Promise<void> {
    const api = engine.ready();
    if (this.restoredFor === api) return;
    this.restoredFor = api;
    try {
      this.cached = await listCachedTeachers();
    } catch (e) {
      this.error = `Could not read the kept ONNX teachers: ${(e as Error).message}`;
      return;
    }
    for (const c of this.cached) await this.load(c);
  }

  private async load(c: CachedOnnxTeacher, files?: ModelFiles): Promise<void> {
    try {
      const summary = await (await readyEngine()).addOnnxTeacher({ name: c.name, files: files ?? (await cachedFiles(c)), onnxFile: c.onnxFile, source: c.source });
      this.loaded = { ...this.loaded, [c.name]: summary };
      const { [c.name]: _, ...rest } = this.loadErrors;
      this.loadErrors = rest;
    } catch (e) {
      this.loadErrors = { ...this.loadErrors, [c.name]: (e as Error).message };
    }
  }

  async lookUp(repo: string): Promise<void> {
    this.error = this.message = null;
    this.busy = 'listing';
    this.listing = null;
    try {
      const r = checkRepoId(repo);
      if (typeof navigator !== 'undefined' && navigator.onLine === false) throw new Error('The browser is offline: the Hub cannot be reached.');
      this.listing = await listHubRepo(this.hub, r);
      this.listedRepo = r;
      if (!onnxChoices(this.listing).length) throw new Error(`${r} has no .onnx files: it is not an ONNX export (transformers.js models keep them in onnx/)`);
    } catch (e) {
      this.error = (e as Error).message;
    } finally {
      this.busy = null;
    }
  }

  async checkPartial(onnxFile: string): Promise<void> {
    this.partial = 0;
    if (!this.listing) return;
    try {
      this.partial = await partialBytes(this.listedRepo, 'main', filesFor(this.listing, onnxFile).map((f) => f.path));
    } catch {
      this.partial = 0;
    }
  }

  async download(onnxFile: string, name: string): Promise<void> {
    if (!this.listing) return;
    this.error = this.message = null;
    this.busy = 'downloading';
    this.abort = new AbortController();
    try {
      const { entry, files } = await downloadHubTeacher({ hub: this.hub, repo: this.listedRepo, onnxFile, name, listing: this.listing, signal: this.abort.signal, onProgress: (p) => (this.progress = p) });
      this.cached = await listCachedTeachers();
      this.busy = 'loading';
      await this.load(entry, files);
      this.message = this.loadErrors[name] ? null : `Downloaded and loaded '${name}'.`;
    } catch (e) {
      this.error = (e as Error).name === 'AbortError' ? 'Download cancelled: what arrived is kept, and starting it again resumes.' : (e as Error).message;
      await this.checkPartial(onnxFile);
    } finally {
      this.busy = null;
      this.abort = null;
    }
  }

  cancel(): void {
    this.abort?.abort();
  }

  /** A dropped folder: kept, then loaded. */
  async addFolder(name: string, files: ModelFiles): Promise<void> {
    this.error = this.message = null;
    this.busy = 'loading';
    try {
      const onnxFile = onnxGraphs(files.keys())[0];
      if (!onnxFile) throw new Error(`${name}: the folder has no .onnx file (transformers.js keeps them in onnx/)`);
      // Loaded first: a folder the engine refuses is not kept.
      const summary = await (await readyEngine()).addOnnxTeacher({ name, files, onnxFile, source: `folder:${name}` });
      await saveFolderTeacher(name, files, onnxFile);
      this.cached = await listCachedTeachers();
      this.loaded = { ...this.loaded, [name]: summary };
      this.message = `Loaded '${name}'.`;
    } catch (e) {
      this.error = (e as Error).message;
    } finally {
      this.busy = null;
    }
  }

  async remove(name: string): Promise<void> {
    await engine.ready().removeOnnxTeacher(name).catch(() => false);
    await deleteCachedTeacher(name);
    this.cached = await listCachedTeachers();
    const { [name]: _, ...rest } = this.loaded;
    this.loaded = rest;
  }
}

export const onnxTeachers = new OnnxTeacherStore();
