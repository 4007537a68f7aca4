// Merge-weight search (DESIGN §10, issue 7 item 6): which per-model weights make the best merge?
// Every candidate is a merge of the same models with the same method, only the `weight`s differ;
// it is scored by per-language held-out loss (score = mean over an objective's languages of
// −loss, so higher is better). Three strategies:
//   grid     every combination of per-model weights from a list (default {0, .3, .5, .7, 1}, the grid
//            of "Mix data or merge models?", arXiv 2410.10801), the all-zero point skipped;
//   simplex  weights on the simplex with step 1/resolution (Σw = 1): the interpolation line for two
//            models, the triangle for three — what the Merge panel draws as lines and a heatmap;
//   cmaes    CMA-ES over the simplex (Khalifa et al., arXiv 2412.04144), `budget` evaluations.
//            Parametrisation: softmax (default) — w = softmax([z, 0]) with z ∈ R^{n−1}, the search
//            starts at z = 0, the uniform soup, which is also the first point evaluated; or
//            'projection' — w = the Euclidean projection of x ∈ R^n onto the simplex (exact zeros).
//            With two objectives CMA-ES maximises their mean; the Pareto front comes from every
//            point it evaluated.
//
// This module is pure: the merging and the held-out loss come in through a SearchEvaluator (the
// Engine's GPU implementation is in src/engine/jobs/merge.ts), so enumeration, CMA-ES, the Pareto front
// and the whole loop are tested without a GPU. Deterministic by `seed`.
//
// Public API:
//   types SearchStrategy, SearchObjective, MergeSearchRequest, SearchPoint, SearchResult, SearchProgress
//   validateSearchRequest(req) → { normalized, warnings }   throws naming the problem
//   searchMergeConfig(req, weights) → MergeConfig           the merge one candidate stands for
//   gridPoints(n, grid), simplexPoints(n, resolution), simplexPointCount(n, resolution)
//   defaultResolution(n), scalarScore(objectives), paretoFront(points), bestPoint(points)
//   objectiveScores(perLanguage, objectives)
//   runMergeSearch(req, evaluator, hooks) → SearchResult
import { show } from '../util/show.ts';
import { Rng } from '../util/rng.ts';
import { CmaEs, projectToSimplex, softmaxSimplex } from './cmaes.ts';
import { isMergeMethod, type MergeConfig, type MergeParameters, METHOD_INFO, type ParameterSetting } from './config.ts';

export type SearchStrategy = 'grid' | 'simplex' | 'cmaes';

/** score = mean over these languages of −(held-out loss). */
export interface SearchObjective {
  name: string;
  languages: string[];
}

export interface MergeSearchRequest {
  /** 2..8 models (ids in the engine's store; the CLI passes folder paths); `weights` follow this order. */
  modelIds: string[];
  /** For task_arithmetic / ties / dare_* / breadcrumbs (task vectors relative to it). */
  baseId?: string;
  /** A MERGE_METHODS entry that takes a per-model `weight`. */
  method: string;
  /** Other global parameters (density, lambda, normalize, …), mergekit names and values. */
  parameters?: Record<string, unknown>;
  strategy: SearchStrategy;
  /** grid: the values each weight takes (default [0, .3, .5, .7, 1]). */
  grid?: number[];
  /** simplex: step 1/resolution (default 10 for 2 models, 6 for 3, see defaultResolution). */
  resolution?: number;
  /** cmaes: evaluations (default 40). */
  budget?: number;
  /** cmaes: 'softmax' (default) or 'projection' (see the header). */
  parametrisation?: 'softmax' | 'projection';
  /** cmaes: candidates per generation (default 4 + ⌊3 ln dim⌋). */
  populationSize?: number;
  /** 1 or 2; their languages must be a subset of `languages`. */
  objectives: SearchObjective[];
  /** Held-out loss is computed for these. */
  languages: string[];
  /** CMA-ES samples and the DARE masks (MergeConfig.seed). */
  seed: number;
}

export interface SearchPoint {
  /** One weight per model of request.modelIds, as given to the merge. */
  weights: number[];
  /** Held-out loss (nats/token) per language of request.languages. */
  perLanguage: Record<string, number>;
  /** One score per objective: mean of −loss over its languages (higher is better). */
  objectives: number[];
  /** objectives[0], or the mean of both: what `best` and CMA-ES rank by. */
  score?: number;
  /** CMA-ES generation (0 = the starting uniform point); absent for grid and simplex. */
  generation?: number;
  /** True when an equivalent earlier point's result was reused (same effective weights). */
  reused?: boolean;
}

