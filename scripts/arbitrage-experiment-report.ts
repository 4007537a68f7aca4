// docs/results/arbitrage-experiment.{md,json} and the per-language CSVs from the raw output of
//   node bin/aya-playground.js arbitrage-experiment --zoo public/models --per-language 16 --steps 150 \
//     --eval-samples 2 --bootstrap 2000 --seed 1 --out scratch/exp-full
// (the raw report holds every generation and transcript; the summary kept in the repo does not).
//   npx tsx scripts/arbitrage-experiment-report.ts [scratch/exp-full]
/* eslint-disable @typescript-eslint/no-explicit-any */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { LANGUAGES } from '../src/data/languages.ts';

const RAW = process.argv[2] ?? 'scratch/exp-full';
const OUT = 'docs/results';
// The one-command run writes report.json; when its evaluation phase was run as separate `eval`
// commands (scripts/arbitrage-experiment-eval.sh), the report is assembled from the arbitrage and SFT
// phases (report.partial.json) and eval/<strategy>-vs-single.json.
function load(): any {
  if (existsSync(`${RAW}/report.json`)) return JSON.parse(readFileSync(`${RAW}/report.json`, 'utf8'));
  const p: any = JSON.parse(readFileSync(`${RAW}/report.partial.json`, 'utf8'));
  p.evaluation = 'scripts/arbitrage-experiment-eval.sh';
  p.rows = p.spec.strategies.map((strategy: string) => {
    const a = p.arbitrage[strategy];
    const file = `${RAW}/eval/${strategy}-vs-single.json`;
    return {
      strategy,
      completions: a.summary.completions,
      sftMeanReward: a.summary.overallMeanReward,
      student: { id: `${RAW}/students/student-${strategy}`, name: `student-${strategy}` },
      vsSingle: strategy === 'single' ? null : existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : null,
    };
  });
  return p;
}
const r: any = load();
const LANG: Record<string, string> = Object.fromEntries(LANGUAGES.map((l: any) => [l.code, l.name]));
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const short = (id: string) => id.split('/').filter(Boolean).pop();
const ci = (w: any) => `${pct(w.winRate)} [${pct(w.ci[0])}, ${pct(w.ci[1])}]`;
const verdict = (w: any) => (w.ci[0] > 0.5 ? 'better' : w.ci[1] < 0.5 ? 'worse' : 'no clear difference');

const lines = [];
lines.push('| strategy | completions sampled | mean Arbiter reward of the SFT set | win-rate vs single-teacher student [95% CI] | W / T / L | verdict |');
lines.push('|---|---:|---:|---|---|---|');
for (const row of r.rows) {
  const e = row.vsSingle;
  lines.push(`| ${row.strategy} | ${row.completions} | ${row.sftMeanReward.toFixed(4)} | ${e ? ci(e.overall) : row.strategy === 'single' ? '— (baseline)' : 'not evaluated'} | ${e ? `${e.overall.wins} / ${e.overall.ties} / ${e.overall.losses}` : ''} | ${e ? verdict(e.overall) : ''} |`);
}
const main = lines.join('\n');

// Per language: win-rate of each student vs the single-teacher student.
const evalRows = r.rows.filter((x: any) => x.vsSingle);
const langs = Object.keys(evalRows[0]?.vsSingle.perLanguage ?? {});
const per = [`| language | ${evalRows.map((x: any) => x.strategy).join(' | ')} |`, `|---|${evalRows.map(() => '---').join('|')}|`];
for (const l of langs) per.push(`| ${LANG[l] ?? l} | ${evalRows.map((x: any) => { const w = x.vsSingle.perLanguage[l]; return `${pct(w.winRate)} [${pct(w.ci[0])}, ${pct(w.ci[1])}]`; }).join(' | ')} |`);

