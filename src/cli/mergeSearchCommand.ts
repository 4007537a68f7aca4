// CLI `merge-search`: search merge weights over model folders (grid, simplex or CMA-ES; see
// src/merge/search.ts) by per-language held-out loss, and `held-out`: the held-out loss matrix of
// model folders (the same numbers a search reports for its inputs and the zoo's manifest holds).
//
// merge-search writes result.json (the SearchResult), result.csv (one row per evaluated point) and
// result.best.yml — the best point as a mergekit config, so `aya-playground merge result.best.yml
// --out DIR` makes that model (model paths are as given on the command line, relative to where it
// ran).
import { show } from '../util/show.ts';
import { makeDirs } from '../util/fs.node.ts';
import { writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { ParseArgsConfig } from 'node:util';
import type { EngineApi } from '../engine/api.ts';
import { runJob } from './jobs.ts';
import { LANGUAGE_CODES } from '../data/languages.ts';
import { type MergeSearchRequest, searchMergeConfig, type SearchObjective, type SearchPoint, type SearchResult, type SearchStrategy } from '../merge/search.ts';
import { toMergekitYaml } from '../merge/yaml.ts';
import { int, need, UsageError, type Values } from './args.ts';
import pkg from '../../package.json';

export const MERGE_SEARCH_USAGE = `  merge-search --models DIR,DIR,… [--base DIR] [--method linear] --out result.json
       [--strategy grid|simplex|cmaes] [--langs xx,…] [--objective NAME=xx,xx …(1 or 2)]
       [--grid 0,.3,.5,.7,1] [--resolution N] [--budget N] [--population N]
       [--parametrisation softmax|projection] [--param density=0.5 …] [--seed S]
                                             search merge weights by per-language held-out loss
                                             (score = mean −loss); writes result.json, result.csv
                                             and result.best.yml (mergekit config of the best)
  held-out --models DIR,DIR,… [--langs xx,…] [--out losses.json]
                                             per-language held-out loss (UDHR articles 23–30)
`;

export const MERGE_SEARCH_OPTIONS: Record<string, ParseArgsConfig['options']> = {
  'merge-search': {
    models: { type: 'string' },
    base: { type: 'string' },
    method: { type: 'string', default: 'linear' },
    strategy: { type: 'string', default: 'cmaes' },
    langs: { type: 'string' },
    objective: { type: 'string', multiple: true },
    grid: { type: 'string' },
    resolution: { type: 'string' },
    budget: { type: 'string' },
    population: { type: 'string' },
    parametrisation: { type: 'string' },
    param: { type: 'string', multiple: true },
    seed: { type: 'string' },
    out: { type: 'string' },
  },
  'held-out': { models: { type: 'string' }, langs: { type: 'string' }, out: { type: 'string' } },
};

const list = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);

function languagesFrom(values: Values): string[] {
  if (typeof values.langs !== 'string') return [...LANGUAGE_CODES];
  const langs = list(values.langs);
  for (const l of langs) if (!LANGUAGE_CODES.includes(l)) throw new UsageError(`--langs: unknown language '${l}'`);
  if (!langs.length) throw new UsageError('--langs: no language given');
  return langs;
}

/** `--objective romance=fra,spa,ita`; without one, a single objective over every language. */
function objectivesFrom(raw: unknown, languages: string[]): SearchObjective[] {
  const given = Array.isArray(raw) ? (raw as string[]) : typeof raw === 'string' ? [raw] : [];
  if (given.length === 0) return [{ name: 'mean', languages }];
  return given.map((g) => {
    const eq = g.indexOf('=');
    if (eq <= 0) throw new UsageError(`--objective: expected NAME=xx,yy, got '${g}'`);
    const langs = list(g.slice(eq + 1));
    for (const l of langs) if (!LANGUAGE_CODES.includes(l)) throw new UsageError(`--objective ${g.slice(0, eq)}: unknown language '${l}'`);
    return { name: g.slice(0, eq), languages: langs };
  });
}

