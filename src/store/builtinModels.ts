// The shipped model zoo (public/models/, made by `npm run zoo`), read-only, fetched on demand,
// listed next to the models in IndexedDB. The manifest carries the held-out loss matrix.
import type { ModelStore, ModelSummary } from '../engine/models.ts';
import { summarize } from '../engine/models.ts';
import { fromHfConfig } from '../model/config.ts';
import type { ModelFiles } from '../model/folder.ts';

export interface ZooManifest {
  created_at: string;
  command: string;
  models: Array<{ id: string; folder: string; role: string; family: string | null; languages: string[]; steps: number; seconds: number }>;
  languages: string[];
  held_out_loss: Record<string, Record<string, number>>;
  total_seconds: number;
  training_seconds?: number;
  machine: Record<string, unknown>;
  summary?: { lines: string[] };
}

const FILES = ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'playground.json'];

export function builtinModelStore(base: string): ModelStore & { manifest(): Promise<ZooManifest | null> } {
  let manifest: Promise<ZooManifest | null> | null = null;
  const getManifest = () => {
    if (!manifest) {
      // No zoo in this build answers 404, or (dev servers with an SPA fallback) index.html.
      manifest = fetch(`${base}models/manifest.json`).then(async (r) => {
        if (!r.ok || !(r.headers.get('content-type') ?? '').includes('json')) return null;
        return (await r.json()) as ZooManifest;
      });
      manifest.catch(() => (manifest = null));
    }
    return manifest;
  };
  const fetchBytes = async (url: string): Promise<Uint8Array> => {
    const r = await fetch(url);
    if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
    return new Uint8Array(await r.arrayBuffer());
  };
  return {
    manifest: getManifest,
    async list(): Promise<ModelSummary[]> {
      const m = await getManifest();
      if (!m) return [];
      return Promise.all(
        m.models.map(async (e) => {
          const [config, playground] = await Promise.all(
            ['config.json', 'playground.json'].map(async (f) => JSON.parse(new TextDecoder().decode(await fetchBytes(`${base}models/${e.folder}${f}`)))),
          );
          // Sizes from HEAD requests: the weights themselves are fetched only when the model is used.
          const lengths = await Promise.all(
            FILES.map(async (f) => Number((await fetch(`${base}models/${e.folder}${f}`, { method: 'HEAD' })).headers.get('content-length') ?? 0)),
          );
          const s = summarize(`builtin:${e.id}`, e.id, 'builtin', fromHfConfig(config, `${e.id}/config.json`), new Map(), playground, m.created_at);
          return { ...s, files: FILES, bytes: lengths.reduce((a, b) => a + b, 0), location: 'built-in zoo (shipped with the app)' };
        }),
      );
    },
    async files(id: string): Promise<ModelFiles> {
      const m = await getManifest();
      const e = m?.models.find((x) => `builtin:${x.id}` === id);
      if (!e) throw new Error(`no built-in model '${id}'`);
      const entries = await Promise.all(FILES.map(async (f) => [f, await fetchBytes(`${base}models/${e.folder}${f}`)] as const));
      return new Map(entries);
    },
    async put(): Promise<void> {
      throw new Error('built-in models are read-only');
    },
    async delete(): Promise<void> {
      throw new Error('built-in models cannot be deleted');
    },
  };
}

/** Built-in models first, then the engine's own; writes go to the own store. */
export function combinedStore(builtin: ModelStore, own: ModelStore): ModelStore {
  const isBuiltin = (id: string) => typeof id === 'string' && id.startsWith('builtin:');
  const pick = (id: string) => (isBuiltin(id) ? builtin : own);
  const store: ModelStore = {
    async list() {
      const [a, b] = await Promise.all([builtin.list().catch(() => []), own.list()]);
      return [...a, ...b];
    },
    files: (id) => pick(id).files(id),
    put: (summary, files) => own.put(summary, files),
    delete: (id) => pick(id).delete(id),
  };
  if (own.newId) store.newId = (name) => own.newId!(name);
  if (builtin.summary || own.summary) store.summary = async (id) => {
    const s = pick(id).summary;
    if (s) return s(id);
    const m = (await store.list()).find((x) => x.id === id);
    if (!m) throw new Error(`no model '${id}'`);
    return m;
  };
  if (builtin.tokenizerFiles || own.tokenizerFiles) store.tokenizerFiles = (id) => (pick(id).tokenizerFiles ?? pick(id).files)(id);
  if (builtin.localPath && own.localPath) store.localPath = (id, forWrite) => (forWrite ? own : pick(id)).localPath!(id, forWrite);
  return store;
}
