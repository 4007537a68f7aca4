// The Engine's merge jobs: merge stored models on the GPU tensor by tensor into a new model (in
// memory in the tab; streamed folder to folder in Node, so a merge of big models never holds them);
// inspect task vectors and one tensor's SLERP / TIES / DARE pictures for the Merge panel; search
// merge weights (src/merge/search.ts) with every candidate merged in memory and scored by held-out
// loss.
//
// Public API:
//   merge(core, req, ctl) → MergeResult              (the job; a cancel leaves nothing behind)
//   mergeSearch(core, req, ctl) → SearchResult       (the job; a cancel returns the points so far)
//   runMergeJob(ctx, store, req, hooks) → { files, config, playground, warnings }
//   inspectMerge(store, req) → MergeInspection
//   runMergeSearchJob(ctx, store, docs, req, hooks) → SearchResult
import type { GpuContext } from '../../gpu/context.ts';
import type { ModelConfig } from '../../model/config.ts';
import type { HostWeights } from '../../model/init.ts';
import { type ModelFiles, readModelFolder, writeModelFolder } from '../../model/folder.ts';
import { dareKey, type MergeConfig, modelRefs, planTensor } from '../../merge/config.ts';
import { checkMergeInputs, collectingSink, mergeModels, mergeProvenance, type MergeProgress, tokenizerDonor } from '../../merge/merge.ts';
import { memorySource, type ModelSource } from '../../merge/source.ts';
import { MERGEKIT_CONFIG_FILE, toMergekitYaml } from '../../merge/yaml.ts';
import { type DarePicture, darePicture, type LayerGroup, layerGroupOf, type SlerpPicture, slerpPicture, type TaskVectorSummary, TaskVectorStats, type TiesPicture, tiesPicture } from '../../merge/inspect.ts';
import type { ModelStore } from '../models.ts';
import { type MergeSearchRequest, runMergeSearch, type SearchProgress, type SearchResult, searchMergeConfig, validateSearchRequest } from '../../merge/search.ts';
import type { UdhrDocument } from '../../data/corpus.ts';
import { BpeTokenizer } from '../../tokenizer/bpe.ts';
import { evaluateWeights, HELD_OUT } from '../../train/sft.ts';

import { JobCancelled, type MergeRequest, type MergeResult } from '../api.ts';
import type { EngineCore } from '../core.ts';
import type { JobControl } from '../jobRegistry.ts';

export { MERGEKIT_CONFIG_FILE };

/** mergekit semantics; playground.json of the result records the parents and the merge, and
 *  mergekit_config.yml travels with its files. */
export async function merge(core: EngineCore, req: MergeRequest, ctl: JobControl<MergeProgress>): Promise<MergeResult> {
  if (!req?.config || !Array.isArray(req.config.models)) throw new Error('merge: the request needs a merge config with models');
  if (!req.name?.trim()) throw new Error('merge: give the merged model a name');
  const ctx = req.cpu ? null : await core.device.context();
  const device = ctx ? 'gpu' : 'cpu';
  const checkStop = () => {
    if (ctl.shouldStop()) throw new JobCancelled(ctl.id);
  };
  const onProgress = (p: MergeProgress) => ctl.emit(p);
  const store = core.library.store;
  const outId = core.library.newId(req.name, req.outId);
  if (core.platform.mergeFolders && store.localPath) {
    // Folder to folder: references become paths inside the library, the output is staged and
    // renamed into place at the end (a failed or cancelled merge leaves it as it was).
    const paths = new Map<string, string>();
    for (const r of new Set([...modelRefs(req.config), ...(req.config.tokenizerSource && !['base', 'union'].includes(req.config.tokenizerSource) ? [req.config.tokenizerSource] : [])])) paths.set(r, await store.localPath(r));
    const mapped: MergeConfig = {
      ...req.config,
      baseModel: req.config.baseModel ? (paths.get(req.config.baseModel) ?? req.config.baseModel) : req.config.baseModel,
      models: req.config.models.map((m) => ({ ...m, model: paths.get(m.model) ?? m.model })),
      tokenizerSource: req.config.tokenizerSource && paths.has(req.config.tokenizerSource) ? paths.get(req.config.tokenizerSource) : req.config.tokenizerSource,
    };
    const r = await core.platform.mergeFolders(mapped, await store.localPath(outId, true), { ctx, maxShardBytes: req.maxShardBytes, createdBy: core.createdBy, checkStop, onProgress });
    core.library.unload(outId);
    const model = store.summary ? await store.summary(outId) : await core.library.describe(outId);
    return { model: { ...model, name: req.name }, tensors: r.tensors, parameters: r.parameters, seconds: r.seconds, warnings: r.warnings, device };
  }
  const r = await runMergeJob(ctx, store, req, { createdBy: core.createdBy, checkStop, onProgress });
  const model = await core.library.save(outId, req.name, 'trained', r.config, r.files, r.playground);
  return { model, tensors: r.tensors, parameters: r.parameters, seconds: r.seconds, warnings: r.warnings, device };
}

