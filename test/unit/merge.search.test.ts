// Merge-weight search: grid and simplex enumeration, CMA-ES (deterministic, finds known optima on
// the simplex), the Pareto front, request validation and the search loop with a stand-in
// evaluator (no GPU); then one Engine.mergeSearch on two tiny random models (GPU, held-out loss).
import { afterAll, describe, expect, it } from 'vitest';
import { CmaEs, defaultPopulationSize, minimize, projectToSimplex, softmaxSimplex, symmetricEigen } from '../../src/merge/cmaes.ts';
import {
  bestPoint,
  defaultResolution,
  gridPoints,
  type MergeSearchRequest,
  objectiveScores,
  paretoFront,
  runMergeSearch,
  searchMergeConfig,
  type SearchEvaluator,
  type SearchProgress,
  simplexPointCount,
  simplexPoints,
  validateSearchRequest,
} from '../../src/merge/search.ts';
import { Rng } from '../../src/util/rng.ts';
import { Engine } from '../../src/engine/engine.ts';
import { nodePlatform } from '../../src/cli/platform.ts';
import { memoryStore } from './memoryStore.ts';
import { main } from '../../src/cli/main.ts';
import { searchCsv } from '../../src/cli/mergeSearchCommand.ts';

const binomial = (n: number, k: number): number => (k === 0 ? 1 : (binomial(n - 1, k - 1) * n) / k);

describe('simplex and grid enumeration', () => {
  it('counts C(resolution + n − 1, n − 1) points, each on the simplex, none repeated', () => {
    for (const [n, r] of [[2, 10], [3, 6], [4, 4], [5, 3], [8, 3], [1, 5]]) {
      const pts = simplexPoints(n, r);
      expect(pts.length).toBe(binomial(r + n - 1, n - 1));
      expect(simplexPointCount(n, r)).toBe(pts.length);
      for (const p of pts) {
        expect(p).toHaveLength(n);
        expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
        for (const x of p) expect(Math.round(x * r) / r).toBeCloseTo(x, 12);
      }
      expect(new Set(pts.map((p) => p.join())).size).toBe(pts.length);
    }
    expect(simplexPoints(2, 4)).toEqual([[1, 0], [0.75, 0.25], [0.5, 0.5], [0.25, 0.75], [0, 1]]);
    expect(simplexPoints(3, 6)).toHaveLength(28);
    expect(defaultResolution(2)).toBe(10);
    expect(defaultResolution(3)).toBe(6);
    expect(() => simplexPoints(2, 0)).toThrow(/resolution/);
  });

  it('grid: every combination without the all-zero point', () => {
    const g = gridPoints(2);
    expect(g).toHaveLength(5 ** 2 - 1);
    expect(g[0]).toEqual([0, 0.3]);
    expect(g.at(-1)).toEqual([1, 1]);
    expect(g.some((p) => p.every((x) => x === 0))).toBe(false);
    expect(gridPoints(3, [0, 1])).toHaveLength(7);
    expect(gridPoints(2, [0.5, 1])).toHaveLength(4); // no zero in the grid: nothing skipped
    expect(() => gridPoints(2, [-1, 1])).toThrow(/≥ 0/);
  });
});

