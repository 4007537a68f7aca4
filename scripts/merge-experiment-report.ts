// Tables of issue 7's merge experiment (scripts/merge-experiment.sh) from its raw outputs in
// docs/results/merge-experiment/: held-out.json (per-language held-out loss of every model),
// eval-*-vs-union.json (head-to-head reports) and search-cmaes.json (the weight search). Writes
//   docs/results/merge-experiment.json   everything the tables show, machine-readable
//   docs/results/merge-experiment.csv    the per-language held-out loss matrix (models × languages)
//   docs/results/merge-experiment-winrates.csv   win/tie/loss vs the union, overall and per language
// and replaces the part of docs/results/merge-experiment.md between the `tables` markers.
//
//   npx tsx scripts/merge-experiment-report.ts
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { FAMILIES, LANGUAGE_CODES } from '../src/data/languages.ts';

const RAW = 'docs/results/merge-experiment';
const EXP = process.env.EXP ?? 'scratch/merge-exp';
const BASE = 'public/models/base-student';

interface WinRate { n: number; wins: number; ties: number; losses: number; winRate: number; ci: [number, number]; meanRewardA: number; meanRewardB: number }
interface EvalReport { perLanguage: Record<string, WinRate>; overall: WinRate; spec: { samples: number; seed: number; sampling: Record<string, number> } }
interface HeldOut { languages: string[]; losses: Record<string, Record<string, number>> }
interface Search { request: Record<string, unknown> & { modelIds: string[]; budget?: number; seed: number }; points: Array<{ weights: number[]; score?: number; generation?: number }>; best: { weights: number[]; objectives: number[] }; inputs: Record<string, Record<string, number>>; seconds: number; evaluations?: number }

const readJson = <T>(f: string): T => JSON.parse(readFileSync(f, 'utf8')) as T;
const held = readJson<HeldOut>(`${RAW}/held-out.json`);
const search = existsSync(`${RAW}/search-cmaes.json`) ? readJson<Search>(`${RAW}/search-cmaes.json`) : null;
const langs = [...LANGUAGE_CODES];
// eng/spa/fra are in every expert's data (Aya's shared languages); the other 20 in one expert's only.
const SHARED = ['eng', 'spa', 'fra'];
const OTHERS = langs.filter((l) => !SHARED.includes(l));

interface Row { key: string; label: string; kind: string; path: string | null; perLanguage: Record<string, number> }
const rows: Row[] = [];
const add = (key: string, label: string, kind: string, path: string) => {
  const perLanguage = held.losses[path];
  if (!perLanguage) throw new Error(`held-out.json has no row for ${path}`);
  rows.push({ key, label, kind, path, perLanguage });
};
add('base-student', 'base-student (shared base, 200 steps)', 'base', BASE);
for (const f of FAMILIES) add(`expert-${f.id}`, `expert ${f.id}`, 'expert', `${EXP}/expert-${f.id}`);
add('union', 'union (all 23 languages, 5×S steps)', 'union', `${EXP}/union`);
// The oracle: each language's best expert — what routing every prompt to the right expert would get.
const experts = rows.filter((r) => r.kind === 'expert');
rows.push({ key: 'oracle', label: 'best expert per language (oracle, not a model)', kind: 'oracle', path: null, perLanguage: Object.fromEntries(langs.map((l) => [l, Math.min(...experts.map((e) => e.perLanguage[l]))])) });
const MERGES: Array<[string, string]> = [
  ['linear', 'merge linear (equal weights)'],
  ['ties', 'merge ties (density 0.5)'],
  ['dare_ties', 'merge dare_ties (density 0.5, w 0.2)'],
  ['task_arithmetic', 'merge task_arithmetic (base + Σ τ)'],
  ['cmaes', 'merge linear, CMA-ES weights'],
];
for (const [k, label] of MERGES) add(k, label, 'merge', `${EXP}/merge-${k}`);
add('zoo-teachers-linear', 'zoo teachers linear (different inits!)', 'caution', `${EXP}/merge-zoo-teachers-linear`);

const mean = (r: Record<string, number>, ls: readonly string[]) => ls.reduce((a, l) => a + r[l], 0) / ls.length;
const union = rows.find((r) => r.key === 'union')!;
const evals = new Map<string, EvalReport>();
for (const k of [...MERGES.map(([k]) => k), 'base-student']) {
  const f = `${RAW}/eval-${k}-vs-union.json`;
  if (existsSync(f)) evals.set(k, readJson<EvalReport>(f));
}

const f3 = (x: number) => x.toFixed(3);
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const wr = (w: WinRate | undefined) => (w ? `${pct(w.winRate)} [${pct(w.ci[0])}, ${pct(w.ci[1])}]` : '–');
const wtl = (w: WinRate | undefined) => (w ? `${w.wins}/${w.ties}/${w.losses}` : '–');

const summary = rows.map((r) => ({
  key: r.key,
  label: r.label,
  kind: r.kind,
  path: r.path,
  meanLoss: mean(r.perLanguage, langs),
  deltaVsUnion: mean(r.perLanguage, langs) - mean(union.perLanguage, langs),
  familyMeans: Object.fromEntries(FAMILIES.map((f) => [f.id, mean(r.perLanguage, f.languages)])),
  sharedMean: mean(r.perLanguage, SHARED),
  othersMean: mean(r.perLanguage, OTHERS),
  perLanguage: r.perLanguage,
  vsUnion: evals.get(r.key) ? { overall: evals.get(r.key)!.overall, perLanguage: evals.get(r.key)!.perLanguage } : null,
}));