export async function mergeSearch(core: EngineCore, req: MergeSearchRequest, ctl: JobControl<SearchProgress>): Promise<SearchResult> {
  const [ctx, docs] = await Promise.all([core.device.context(), core.resources.documents()]);
  return runMergeSearchJob(ctx, core.library.store, docs, req, { shouldStop: ctl.shouldStop, onProgress: (p) => ctl.emit(p) });
}

const parseJson = (bytes: Uint8Array | null, what: string): unknown => {
  if (!bytes) return null;
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new Error(`${what}: invalid JSON (${(e as Error).message})`);
  }
};

async function openSources(store: ModelStore, refs: string[]): Promise<Map<string, ModelSource>> {
  const sources = new Map<string, ModelSource>();
  for (const r of refs) sources.set(r, memorySource(r, await store.files(r)));
  return sources;
}

/** Merges stored models into the files of a new model (weights, config, tokenizer, playground.json
 *  recording the parents and the merge, mergekit_config.yml). `ctx` null uses the CPU reference. */
export async function runMergeJob(
  ctx: GpuContext | null,
  store: ModelStore,
  req: MergeRequest,
  hooks: { createdBy: string; checkStop?: () => void; onProgress?: (p: MergeProgress) => void },
): Promise<{ files: ModelFiles; config: ModelConfig; playground: Record<string, unknown>; warnings: string[]; tensors: number; parameters: number; seconds: number }> {
  if (!req.name?.trim()) throw new Error('merge: give the merged model a name');
  const refs = modelRefs(req.config);
  const sources = await openSources(store, refs);
  const names = new Map((await store.list()).filter((m) => refs.includes(m.id)).map((m) => [m.id, m.name]));
  const sink = collectingSink();
  const outcome = await mergeModels(req.config, sources, sink, { ctx, checkStop: hooks.checkStop, onProgress: hooks.onProgress });
  const yaml = toMergekitYaml(req.config, { header: ` merged by ${hooks.createdBy}; model references are aya-playground model ids` });
  const playground = mergeProvenance(req.config, sources, {
    createdBy: hooks.createdBy,
    names,
    mergekitYaml: yaml,
    device: ctx ? `gpu: ${ctx.adapter.description || ctx.adapter.vendor}` : 'cpu reference',
    seconds: outcome.seconds,
  });
  const donor = sources.get(tokenizerDonor(req.config))!;
  const files = writeModelFolder(
    {
      config: outcome.config,
      weights: sink.weights,
      tokenizerJson: parseJson(await donor.file('tokenizer.json'), `${donor.ref}/tokenizer.json`),
      tokenizerConfigJson: parseJson(await donor.file('tokenizer_config.json'), `${donor.ref}/tokenizer_config.json`),
      playground,
    },
    { maxShardBytes: req.maxShardBytes },
  );
  files.set(MERGEKIT_CONFIG_FILE, new TextEncoder().encode(yaml));
  return { files, config: outcome.config, playground, warnings: outcome.warnings, tensors: outcome.tensors, parameters: outcome.parameters, seconds: outcome.seconds };
}

// ---- inspection ----------------------------------------------------------------------------------

export interface MergeInspectRequest {
  /** Models whose task vectors are compared (the base, if listed, is skipped). */
  modelIds: string[];
  /** The base of the task vectors τ_i = θ_i − θ_base; default: modelIds[0]. */
  baseId?: string | null;
  /** The tensor to picture (default: the first layer's q projection). */
  tensor?: string;
  /** Density of the TIES trim and the DARE drop pictures (default 0.5). */
  density?: number;
  /** TIES vote weights per compared model (default 1 each). */
  weights?: number[];
  /** DARE seed (default 0), as in MergeConfig.seed. */
  seed?: number;
  /** Grid cells per side (default 64). */
  maxCells?: number;
}

export interface MergeInspection {
  base: string;
  /** The compared models (task vectors), in order. */
  models: string[];
  numLayers: number;
  tensors: Array<{ name: string; shape: number[] }>;
  /** Embeddings, each layer, final norm: pairwise cosine and sign conflicts of the task vectors. */
  layers: Array<LayerGroup & TaskVectorSummary>;
  tensor: {
    name: string;
    shape: number[];
    stats: TaskVectorSummary;
    /** SLERP from the base (t = 0) to the first compared model (t = 1), as a slerp merge of the two. */
    slerp: SlerpPicture;
    /** null (with a note) when the density keeps no element of this tensor. */
    ties: TiesPicture | null;
    dare: Array<DarePicture & { model: string }>;
    notes: string[];
  };
}