describe('CMA-ES', () => {
  it('Jacobi eigen-decomposition reconstructs a symmetric matrix', () => {
    const A = [[4, 1, 0.5], [1, 3, -0.2], [0.5, -0.2, 2]];
    const { values, vectors } = symmetricEigen(A);
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) {
        let s = 0;
        for (let k = 0; k < 3; k++) s += vectors[i][k] * values[k] * vectors[j][k];
        expect(s).toBeCloseTo(A[i][j], 10);
      }
    }
  });

  it('minimises a shifted sphere and an ill-conditioned ellipsoid in R⁴', () => {
    const target = [1, -2, 0.5, 3];
    const sphere = (x: number[]) => x.reduce((s, v, i) => s + (v - target[i]) ** 2, 0);
    const r = minimize(sphere, [0, 0, 0, 0], 1, 600, new Rng(1));
    expect(r.evaluations).toBe(600);
    expect(r.f).toBeLessThan(1e-6);
    const ellipsoid = (x: number[]) => x.reduce((s, v, i) => s + 10 ** (2 * i / 3) * (v - 1) ** 2, 0);
    expect(minimize(ellipsoid, [0, 0, 0, 0], 0.5, 1500, new Rng(2)).f).toBeLessThan(1e-6);
  });

  it('is deterministic by seed', () => {
    const f = (x: number[]) => (x[0] - 0.3) ** 2 + 4 * (x[1] + 0.1) ** 2;
    const a = minimize(f, [0, 0], 1, 60, new Rng(7));
    const b = minimize(f, [0, 0], 1, 60, new Rng(7));
    const c = minimize(f, [0, 0], 1, 60, new Rng(8));
    expect(a).toEqual(b);
    expect(c.x).not.toEqual(a.x);
    const es = new CmaEs([0, 0, 0], 1, new Rng(3));
    expect(es.lambda).toBe(defaultPopulationSize(3));
    expect(es.ask()).toHaveLength(7);
  });

  it('finds a known interior optimum on the simplex through softmax and through projection', () => {
    const wStar = [0.5, 0.3, 0.2];
    const onSimplex = (w: number[]) => w.reduce((s, v, i) => s + (v - wStar[i]) ** 2, 0);
    const soft = minimize((z) => onSimplex(softmaxSimplex(z)), [0, 0], 1, 300, new Rng(11));
    softmaxSimplex(soft.x).forEach((v, i) => expect(v).toBeCloseTo(wStar[i], 3));
    const proj = minimize((x) => onSimplex(projectToSimplex(x)), [1 / 3, 1 / 3, 1 / 3], 0.1, 400, new Rng(12));
    projectToSimplex(proj.x).forEach((v, i) => expect(v).toBeCloseTo(wStar[i], 3));
  });

  it('projection reaches a vertex optimum exactly (softmax only approaches it)', () => {
    // A linear objective on the simplex is minimised at a vertex: all weight on the cheapest model.
    const cost = [0.9, 0.2, 0.6];
    const f = (w: number[]) => w.reduce((s, v, i) => s + v * cost[i], 0);
    const proj = minimize((x) => f(projectToSimplex(x)), [1 / 3, 1 / 3, 1 / 3], 0.2, 200, new Rng(4));
    expect(projectToSimplex(proj.x)).toEqual([0, 1, 0]);
    const soft = minimize((z) => f(softmaxSimplex(z)), [0, 0], 1, 200, new Rng(4));
    expect(softmaxSimplex(soft.x)[1]).toBeGreaterThan(0.99);
  });

  it('maps: softmax of 0 is uniform and sums to 1; projection keeps simplex points and clips', () => {
    expect(softmaxSimplex([0, 0, 0])).toEqual([0.25, 0.25, 0.25, 0.25]);
    expect(softmaxSimplex([800, -800]).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(projectToSimplex([0.2, 0.5, 0.3]).map((x) => +x.toFixed(12))).toEqual([0.2, 0.5, 0.3]);
    expect(projectToSimplex([2, 0, -1])).toEqual([1, 0, 0]);
    expect(projectToSimplex([0.6, 0.6])).toEqual([0.5, 0.5]);
  });
});