// ---- tables ----
const famHead = FAMILIES.map((f) => f.id).join(' | ');
let md = `### Mean held-out loss (nats/token, lower is better) and head-to-head vs the union model\n\n`;
md += `| model | mean (23) | Δ vs union | eng/spa/fra | other 20 | ${famHead} | win-rate vs union [95% CI] | W/T/L |\n|---|---:|---:|---:|---:|${FAMILIES.map(() => '---:').join('|')}|---:|---:|\n`;
for (const s of summary) {
  const e = evals.get(s.key)?.overall;
  md += `| ${s.label} | ${f3(s.meanLoss)} | ${s.key === 'union' ? '–' : (s.deltaVsUnion >= 0 ? '+' : '') + f3(s.deltaVsUnion)} | ${f3(s.sharedMean)} | ${f3(s.othersMean)} | ${FAMILIES.map((f) => f3(s.familyMeans[f.id])).join(' | ')} | ${wr(e)} | ${wtl(e)} |\n`;
}
md += `\neng/spa/fra: the three languages every expert trains on; other 20: the languages only one expert sees. Family columns: mean over the family's own languages (DESIGN §1; eng/spa/fra are shared by every expert and sit in romance / germanic-hellenic). Win-rate = (wins + ties/2)/n of the row's model (A) against the union model (B) on held-out UDHR prompts, 50% = parity.\n`;

if (search) {
  md += `\n### CMA-ES weight search (linear merge of the five experts)\n\n`;
  md += `Objective: mean over the 23 languages of −held-out loss; softmax parametrisation starting at the uniform soup; budget ${search.request.budget ?? 40} evaluations (${search.evaluations ?? search.points.length} merges), seed ${search.request.seed}, ${Math.round(search.seconds)} s.\n\n`;
  md += `| expert | best weight |\n|---|---:|\n`;
  search.request.modelIds.forEach((m, i) => (md += `| ${m.split('/').pop()} | ${search.best.weights[i].toFixed(3)} |\n`));
  const first = search.points[0];
  md += `\nBest objective ${(search.best.objectives[0]).toFixed(4)} (mean loss ${(-search.best.objectives[0]).toFixed(4)}) vs the uniform start ${first.score !== undefined ? (-first.score).toFixed(4) : '–'}.\n`;
}

md += `\n### Per-language held-out loss\n\n| lang | ${summary.map((s) => s.key).join(' | ')} |\n|---|${summary.map(() => '---:').join('|')}|\n`;
for (const l of langs) md += `| ${l} | ${summary.map((s) => f3(s.perLanguage[l])).join(' | ')} |\n`;

if (evals.size) {
  const keys = [...evals.keys()];
  md += `\n### Win-rate vs union per language (6 prompts each: indicative only)\n\n| lang | ${keys.join(' | ')} |\n|---|${keys.map(() => '---:').join('|')}|\n`;
  for (const l of langs) md += `| ${l} | ${keys.map((k) => { const w = evals.get(k)!.perLanguage[l]; return w ? `${pct(w.winRate)} (${wtl(w)})` : '–'; }).join(' | ')} |\n`;
}

// ---- files ----
writeFileSync('docs/results/merge-experiment.json', JSON.stringify({ languages: langs, families: FAMILIES.map((f) => ({ id: f.id, languages: f.languages })), models: summary, search: search ? { request: search.request, best: search.best, points: search.points.length, evaluations: search.evaluations, seconds: search.seconds } : null }, null, 2) + '\n');
const csv = [['model', 'kind', 'mean', 'shared:eng/spa/fra', 'other20', ...FAMILIES.map((f) => `family:${f.id}`), ...langs].join(','), ...summary.map((s) => [s.key, s.kind, s.meanLoss, s.sharedMean, s.othersMean, ...FAMILIES.map((f) => s.familyMeans[f.id]), ...langs.map((l) => s.perLanguage[l])].join(','))];
writeFileSync('docs/results/merge-experiment.csv', csv.join('\n') + '\n');
const wcsv = ['model,language,n,wins,ties,losses,win_rate,ci_low,ci_high,mean_reward_model,mean_reward_union'];
for (const [k, e] of evals) for (const [l, w] of [['overall', e.overall] as const, ...Object.entries(e.perLanguage)]) wcsv.push([k, l, w.n, w.wins, w.ties, w.losses, w.winRate, w.ci[0], w.ci[1], w.meanRewardA, w.meanRewardB].join(','));
writeFileSync('docs/results/merge-experiment-winrates.csv', wcsv.join('\n') + '\n');

const mdFile = 'docs/results/merge-experiment.md';
const BEGIN = '<!-- tables:begin (scripts/merge-experiment-report.ts) -->';
const END = '<!-- tables:end -->';
const doc = existsSync(mdFile) ? readFileSync(mdFile, 'utf8') : `# Merge experiment\n\n${BEGIN}\n${END}\n`;
const a = doc.indexOf(BEGIN);
const b = doc.indexOf(END);
if (a < 0 || b < a) throw new Error(`${mdFile}: no ${BEGIN} … ${END} markers`);
writeFileSync(mdFile, `${doc.slice(0, a + BEGIN.length)}\n${md}${doc.slice(b)}`);
console.log(md);