// Which teacher the reward-based run kept, per language.
const rb = r.arbitrage.reward;
const teachers = rb.spec.teachers.map((t: any) => t.id);
const heat = [`| language | ${teachers.map((t: any) => short(t).replace('teacher-', '')).join(' | ')} |`, `|---|${teachers.map(() => '---:').join('|')}|`];
for (const [l, row] of Object.entries(rb.summary.selection)) heat.push(`| ${LANG[l] ?? l} | ${teachers.map((t: any) => row[t] ?? 0).join(' | ')} |`);

// Mean kept reward per language and strategy.
const strategies = Object.keys(r.arbitrage);
const means = [`| language | ${strategies.join(' | ')} |`, `|---|${strategies.map(() => '---:').join('|')}|`];
for (const l of Object.keys(rb.summary.meanReward)) means.push(`| ${LANG[l] ?? l} | ${strategies.map((s: any) => r.arbitrage[s].summary.meanReward[l]?.toFixed(3) ?? '').join(' | ')} |`);

const summary = {
  command: 'node bin/aya-playground.js arbitrage-experiment --zoo public/models --per-language 16 --steps 150 --eval-samples 2 --bootstrap 2000 --seed 1 --out scratch/exp-full',
  seconds: r.seconds ?? null,
  evaluation: r.evaluation ?? 'in the same command',
  evalSpec: r.rows.find((x: any) => x.vsSingle)?.vsSingle.spec ?? null,
  spec: { ...r.spec, teachers: r.spec.teachers.map((t: any) => ({ ...t, id: short(t.id) })), student: { ...r.spec.student, id: short(r.spec.student.id) } },
  singleTeacher: short(r.singleTeacher),
  singleTeacherReason: r.singleTeacherReason,
  routerAccuracy: r.routerAccuracy,
  arbitrage: Object.fromEntries(Object.entries(r.arbitrage).map(([s, a]: any) => [s, { ...a.summary, selection: Object.fromEntries(Object.entries(a.summary.selection).map(([l, row]: any) => [l, Object.fromEntries(Object.entries(row).map(([t, n]: any) => [short(t), n]))])) }])),
  rows: r.rows.map((x: any) => ({ strategy: x.strategy, completions: x.completions, sftMeanReward: x.sftMeanReward, student: x.student.name, vsSingle: x.vsSingle ? { overall: x.vsSingle.overall, perLanguage: x.vsSingle.perLanguage } : null })),
};
writeFileSync(`${OUT}/arbitrage-experiment.json`, JSON.stringify(summary, null, 1) + '\n');
mkdirSync(`${OUT}/arbitrage-experiment`, { recursive: true });
for (const x of r.rows) if (x.vsSingle && existsSync(`${RAW}/eval/${x.strategy}-vs-single.csv`)) copyFileSync(`${RAW}/eval/${x.strategy}-vs-single.csv`, `${OUT}/arbitrage-experiment/${x.strategy}-vs-single.csv`);

const md = `${OUT}/arbitrage-experiment.md`;
const text = readFileSync(md, 'utf8');
const block = [
  main,
  '',
  `Single teacher (the baseline's data): **${short(r.singleTeacher)}** — ${r.singleTeacherReason}. Learned router: agreed with the reward-based arg-max on ${r.routerAccuracy === null ? '—' : pct(r.routerAccuracy)} of the training prompts (cross-fitted: each prompt routed by the router trained on the other half). ${r.seconds ? `Total time ${Math.round(r.seconds)} s.` : ''}`,
  '',
  '### Win-rate vs the single-teacher student, per language [95% CI]',
  '',
  per.join('\n'),
  '',
  '### Which teacher the reward-based run kept (prompts per language)',
  '',
  heat.join('\n'),
  '',
  '### Mean Arbiter reward of the kept completions, per language and strategy',
  '',
  means.join('\n'),
].join('\n');
const start = text.indexOf('<!-- table -->');
const end = text.indexOf('<!-- /table -->');
if (start < 0 || end < 0) throw new Error(`${md}: no <!-- table --> … <!-- /table --> markers`);
writeFileSync(md, text.slice(0, start + '<!-- table -->'.length) + '\n' + block + '\n' + text.slice(end));
console.log(main);