/** `--param density=0.5 --param normalize=false`: numbers and booleans become such. */
function parametersFrom(raw: unknown): Record<string, unknown> | undefined {
  const given = Array.isArray(raw) ? (raw as string[]) : typeof raw === 'string' ? [raw] : [];
  if (!given.length) return undefined;
  const out: Record<string, unknown> = {};
  for (const g of given) {
    const eq = g.indexOf('=');
    if (eq <= 0) throw new UsageError(`--param: expected NAME=VALUE, got '${g}'`);
    const v = g.slice(eq + 1).trim();
    out[g.slice(0, eq).trim()] = v === 'true' ? true : v === 'false' ? false : v !== '' && Number.isFinite(Number(v)) ? Number(v) : v;
  }
  return out;
}

function numberList(values: Values, name: string): number[] | undefined {
  const v = values[name];
  if (typeof v !== 'string') return undefined;
  const xs = list(v).map(Number);
  if (!xs.length || xs.some((x) => !Number.isFinite(x))) throw new UsageError(`--${name}: expected comma-separated numbers, got '${v}'`);
  return xs;
}

const fmtW = (w: number[]) => `[${w.map((x) => x.toFixed(3)).join(', ')}]`;
const fmtP = (p: SearchPoint) => `${fmtW(p.weights)} ${p.objectives.map((o) => o.toFixed(4)).join(' / ')}`;

/** One row per evaluated point: weights, objectives, per-language loss. */
export function searchCsv(r: SearchResult): string {
  const langs = r.request.languages;
  const q = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const head = ['index', 'generation', ...r.request.modelIds.map((m) => `w:${m}`), ...r.request.objectives.map((o) => `objective:${o.name}`), 'score', 'mean_loss', ...langs.map((l) => `loss:${l}`)];
  const rows = r.points.map((p, i) => [i, p.generation ?? '', ...p.weights, ...p.objectives, p.score ?? '', langs.reduce((a, l) => a + p.perLanguage[l], 0) / langs.length, ...langs.map((l) => p.perLanguage[l])].map(String));
  return [head.map(q).join(','), ...rows.map((r) => r.map(q).join(','))].join('\n') + '\n';
}

async function writeOut(file: string, text: string): Promise<void> {
  await makeDirs(dirname(file));
  await writeFile(file, text);
}