export interface SearchResult {
  request: MergeSearchRequest;
  /** In evaluation order. */
  points: SearchPoint[];
  /** By objectives[0], or by the mean of both objectives. null only when cancelled before any point. */
  best: SearchPoint;
  /** Non-dominated points (2 objectives), best objectives[0] first; [] for one objective. */
  pareto: SearchPoint[];
  /** Each input model's (and the base's) per-language held-out loss, by model id. */
  inputs: Record<string, Record<string, number>>;
  cancelled: boolean;
  seconds: number;
  /** Merges actually computed (equivalent points are evaluated once). */
  evaluations?: number;
  warnings?: string[];
}

export interface SearchProgress {
  done: number;
  total: number;
  latest: SearchPoint;
  best: SearchPoint;
  etaSeconds: number;
}

/** What the search needs from an engine: the merge's held-out losses, and an input model's. Each
 *  returns null when the job was cancelled while it ran. */
export interface SearchEvaluator {
  evaluateMerge(weights: number[]): Promise<Record<string, number> | null>;
  evaluateModel(modelId: string): Promise<Record<string, number> | null>;
}

export interface SearchHooks {
  shouldStop?: () => boolean;
  onProgress?: (p: SearchProgress) => void;
  /** Input models' losses already known (skips evaluating them). */
  knownInputs?: Record<string, Record<string, number>>;
}

export const DEFAULT_GRID: readonly number[] = [0, 0.3, 0.5, 0.7, 1];
export const DEFAULT_BUDGET = 40;
export const MAX_MODELS = 8;
/** More candidates than this is a mistake at playground speed (5 models on the default grid = 3124). */
export const MAX_POINTS = 1000;

/** Default simplex step: 1/10 on the line, 1/6 on the triangle, then coarser so the point count
 *  stays near a few dozen (4 models: 1/4 → 35 points; 5–8 models: 1/3 → 35–120). */
export function defaultResolution(n: number): number {
  return n <= 2 ? 10 : n === 3 ? 6 : n === 4 ? 4 : 3;
}

function binomial(n: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return Math.round(r);
}

/** Points of the simplex grid with step 1/resolution: C(resolution + n − 1, n − 1). */
export function simplexPointCount(n: number, resolution: number): number {
  return binomial(resolution + n - 1, n - 1);
}

/** Every weight vector with entries k/resolution (k ≥ 0 integer) summing to 1, in lexicographic
 *  order of (k₁, k₂, …) descending — so for two models it runs from [1, 0] to [0, 1]. */
export function simplexPoints(n: number, resolution: number): number[][] {
  if (!Number.isInteger(n) || n < 1) throw new Error(`simplex: need at least one model, got ${n}`);
  if (!Number.isInteger(resolution) || resolution < 1) throw new Error(`simplex: the resolution must be a positive integer, got ${resolution}`);
  const out: number[][] = [];
  const parts = new Array<number>(n).fill(0);
  const fill = (i: number, left: number) => {
    if (i === n - 1) {
      parts[i] = left;
      out.push(parts.map((k) => k / resolution));
      return;
    }
    for (let k = left; k >= 0; k--) {
      parts[i] = k;
      fill(i + 1, left - k);
    }
  };
  fill(0, resolution);
  return out;
}

/** Every combination of `grid` values for n models (the last model varies fastest), without the
 *  all-zero point: |grid|ⁿ − 1 points when the grid contains 0. */
export function gridPoints(n: number, grid: readonly number[] = DEFAULT_GRID): number[][] {
  if (!Number.isInteger(n) || n < 1) throw new Error(`grid: need at least one model, got ${n}`);
  if (grid.length === 0) throw new Error('grid: no values');
  for (const g of grid) if (!Number.isFinite(g) || g < 0) throw new Error(`grid: weights must be finite and ≥ 0, got ${g}`);
  const values = [...new Set(grid)];
  const out: number[][] = [];
  const idx = new Array<number>(n).fill(0);
  for (;;) {
    const w = idx.map((i) => values[i]);
    if (w.some((x) => x !== 0)) out.push(w);
    let k = n - 1;
    while (k >= 0 && ++idx[k] === values.length) idx[k--] = 0;
    if (k < 0) return out;
  }
}

