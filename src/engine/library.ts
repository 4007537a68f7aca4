// The engine's model library: the platform's store (IndexedDB + the shipped zoo in the tab, folders
// on disk in the CLI and the runtime) plus the models loaded on the GPU for sampling (least recently
// used dropped past a limit, and every one on a device that went away).
import type { GpuContext } from '../gpu/context.ts';
import { type ModelFiles, type ModelFolder, readModelFolder, writeModelFolder } from '../model/folder.ts';
import { createRandomModel } from '../model/create.ts';
import { AyaModel } from '../model/model.ts';
import { BpeTokenizer } from '../tokenizer/bpe.ts';
import type { TeacherInfo } from '../arbitrage/arbitrage.ts';
import type { HostWeights } from '../model/init.ts';
import type { ModelConfig } from '../model/config.ts';
import type { CreateModelRequest } from './api.ts';
import { type ModelOrigin, type ModelStore, type ModelSummary, summarize } from './models.ts';
import type { DeviceManager } from './device.ts';
import { slugify } from '../util/slug.ts';

export interface LoadedModel {
  ctx: GpuContext;
  model: AyaModel;
  tokenizer: BpeTokenizer;
}

const MAX_LOADED_MODELS = 6;


let idCounter = 0;
export function newModelId(name: string): string {
  return `${slugify(name)}-${Date.now().toString(36)}${(++idCounter).toString(36)}`;
}

export class ModelLibrary {
  private readonly loaded = new Map<string, Promise<LoadedModel>>();

  constructor(
    readonly store: ModelStore,
    private readonly device: DeviceManager,
    private readonly builtinTokenizer: () => Promise<BpeTokenizer>,
    readonly createdBy: string,
  ) {}

  list(): Promise<ModelSummary[]> {
    return this.store.list();
  }

  /** A new model's id: the given one, else one the store picks (a folder in the runtime's library). */
  newId(name: string, given?: string): string {
    return given ?? this.store.newId?.(name) ?? newModelId(name);
  }

  /** Saves a new model's files (or replaces a checkpoint's) and drops any loaded copy of it. */
  async save(id: string, name: string, origin: ModelOrigin, config: ModelConfig, files: ModelFiles, playground: Record<string, unknown> | null): Promise<ModelSummary> {
    const summary = summarize(id, name, origin, config, files, playground);
    await this.store.put(summary, files);
    this.unload(id); // a copy loaded for sampling must not keep older weights
    // The store's own description (where it lives), with what this save knows better.
    const stored = await this.store.summary?.(id);
    return stored ? { ...stored, name, origin } : summary;
  }

  /** A model folder from weights, with the tokenizer and provenance of `like`. */
  saveWeights(id: string, name: string, like: ModelFolder, weights: HostWeights, playground: Record<string, unknown>, extra?: ModelFiles): Promise<ModelSummary> {
    const files = writeModelFolder({ config: like.config, weights, tokenizerJson: like.tokenizerJson, tokenizerConfigJson: like.tokenizerConfigJson, playground });
    for (const [k, v] of extra ?? []) files.set(k, v);
    return this.save(id, name, 'trained', like.config, files, playground);
  }

  async create(req: CreateModelRequest): Promise<ModelSummary> {
    const tok = await this.builtinTokenizer();
    const { config, files, playground } = createRandomModel(tok, req.preset, req.seed, this.createdBy);
    const name = req.name.trim() || `${req.preset}-seed${req.seed}`;
    return this.save(this.newId(name, req.outId), name, 'created', config, files, playground);
  }

  async import(name: string, files: ModelFiles): Promise<ModelSummary> {
    if (typeof name !== 'string' || !name.trim()) throw new Error(`importModel: the name must be a non-empty string, got ${JSON.stringify(name) ?? 'nothing'}`);
    if (!(files instanceof Map)) throw new Error(`${name}: expected the folder's files (a map of file name to bytes)`);
    for (const [f, b] of files) if (typeof f !== 'string' || !(b instanceof Uint8Array)) throw new Error(`${name}: every file must be a name and its bytes`);
    const folder = readModelFolder(files, name);
    if (!folder.tokenizerJson) throw new Error(`${name}: no tokenizer.json; the playground needs the model's tokenizer`);
    const tok = BpeTokenizer.fromTokenizerJson(folder.tokenizerJson, `${name}/tokenizer.json`);
    if (tok.vocabSize > folder.config.vocabSize) {
      throw new Error(`${name}: the tokenizer has ${tok.vocabSize} tokens but the model's vocabulary is ${folder.config.vocabSize}`);
    }
    return this.save(this.newId(name), name, 'imported', folder.config, files, folder.playground);
  }

