// The table of issue 6's experiment (scripts/dpo-experiment.sh) from its raw outputs in
// docs/results/dpo-experiment/: <arm>.jsonl (the dpo metrics logs) and eval-<arm>-vs-sft.json.
// Replaces the part of docs/results/dpo-experiment.md between the `table` markers.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const RAW = 'docs/results/dpo-experiment';
const ARMS = [
  ['offline', 'offline only'],
  ['online', 'online only (3 iterations)'],
  ['offline-online', 'offline → online (3 iterations)'],
];
const pct = (x) => `${(100 * x).toFixed(1)}%`;
const f = (x, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : '—');
const rows = [];
const curves = [];
for (const [arm, label] of ARMS) {
  const logFile = `${RAW}/${arm}.jsonl`;
  if (!existsSync(logFile)) continue;
  const lines = readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const steps = lines.filter((l) => l.type === 'step');
  const evals = lines.filter((l) => l.type === 'eval');
  const pairs = lines.filter((l) => l.type === 'pairs');
  const done = lines.find((l) => l.type === 'done');
  const evalFile = `${RAW}/eval-${arm}-vs-sft.json`;
  const e = existsSync(evalFile) ? JSON.parse(readFileSync(evalFile, 'utf8')) : null;
  const last = steps.at(-1)?.point;
  rows.push(
    `| ${label} | ${steps.length} | ${pairs.map((p) => p.pairs).join(' / ') || '—'} | ${f(last?.loss)} | ${f(last?.['rewards/margins'])} | ${f(last?.['rewards/accuracies'], 2)} | ` +
      `${e ? `${pct(e.overall.winRate)} [${pct(e.overall.ci[0])}, ${pct(e.overall.ci[1])}]` : 'not run'} | ${e ? `${e.overall.wins} / ${e.overall.ties} / ${e.overall.losses}` : ''} | ${e ? `${f(e.overall.meanRewardA)} vs ${f(e.overall.meanRewardB)}` : ''} | ${f(done?.seconds, 0)} |`,
  );
  curves.push(`**${label}** — evaluations (step: KL nats · top-10 entropy bits · top-10 mass · Arbiter reward):\n`);
  curves.push(evals.map((x) => `${x.globalStep} (${x.stage}): ${f(x.point.kl)} · ${f(x.point.top10Entropy)} · ${f(x.point.top10Mass)} · ${f(x.point.meanReward)}`).join('  \n') + '\n');
  const warnings = done?.warnings ?? [];
  curves.push(warnings.length ? warnings.map((w) => `- ⚠ ${w.kind} at step ${w.step}: ${w.message}`).join('\n') + '\n' : '- no over-optimisation warning\n');
}
const table = [
  '| arm | DPO steps | online pairs per iteration | last loss | last margin | last accuracy | win-rate vs SFT student [95% CI] | W / T / L | mean reward (arm vs SFT) | seconds |',
  '|---|---:|---|---:|---:|---:|---|---|---|---:|',
  ...rows,
  '',
  ...curves,
].join('\n');
const md = `${RAW}.md`;
const text = readFileSync(md, 'utf8');
const start = text.indexOf('<!-- table -->');
const end = text.indexOf('<!-- /table -->');
if (start < 0 || end < 0) throw new Error(`${md}: no <!-- table --> … <!-- /table --> markers`);
writeFileSync(md, text.slice(0, start + '<!-- table -->'.length) + '\n' + table + '\n' + text.slice(end));
console.log(table);