/** One score per objective: mean over its languages of −loss. */
export function objectiveScores(perLanguage: Record<string, number>, objectives: readonly SearchObjective[]): number[] {
  return objectives.map((o) => {
    let s = 0;
    for (const l of o.languages) {
      const v = perLanguage[l];
      if (v === undefined || !Number.isFinite(v)) throw new Error(`objective '${o.name}': no finite held-out loss for '${l}'`);
      s -= v;
    }
    return s / o.languages.length;
  });
}

/** What `best` and CMA-ES rank by: the first objective, or the mean of all of them. */
export function scalarScore(objectives: readonly number[]): number {
  return objectives.reduce((a, b) => a + b, 0) / objectives.length;
}

/** The highest-scoring point (the first of equals). */
export function bestPoint<P extends { objectives: number[] }>(points: readonly P[]): P | null {
  let best: P | null = null;
  for (const p of points) if (!best || scalarScore(p.objectives) > scalarScore(best.objectives)) best = p;
  return best;
}

/** a dominates b: ≥ on every objective and > on one (objectives are maximised). */
function dominates(a: readonly number[], b: readonly number[]): boolean {
  let strictly = false;
  for (let i = 0; i < a.length; i++) {
    if (a[i] < b[i]) return false;
    if (a[i] > b[i]) strictly = true;
  }
  return strictly;
}

/** Non-dominated points (objectives maximised), first objective descending; of points with equal
 *  objective vectors only the first is kept. [] for fewer than two objectives. */
export function paretoFront<P extends { objectives: number[] }>(points: readonly P[]): P[] {
  if (points.length === 0 || points[0].objectives.length < 2) return [];
  const front: P[] = [];
  points.forEach((p, i) => {
    if (points.some((q) => dominates(q.objectives, p.objectives))) return;
    if (points.slice(0, i).some((q) => q.objectives.every((v, k) => v === p.objectives[k]))) return;
    front.push(p);
  });
  return front.sort((a, b) => b.objectives[0] - a.objectives[0] || a.objectives[1] - b.objectives[1]);
}

const weightTaking = () => Object.entries(METHOD_INFO).filter(([, info]) => info.perModel.some((p) => p.name === 'weight')).map(([m]) => m);

/** Whether scaling every weight by c > 0 leaves the merge unchanged (normalize on): then points
 *  that differ only by scale are one merge, evaluated once. */
function scaleInvariant(req: MergeSearchRequest): boolean {
  if (!isMergeMethod(req.method)) return false;
  const def = METHOD_INFO[req.method].global.find((p) => p.name === 'normalize')?.default;
  const v = req.parameters?.normalize ?? def;
  return v === true;
}