  files(id: string): Promise<ModelFiles> {
    return this.store.files(id);
  }

  async delete(id: string): Promise<void> {
    this.unload(id);
    await this.store.delete(id);
  }

  unload(id: string): void {
    const m = this.loaded.get(id);
    this.loaded.delete(id);
    void m?.then((x) => x.model.dispose(), () => undefined);
  }

  /** Forgets every loaded model on `ctx` (its device is gone), or all of them. */
  forget(ctx?: GpuContext): void {
    for (const [id, entry] of this.loaded) {
      if (!ctx) this.loaded.delete(id);
      else void entry.then((m) => m.ctx === ctx && this.loaded.get(id) === entry && this.loaded.delete(id), () => undefined);
    }
  }

  /** A stored model's folder and tokenizer (the playground needs the model's own tokenizer). */
  async read(id: string): Promise<{ folder: ModelFolder; tok: BpeTokenizer }> {
    const folder = readModelFolder(await this.store.files(id), id);
    if (!folder.tokenizerJson) throw new Error(`${id}: no tokenizer.json`);
    return { folder, tok: BpeTokenizer.fromTokenizerJson(folder.tokenizerJson, `${id}/tokenizer.json`) };
  }

  /** Only a model's tokenizer (nothing is loaded on the GPU). */
  async tokenizer(id: string): Promise<BpeTokenizer> {
    const files = this.store.tokenizerFiles ? await this.store.tokenizerFiles(id) : await this.store.files(id);
    const bytes = files.get('tokenizer.json');
    if (!bytes) throw new Error(`${id}: no tokenizer.json`);
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder().decode(bytes));
    } catch (e) {
      throw new Error(`${id}/tokenizer.json: invalid JSON (${(e as Error).message})`);
    }
    return BpeTokenizer.fromTokenizerJson(json, `${id}/tokenizer.json`);
  }

  /** A model's summary: from the store's list, or read from its files (the CLI's folders are not listed). */
  async describe(id: string): Promise<ModelSummary> {
    const m = (await this.store.list()).find((x) => x.id === id);
    if (m) return m;
    const files = await this.store.files(id);
    const folder = readModelFolder(files, id);
    const name = id.split(/[\\/]/).filter(Boolean).pop() ?? id;
    return summarize(id, name, 'imported', folder.config, files, folder.playground);
  }

  async teacherInfo(ids: string[]): Promise<TeacherInfo[]> {
    return Promise.all(
      ids.map(async (id) => {
        const m = await this.describe(id);
        const pg = m.playground ?? {};
        return { id, name: m.name, family: typeof pg.family === 'string' ? pg.family : undefined, languages: Array.isArray(pg.languages) ? (pg.languages as string[]) : undefined };
      }),
    );
  }

  /** The model on the GPU (loaded on first use; the least recently used is dropped past a limit). */
  async load(id: string): Promise<LoadedModel> {
    const ctx = await this.device.context();
    let entry = this.loaded.get(id);
    if (entry) {
      const m = await entry.catch(() => null);
      if (m && m.ctx === ctx) {
        this.loaded.delete(id); // re-insert: most recently used last
        this.loaded.set(id, entry);
        return m;
      }
      this.loaded.delete(id);
    }
    entry = (async () => {
      const { folder, tok: tokenizer } = await this.read(id);
      const model = AyaModel.fromHost(ctx, folder.config, folder.weights);
      try {
        // Compile every pipeline now (a prefill long enough for the blocked matmul kernels, then
        // one decode step), so the first generation's tokens/s measures generation, not compilation.
        const cache = model.createCache(1, 9);
        model.forward([new Array(8).fill(tokenizer.bos)], { cache, lastOnly: true }).release();
        await model.forward([[tokenizer.eos]], { cache }).read();
        cache.release();
      } catch (e) {
        model.dispose();
        throw e;
      }
      return { ctx, model, tokenizer };
    })();
    this.loaded.set(id, entry);
    entry.catch(() => this.loaded.delete(id));
    while (this.loaded.size > MAX_LOADED_MODELS) this.unload(this.loaded.keys().next().value as string);
    return entry;
  }
}