describe('Pareto front and scores', () => {
  const p = (a: number, b: number, tag: string) => ({ objectives: [a, b], tag });
  it('keeps exactly the non-dominated points, best first objective first', () => {
    const pts = [p(1, 5, 'A'), p(2, 4, 'B'), p(1.5, 3, 'dominated by B'), p(3, 1, 'C'), p(2, 4, 'B again'), p(0, 5, 'dominated by A'), p(3, 0.5, 'dominated by C')];
    expect(paretoFront(pts).map((x) => x.tag)).toEqual(['C', 'B', 'A']);
    expect(paretoFront([p(1, 1, 'only')]).map((x) => x.tag)).toEqual(['only']);
    expect(paretoFront([{ objectives: [1] }, { objectives: [2] }])).toEqual([]);
    expect(paretoFront([])).toEqual([]);
  });

  it('objective = mean of −loss over its languages; best ranks by the mean of the objectives', () => {
    expect(objectiveScores({ fra: 2, spa: 4, rus: 3 }, [{ name: 'romance', languages: ['fra', 'spa'] }, { name: 'slavic', languages: ['rus'] }])).toEqual([-3, -3]);
    expect(() => objectiveScores({ fra: 2 }, [{ name: 'x', languages: ['rus'] }])).toThrow(/'x'.*'rus'/);
    expect(bestPoint([{ objectives: [-3, -1] }, { objectives: [-2, -2.5] }, { objectives: [-1.8, -2.1] }])).toEqual({ objectives: [-1.8, -2.1] });
    expect(bestPoint([])).toBeNull();
  });
});

const REQ: MergeSearchRequest = {
  modelIds: ['a', 'b', 'c'],
  baseId: 'base',
  method: 'task_arithmetic',
  strategy: 'simplex',
  objectives: [{ name: 'all', languages: ['fra', 'rus'] }],
  languages: ['fra', 'rus'],
  seed: 1,
};

describe('search requests', () => {
  it('rejects what cannot be searched, naming the problem', () => {
    const bad = (patch: Partial<MergeSearchRequest>, msg: RegExp) => expect(() => validateSearchRequest({ ...REQ, ...patch })).toThrow(msg);
    bad({ modelIds: ['a'] }, /2 to 8 models/);
    bad({ method: 'slerp' }, /no per-model weight.*linear/);
    bad({ method: 'nonsense' }, /no per-model weight/);
    bad({ baseId: undefined }, /needs a base/);
    bad({ baseId: 'a' }, /also one of the weighted models/);
    bad({ objectives: [{ name: 'x', languages: ['deu'] }] }, /'x' uses deu/);
    bad({ objectives: [] }, /one or two objectives/);
    bad({ strategy: 'grid', modelIds: ['a', 'b', 'c', 'd', 'e'] }, /3124 points/);
    bad({ strategy: 'cmaes', budget: 0 }, /budget/);
    bad({ parameters: { weight: 1 } }, /`weight` is what the search sets/);
    expect(validateSearchRequest({ ...REQ, method: 'linear' }).warnings[0]).toMatch(/does not use a base/);
  });

  it('builds the merge a candidate stands for', () => {
    const c = searchMergeConfig({ ...REQ, method: 'dare_ties', parameters: { density: 0.5 }, seed: 9 }, [0.2, 0.3, 0.5]);
    expect(c).toEqual({ method: 'dare_ties', baseModel: 'base', models: [{ model: 'a', parameters: { weight: 0.2 } }, { model: 'b', parameters: { weight: 0.3 } }, { model: 'c', parameters: { weight: 0.5 } }], parameters: { density: 0.5 }, seed: 9 });
    expect(searchMergeConfig({ ...REQ, method: 'linear' }, [1, 0, 0]).baseModel).toBeNull();
  });
});

/** A stand-in evaluator: the "loss" of a merge is a quadratic bowl around a known best mixture. */
function bowl(wStar: number[], calls: number[][] = []): SearchEvaluator {
  return {
    async evaluateMerge(w) {
      calls.push(w);
      const s = w.reduce((a, b) => a + b, 0);
      const d = w.reduce((acc, v, i) => acc + (v / s - wStar[i]) ** 2, 0);
      return { fra: 2 + d, rus: 3 + 2 * d + 0.5 * (w[0] / s) };
    },
    async evaluateModel(id) {
      return { fra: id.length, rus: 10 };
    },
  };
}