/** Checks a request; throws a message naming the problem. */
export function validateSearchRequest(req: MergeSearchRequest): { warnings: string[] } {
  const warnings: string[] = [];
  const ids = req.modelIds ?? [];
  if (ids.length < 2 || ids.length > MAX_MODELS) throw new Error(`merge search: choose 2 to ${MAX_MODELS} models, got ${ids.length}`);
  if (new Set(ids).size !== ids.length) throw new Error(`merge search: a model is listed twice (${ids.join(', ')})`);
  if (!isMergeMethod(req.method) || !weightTaking().includes(req.method)) {
    throw new Error(`merge search: method '${req.method}' has no per-model weight to search; use one of ${weightTaking().join(', ')}`);
  }
  const info = METHOD_INFO[req.method];
  if (info.base === 'required') {
    if (!req.baseId) throw new Error(`merge search: ${req.method} needs a base model (task vectors are relative to it)`);
    if (ids.includes(req.baseId)) throw new Error(`merge search: the base ${req.baseId} is also one of the weighted models; list it only as the base`);
  } else if (req.baseId) warnings.push(`${req.method} does not use a base model; ${req.baseId} is only evaluated as a reference`);
  if (req.parameters && 'weight' in req.parameters) throw new Error('merge search: `weight` is what the search sets; remove it from parameters');
  if (!Number.isInteger(req.seed)) throw new Error(`merge search: the seed must be an integer, got ${req.seed}`);
  const langs = req.languages ?? [];
  if (langs.length === 0) throw new Error('merge search: choose at least one language');
  if (new Set(langs).size !== langs.length) throw new Error('merge search: a language is listed twice');
  const objs = req.objectives ?? [];
  if (objs.length < 1 || objs.length > 2) throw new Error(`merge search: give one or two objectives, got ${objs.length}`);
  for (const o of objs) {
    if (!o.name?.trim()) throw new Error('merge search: every objective needs a name');
    if (!o.languages?.length) throw new Error(`merge search: objective '${o.name}' has no languages`);
    const outside = o.languages.filter((l) => !langs.includes(l));
    if (outside.length) throw new Error(`merge search: objective '${o.name}' uses ${outside.join(', ')}, which are not among the evaluated languages (${langs.join(', ')})`);
  }
  if (objs.length === 2 && objs[0].name === objs[1].name) throw new Error(`merge search: two objectives are both named '${objs[0].name}'`);
  const n = ids.length;
  switch (req.strategy) {
    case 'grid': {
      const count = gridPoints(n, req.grid ?? DEFAULT_GRID).length;
      if (count > MAX_POINTS) throw new Error(`merge search: the grid has ${count} points for ${n} models (max ${MAX_POINTS}); use a shorter grid, the simplex or CMA-ES`);
      if (count === 0) throw new Error('merge search: the grid has no point with a non-zero weight');
      break;
    }
    case 'simplex': {
      const r = req.resolution ?? defaultResolution(n);
      if (!Number.isInteger(r) || r < 1) throw new Error(`merge search: the resolution must be a positive integer, got ${r}`);
      const count = simplexPointCount(n, r);
      if (count > MAX_POINTS) throw new Error(`merge search: the simplex with step 1/${r} has ${count} points for ${n} models (max ${MAX_POINTS}); lower the resolution`);
      break;
    }
    case 'cmaes': {
      const b = req.budget ?? DEFAULT_BUDGET;
      if (!Number.isInteger(b) || b < 1 || b > MAX_POINTS) throw new Error(`merge search: the budget must be an integer from 1 to ${MAX_POINTS}, got ${b}`);
      if (req.parametrisation !== undefined && req.parametrisation !== 'softmax' && req.parametrisation !== 'projection') {
        throw new Error(`merge search: parametrisation '${req.parametrisation}' is not 'softmax' or 'projection'`);
      }
      if (req.populationSize !== undefined && (!Number.isInteger(req.populationSize) || req.populationSize < 2)) throw new Error(`merge search: the population size must be an integer ≥ 2, got ${req.populationSize}`);
      break;
    }
    default:
      throw new Error(`merge search: unknown strategy '${show(req.strategy)}' (grid, simplex or cmaes)`);
  }
  return { warnings };
}

/** The merge a candidate stands for: the request's method, base and global parameters, and one
 *  weight per model (model references are the request's ids). */
export function searchMergeConfig(req: MergeSearchRequest, weights: readonly number[]): MergeConfig {
  if (weights.length !== req.modelIds.length) throw new Error(`merge search: ${weights.length} weights for ${req.modelIds.length} models`);
  if (!isMergeMethod(req.method)) throw new Error(`merge search: unknown method '${req.method}'`);
  const needsBase = METHOD_INFO[req.method].base === 'required';
  return {
    method: req.method,
    baseModel: needsBase ? req.baseId ?? null : null,
    models: req.modelIds.map((model, i) => ({ model, parameters: { weight: weights[i] } })),
    parameters: { ...(req.parameters ?? {}) } as MergeParameters & Record<string, ParameterSetting>,
    seed: req.seed,
  };
}

/** Weights rounded to 12 digits (and normalised when the merge is scale-invariant): equal keys are
 *  the same merge. */
function weightKey(weights: readonly number[], invariant: boolean): string {
  const s = weights.reduce((a, b) => a + b, 0);
  const w = invariant && s > 0 ? weights.map((x) => x / s) : weights;
  return w.map((x) => x.toPrecision(12)).join(',');
}

const elapsed = (t0: number) => (performance.now() - t0) / 1000;

/** Runs the search: the inputs' losses first (reference rows), then every candidate in order,
 *  reporting progress after each. A cancel returns what was finished with `cancelled: true`. */