/** Runs `merge-search` or `held-out`; null for any other command. */
export async function runMergeSearchCommand(engine: EngineApi, command: string, values: Values, asJson: boolean): Promise<number | null> {
  if (command === 'held-out') {
    const models = list(need(values, 'models'));
    const langs = languagesFrom(values);
    const t0 = performance.now();
    const losses = await runJob(engine, 'heldOutLoss', { modelIds: models, languages: langs }, (e) => {
      if (!asJson) process.stderr.write(`[${e.done}/${e.total}] ${e.modelId}\n`);
    });
    const mean = (r: Record<string, number>) => langs.reduce((a, l) => a + r[l], 0) / langs.length;
    const result = { languages: langs, losses, mean: Object.fromEntries(models.map((m) => [m, mean(losses[m])])), seconds: (performance.now() - t0) / 1000 };
    if (typeof values.out === 'string') await writeOut(resolve(values.out), JSON.stringify(result, null, 2) + '\n');
    if (asJson) process.stdout.write(JSON.stringify(result) + '\n');
    else for (const m of models) process.stdout.write(`${mean(losses[m]).toFixed(4)}  ${m}\n`);
    return 0;
  }
  if (command !== 'merge-search') return null;

  const outFile = resolve(need(values, 'out'));
  const languages = languagesFrom(values);
  const strategy = String(values.strategy) as SearchStrategy;
  if (!['grid', 'simplex', 'cmaes'].includes(strategy)) throw new UsageError(`--strategy: expected grid, simplex or cmaes, got '${strategy}'`);
  const parametrisation = values.parametrisation;
  if (parametrisation !== undefined && parametrisation !== 'softmax' && parametrisation !== 'projection') throw new UsageError(`--parametrisation: expected softmax or projection, got '${show(parametrisation)}'`);
  const req: MergeSearchRequest = {
    modelIds: list(need(values, 'models')),
    baseId: typeof values.base === 'string' ? values.base : undefined,
    method: String(values.method),
    parameters: parametersFrom(values.param),
    strategy,
    grid: numberList(values, 'grid'),
    resolution: values.resolution === undefined ? undefined : int(values, 'resolution'),
    budget: values.budget === undefined ? undefined : int(values, 'budget'),
    populationSize: values.population === undefined ? undefined : int(values, 'population'),
    parametrisation,
    objectives: objectivesFrom(values.objective, languages),
    languages,
    seed: int(values, 'seed', 1),
  };
  // Drop unset optional fields, so result.json holds the request as it ran.
  for (const k of Object.keys(req) as Array<keyof MergeSearchRequest>) if (req[k] === undefined) delete req[k];

  const r = await runJob(engine, 'mergeSearch', req, (p) => {
    if (asJson) process.stdout.write(JSON.stringify({ type: 'point', done: p.done, total: p.total, point: p.latest, etaSeconds: p.etaSeconds }) + '\n');
    else process.stderr.write(`[${p.done}/${p.total}] ${fmtP(p.latest)}${p.latest.reused ? ' (reused)' : ''}   best ${fmtP(p.best)}, about ${Math.round(p.etaSeconds)} s left\n`);
  });
  await writeOut(outFile, JSON.stringify(r, null, 2) + '\n');
  const stem = outFile.replace(/\.json$/i, '');
  await writeOut(`${stem}.csv`, searchCsv(r));
  let yamlFile: string | null = null;
  if (r.best) {
    yamlFile = `${stem}.best.yml`;
    const header = ` best of merge-search (${req.strategy}, ${r.points.length} points, seed ${req.seed}) by aya-playground ${pkg.version}: ` + `objectives ${r.request.objectives.map((o, i) => `${o.name} ${r.best.objectives[i].toFixed(4)}`).join(', ')}\n model paths are relative to ${process.cwd()}`;
    await writeOut(yamlFile, toMergekitYaml(searchMergeConfig(req, r.best.weights), { header }));
  }
  if (asJson) process.stdout.write(JSON.stringify({ type: 'done', out: outFile, best: r.best, pareto: r.pareto, cancelled: r.cancelled, seconds: r.seconds, evaluations: r.evaluations, yaml: yamlFile }) + '\n');
  else {
    for (const w of r.warnings ?? []) process.stderr.write(`warning: ${w}\n`);
    process.stdout.write(`${r.cancelled ? 'cancelled after' : 'searched'} ${r.points.length} points (${r.evaluations} merges) in ${r.seconds.toFixed(0)} s\n`);
    if (r.best) {
      process.stdout.write(`best weights (${req.method}):\n`);
      req.modelIds.forEach((m, i) => process.stdout.write(`  ${r.best.weights[i].toFixed(4)}  ${m}\n`));
      process.stdout.write(`objectives: ${req.objectives.map((o, i) => `${o.name} ${r.best.objectives[i].toFixed(4)}`).join(', ')} (mean −loss)\n`);
      for (const [id, losses] of Object.entries(r.inputs)) {
        process.stdout.write(`  input ${id}: ${req.objectives.map((o) => `${o.name} ${(-o.languages.reduce((a, l) => a + losses[l], 0) / o.languages.length).toFixed(4)}`).join(', ')}\n`);
      }
      if (r.pareto.length) process.stdout.write(`Pareto front: ${r.pareto.map(fmtP).join('; ')}\n`);
    }
    process.stdout.write(`wrote ${outFile}, ${stem}.csv${yamlFile ? `, ${yamlFile} (aya-playground merge ${yamlFile} --out DIR)` : ''}\n`);
  }
  return 0;
}