export async function inspectMerge(store: ModelStore, req: MergeInspectRequest): Promise<MergeInspection> {
  const base = req.baseId ?? req.modelIds[0];
  if (!base) throw new Error('merge inspect: give at least two models (or a base and one model)');
  const models = req.modelIds.filter((m) => m !== base);
  if (models.length === 0) throw new Error('merge inspect: no model besides the base to compare');
  const config: MergeConfig = { method: 'task_arithmetic', baseModel: base, models: models.map((model) => ({ model, parameters: { weight: 1 } })) };
  const sources = await openSources(store, [base, ...models]);
  const { outputConfig, tensors } = checkMergeInputs(config, sources);
  const L = outputConfig.numHiddenLayers;
  const tensorName = req.tensor ?? tensors.find((t) => t.name.endsWith('self_attn.q_proj.weight'))?.name ?? tensors[0].name;
  const chosen = tensors.find((t) => t.name === tensorName);
  if (!chosen) throw new Error(`merge inspect: no tensor '${tensorName}' (one of ${tensors.map((t) => t.name).slice(0, 4).join(', ')}, …)`);

  const groups = new Map<string, { group: LayerGroup; stats: TaskVectorStats }>();
  let picture: MergeInspection['tensor'] | null = null;
  const density = req.density ?? 0.5;
  for (const { name, shape } of tensors) {
    const b = await sources.get(base)!.read(name);
    const ms = await Promise.all(models.map((m) => sources.get(m)!.read(name)));
    const group = layerGroupOf(name, L);
    let entry = groups.get(group.key);
    if (!entry) groups.set(group.key, (entry = { group, stats: new TaskVectorStats(models.length) }));
    entry.stats.add(b, ms);
    if (name !== tensorName) continue;
    const own = new TaskVectorStats(models.length);
    own.add(b, ms);
    const notes: string[] = [];
    let ties: TiesPicture | null = null;
    try {
      ties = tiesPicture(b, ms, { shape, densities: models.map(() => density), weights: req.weights ?? models.map(() => 1), maxCells: req.maxCells, tensor: name });
    } catch (e) {
      notes.push((e as Error).message);
    }
    picture = {
      name,
      shape,
      stats: own.summary(),
      slerp: slerpPicture(b, ms[0]),
      ties,
      dare: ms.map((m, i) => ({ model: models[i], ...darePicture(b, m, { shape, density, key: dareKey(req.seed ?? 0, i, name), maxCells: req.maxCells }) })),
      notes,
    };
  }
  const order = (g: LayerGroup) => (g.key === 'embed' ? -1 : g.layer ?? Number.MAX_SAFE_INTEGER);
  const layers = [...groups.values()].sort((x, y) => order(x.group) - order(y.group)).map(({ group, stats }) => ({ ...group, ...stats.summary() }));
  return { base, models, numLayers: L, tensors, layers, tensor: picture! };
}

// ---- weight search -------------------------------------------------------------------------------

/** Thrown through mergeModels' checkStop to abandon a candidate when the job is cancelled. */
class SearchStopped extends Error {}

/**
 * Searches merge weights: each candidate is merged on the GPU into memory (nothing is saved) and its
 * per-language held-out loss computed with the same code and settings as the zoo's matrix and
 * Engine.heldOutLoss (UDHR articles 23–30, HELD_OUT). The inputs are read once; the tokenizer is
 * the merge's tokenizer donor's (the base, else the first model). A cancel (shouldStop) returns the
 * points finished so far with `cancelled: true`.
 */
export async function runMergeSearchJob(
  ctx: GpuContext,
  store: ModelStore,
  docs: Map<string, UdhrDocument>,
  req: MergeSearchRequest,
  hooks: { shouldStop: () => boolean; onProgress?: (p: SearchProgress) => void; knownInputs?: Record<string, Record<string, number>> },
): Promise<SearchResult> {
  validateSearchRequest(req);
  const stop = hooks.shouldStop;
  const probe = searchMergeConfig(req, req.modelIds.map(() => 1));
  const refs = [...new Set([...modelRefs(probe), ...(req.baseId ? [req.baseId] : [])])];
  const sources = await openSources(store, refs);
  // Fail on mismatched shapes, vocabularies or bad parameters now, not after the inputs' losses.
  const { outputConfig, tensors } = checkMergeInputs(probe, sources);
  for (const t of tensors) planTensor(probe, t.name, outputConfig.numHiddenLayers);
  const donor = sources.get(tokenizerDonor(probe))!;
  const tokJson = parseJson(await donor.file('tokenizer.json'), `${donor.ref}/tokenizer.json`);
  if (!tokJson) throw new Error(`${donor.ref}: no tokenizer.json`);
  const tok = BpeTokenizer.fromTokenizerJson(tokJson, `${donor.ref}/tokenizer.json`);
  const heldOut = (config: ModelConfig, weights: HostWeights) => evaluateWeights(ctx, config, weights, tok, docs, req.languages, HELD_OUT, stop);
  return runMergeSearch(
    req,
    {
      async evaluateMerge(weights) {
        const sink = collectingSink();
        let outcome;
        try {
          outcome = await mergeModels(searchMergeConfig(req, weights), sources, sink, {
            ctx,
            checkStop: () => {
              if (stop()) throw new SearchStopped();
            },
          });
        } catch (e) {
          if (e instanceof SearchStopped) return null;
          throw e;
        }
        const r = await heldOut(outcome.config, sink.weights);
        return stop() ? null : r;
      },
      async evaluateModel(id) {
        const folder = readModelFolder(await store.files(id), id);
        const r = await heldOut(folder.config, folder.weights);
        return stop() ? null : r;
      },
    },
    { shouldStop: stop, onProgress: hooks.onProgress, knownInputs: hooks.knownInputs },
  );
}