export async function runMergeSearch(req: MergeSearchRequest, evaluator: SearchEvaluator, hooks: SearchHooks = {}): Promise<SearchResult> {
  const t0 = performance.now();
  const { warnings } = validateSearchRequest(req);
  const stop = hooks.shouldStop ?? (() => false);
  const n = req.modelIds.length;
  const invariant = scaleInvariant(req);
  const points: SearchPoint[] = [];
  const inputs: Record<string, Record<string, number>> = {};
  let evaluations = 0;
  let cancelled = false;

  const finish = (): SearchResult => {
    const best = bestPoint(points);
    return {
      request: req,
      points,
      best: best as SearchPoint, // null only when cancelled before the first point (documented)
      pareto: paretoFront(points),
      inputs,
      cancelled,
      seconds: elapsed(t0),
      evaluations,
      warnings,
    };
  };

  const refs = [...(req.baseId ? [req.baseId] : []), ...req.modelIds];
  for (const id of refs) {
    const known = hooks.knownInputs?.[id];
    if (known && req.languages.every((l) => Number.isFinite(known[l]))) {
      inputs[id] = Object.fromEntries(req.languages.map((l) => [l, known[l]]));
      continue;
    }
    if (stop()) {
      cancelled = true;
      return finish();
    }
    const r = await evaluator.evaluateModel(id);
    if (r === null || stop()) {
      cancelled = true;
      return finish();
    }
    inputs[id] = r;
  }

  const total = req.strategy === 'grid' ? gridPoints(n, req.grid ?? DEFAULT_GRID).length : req.strategy === 'simplex' ? simplexPointCount(n, req.resolution ?? defaultResolution(n)) : req.budget ?? DEFAULT_BUDGET;
  const cache = new Map<string, Record<string, number>>();
  const tSearch = performance.now();

  /** Evaluates one candidate; null when cancelled. */
  const evaluate = async (weights: number[], generation?: number): Promise<SearchPoint | null> => {
    if (stop()) return null;
    const key = weightKey(weights, invariant);
    let perLanguage = cache.get(key);
    const reused = perLanguage !== undefined;
    if (!perLanguage) {
      const r = await evaluator.evaluateMerge(weights);
      if (r === null || stop()) return null;
      for (const l of req.languages) if (!Number.isFinite(r[l])) throw new Error(`merge search: the merge with weights [${weights.join(', ')}] has no finite held-out loss for '${l}' (${r[l]})`);
      perLanguage = r;
      cache.set(key, r);
      evaluations++;
    }
    const objectives = objectiveScores(perLanguage, req.objectives);
    const point: SearchPoint = { weights, perLanguage, objectives, score: scalarScore(objectives), ...(generation !== undefined ? { generation } : {}), ...(reused ? { reused } : {}) };
    points.push(point);
    const secs = elapsed(tSearch);
    hooks.onProgress?.({ done: points.length, total, latest: point, best: bestPoint(points)!, etaSeconds: (secs / points.length) * (total - points.length) });
    return point;
  };

  if (req.strategy === 'grid' || req.strategy === 'simplex') {
    const candidates = req.strategy === 'grid' ? gridPoints(n, req.grid ?? DEFAULT_GRID) : simplexPoints(n, req.resolution ?? defaultResolution(n));
    for (const w of candidates) {
      if ((await evaluate(w)) === null) {
        cancelled = true;
        break;
      }
    }
    return finish();
  }

  // CMA-ES on the simplex.
  const budget = req.budget ?? DEFAULT_BUDGET;
  const projection = req.parametrisation === 'projection';
  const toWeights = (x: number[]) => (projection ? projectToSimplex(x) : softmaxSimplex(x));
  const start = projection ? new Array(n).fill(1 / n) : new Array(n - 1).fill(0);
  // Initial step: about one unit of log-weight (softmax), or a third of a uniform weight (projection).
  const es = new CmaEs(start, projection ? 1 / (3 * n) : 1, new Rng(req.seed), { populationSize: req.populationSize });
  const first = await evaluate(toWeights(start), 0);
  if (first === null) {
    cancelled = true;
    return finish();
  }
  let used = 1;
  while (used < budget) {
    const xs = es.ask().slice(0, budget - used);
    const fitness: number[] = [];
    for (const x of xs) {
      const p = await evaluate(toWeights(x), es.generation + 1);
      if (p === null) {
        cancelled = true;
        return finish();
      }
      fitness.push(-p.score!);
    }
    used += xs.length;
    if (xs.length >= es.mu) es.tell(xs, fitness);
  }
  return finish();
}