describe('runMergeSearch (stand-in evaluator)', () => {
  it('simplex: every point in order with progress; inputs include the base', async () => {
    const seen: SearchProgress[] = [];
    const r = await runMergeSearch({ ...REQ, resolution: 4 }, bowl([0.5, 0.25, 0.25]), { onProgress: (p) => seen.push(p) });
    expect(r.points).toHaveLength(15);
    expect(seen.map((p) => p.done)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    expect(seen.every((p) => p.total === 15)).toBe(true);
    expect(r.best.weights).toEqual([0.5, 0.25, 0.25]);
    expect(r.pareto).toEqual([]);
    expect(Object.keys(r.inputs)).toEqual(['base', 'a', 'b', 'c']);
    expect(r.cancelled).toBe(false);
  });

  it('grid: equivalent weights (same after normalize) are merged once', async () => {
    const calls: number[][] = [];
    const r = await runMergeSearch({ ...REQ, method: 'linear', baseId: undefined, modelIds: ['a', 'b'], strategy: 'grid' }, bowl([0.5, 0.5], calls));
    expect(r.points).toHaveLength(24);
    // [0,.3] [0,.5] [0,.7] [0,1] are all "only b"; [.3,.3] … [1,1] are all "half and half".
    expect(calls.length).toBe(r.evaluations);
    expect(calls.length).toBeLessThan(24);
    expect(r.points.filter((p) => p.reused).length).toBe(24 - calls.length);
    expect(r.best.weights[0]).toBe(r.best.weights[1]);
    // task_arithmetic does not normalize by default: every grid point is its own merge.
    const calls2: number[][] = [];
    await runMergeSearch({ ...REQ, modelIds: ['a', 'b'], strategy: 'grid' }, bowl([0.5, 0.5], calls2));
    expect(calls2.length).toBe(24);
  });

  it('cmaes: starts at the uniform soup, spends exactly the budget, is seeded, and approaches the optimum', async () => {
    const req: MergeSearchRequest = { ...REQ, strategy: 'cmaes', budget: 60, seed: 3 };
    const r = await runMergeSearch(req, bowl([0.6, 0.3, 0.1]));
    expect(r.points).toHaveLength(60);
    expect(r.points[0].weights).toEqual([1 / 3, 1 / 3, 1 / 3]);
    expect(r.points[0].generation).toBe(0);
    expect(r.points.at(-1)!.generation).toBeGreaterThan(1);
    for (const p of r.points) expect(p.weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(r.best.score!).toBeGreaterThan(r.points[0].score!);
    r.best.weights.forEach((w, i) => expect(Math.abs(w - [0.6, 0.3, 0.1][i])).toBeLessThan(0.1));
    const again = await runMergeSearch(req, bowl([0.6, 0.3, 0.1]));
    expect(again.points.map((p) => p.weights)).toEqual(r.points.map((p) => p.weights));
    const proj = await runMergeSearch({ ...req, parametrisation: 'projection', budget: 10 }, bowl([0.6, 0.3, 0.1]));
    expect(proj.points).toHaveLength(10);
  });

  it('two objectives: best by their mean, and a Pareto front of non-dominated points', async () => {
    const req: MergeSearchRequest = { ...REQ, modelIds: ['a', 'b'], resolution: 10, objectives: [{ name: 'romance', languages: ['fra'] }, { name: 'slavic', languages: ['rus'] }] };
    const r = await runMergeSearch(req, bowl([0.5, 0.5]));
    expect(r.pareto.length).toBeGreaterThan(1);
    for (const p of r.pareto) for (const q of r.points) expect(q.objectives[0] > p.objectives[0] && q.objectives[1] > p.objectives[1]).toBe(false);
    expect(r.best.score).toBeCloseTo((r.best.objectives[0] + r.best.objectives[1]) / 2, 12);
    for (const q of r.points) expect(q.score!).toBeLessThanOrEqual(r.best.score!);
  });

  it('a cancel returns the finished points, marked cancelled', async () => {
    let stop = false;
    const r = await runMergeSearch({ ...REQ, resolution: 4 }, bowl([1, 0, 0]), { shouldStop: () => stop, onProgress: (p) => p.done === 3 && (stop = true) });
    expect(r.cancelled).toBe(true);
    expect(r.points).toHaveLength(3);
    expect(r.best).toBe(bestPoint(r.points));
  });
});

describe('aya-playground merge-search (no GPU)', () => {
  it('refuses bad options with exit code 2 before any work', async () => {
    expect(await main(['merge-search', '--models', 'a,b'])).toBe(2); // no --out
    expect(await main(['merge-search', '--models', 'a,b', '--out', 'x.json', '--strategy', 'random'])).toBe(2);
    expect(await main(['merge-search', '--models', 'a,b', '--out', 'x.json', '--objective', 'no-languages'])).toBe(2);
    expect(await main(['merge-search', '--models', 'a,b', '--out', 'x.json', '--langs', 'xx'])).toBe(2);
  });

  it('writes one CSV row per point: weights, objectives, score, per-language loss', async () => {
    const r = await runMergeSearch({ ...REQ, resolution: 1 }, bowl([1, 0, 0]));
    const lines = searchCsv(r).trim().split('\n');
    expect(lines[0]).toBe('index,generation,w:a,w:b,w:c,objective:all,score,mean_loss,loss:fra,loss:rus');
    expect(lines).toHaveLength(4);
    expect(lines[1].split(',').slice(0, 5)).toEqual(['0', '', '1', '0', '0']);
  });
});

describe('Engine.mergeSearch (GPU)', () => {
  const store = memoryStore();
  const engine = new Engine({ ...nodePlatform, models: store });
  afterAll(() => engine.dispose());

  const ids: string[] = [];
  const models = async () => {
    if (!ids.length) ids.push((await engine.createModel({ name: 'search a', preset: 'tiny', seed: 31 })).id, (await engine.createModel({ name: 'search b', preset: 'tiny', seed: 32 })).id);
    return ids;
  };

  it('a 3-point simplex between two tiny models: endpoints equal the inputs, the midpoint is a new model', async () => {
    const [a, b] = await models();
    const langs = ['fra', 'rus'];
    const progress: SearchProgress[] = [];
    const job = engine.start('mergeSearch', { modelIds: [a, b], method: 'linear', strategy: 'simplex', resolution: 2, objectives: [{ name: 'latin', languages: ['fra'] }, { name: 'cyrillic', languages: ['rus'] }], languages: langs, seed: 1 });
    job.on((p) => progress.push(p));
    const r = await job.result();
    expect(r.points.map((p) => p.weights)).toEqual([[1, 0], [0.5, 0.5], [0, 1]]);
    expect(progress.map((p) => [p.done, p.total])).toEqual([[1, 3], [2, 3], [3, 3]]);
    for (const l of langs) {
      // Random models: loss ≈ ln(4096) ≈ 8.3 nats.
      expect(r.points[1].perLanguage[l]).toBeGreaterThan(7);
      expect(r.points[1].perLanguage[l]).toBeLessThan(10);
      // Weight [1, 0] is model a itself (linear, normalize): the same held-out loss.
      expect(r.points[0].perLanguage[l]).toBeCloseTo(r.inputs[a][l], 4);
      expect(r.points[2].perLanguage[l]).toBeCloseTo(r.inputs[b][l], 4);
    }
    expect(r.points[1].perLanguage.fra).not.toBeCloseTo(r.inputs[a].fra, 4);
    expect(r.pareto.length).toBeGreaterThanOrEqual(1);
    expect(r.cancelled).toBe(false);
    expect(store.data.size).toBe(2); // nothing was saved
  }, 300_000);

  it('cancel after the first point: the job stops and says so', async () => {
    const [a, b] = await models();
    const job = engine.start('mergeSearch', { modelIds: [a, b], method: 'linear', strategy: 'simplex', resolution: 2, objectives: [{ name: 'all', languages: ['fra'] }], languages: ['fra'], seed: 1 });
    job.on((p) => p.done === 1 && void job.cancel());
    const o = await job.outcome;
    expect(o.status).toBe('cancelled');
    const r = o.status === 'cancelled' ? o.result! : (null as never);
    expect(r.cancelled).toBe(true);
    expect(r.points).toHaveLength(1);
  }, 300_000);
});
