// "Does arbitrage beat a single teacher?" — the experiment of issue 5 in one function: arbitrage with
// every strategy on the training prompts, fine-tune the same student on each SFT set with the same
// budget, then evaluate each student head-to-head against the student fine-tuned on the single best
// teacher's data, on held-out prompts. The caller supplies the heavy parts (Engine or tests).
import type { ArbitragePrompt, ArbitrageResult, ArbitrageSpec, Strategy, TeacherInfo } from './arbitrage.ts';
import { STRATEGIES } from './arbitrage.ts';
import type { EvalReport } from '../eval/headToHead.ts';
import type { PairRecord } from '../train/data.ts';

export interface ExperimentSpec {
  teachers: TeacherInfo[];
  /** The student every strategy fine-tunes (the zoo's base student). */
  student: { id: string; name: string };
  strategies: Strategy[];
  samplesPerTeacher: number;
  seed: number;
  sampling: ArbitrageSpec['sampling'];
  sft: { steps: number; batchSize: number; seqLen: number; lr: number };
  evalSamples: number;
  bootstrap: number;
}

export type ExperimentStage =
  | { stage: 'arbitrage'; strategy: Strategy; done: number; total: number }
  | { stage: 'sft'; strategy: Strategy; step: number; steps: number }
  | { stage: 'eval'; strategy: Strategy; done: number; total: number };

export interface ExperimentRow {
  strategy: Strategy;
  completions: number;
  /** Mean Arbiter reward of the SFT set (training prompts). */
  sftMeanReward: number;
  student: { id: string; name: string };
  /** Head-to-head against the single-teacher student (null for that student itself). */
  vsSingle: EvalReport | null;
}

export interface ExperimentReport {
  spec: ExperimentSpec;
  singleTeacher: string;
  /** How the single best teacher was chosen. */
  singleTeacherReason: string;
  routerAccuracy: number | null;
  rows: ExperimentRow[];
  arbitrage: Record<string, ArbitrageResult>;
  cancelled: boolean;
}

export interface ExperimentDeps {
  arbitrage(spec: ArbitrageSpec, onProgress: (done: number, total: number) => void): Promise<ArbitrageResult>;
  /** Fine-tunes the student on `pairs`; returns the saved model. */
  sft(strategy: Strategy, pairs: PairRecord[], onStep: (step: number, steps: number) => void): Promise<{ id: string; name: string }>;
  evaluate(a: { id: string; name: string }, b: { id: string; name: string }, onProgress: (done: number, total: number) => void): Promise<EvalReport>;
  shouldStop(): boolean;
  onStage?: (s: ExperimentStage) => void;
  /** Each finished piece, so a long run can be saved as it goes. */
  onPartial?: (r: ExperimentReport) => void;
}

export async function runArbitrageExperiment(trainPrompts: readonly ArbitragePrompt[], spec: ExperimentSpec, deps: ExperimentDeps): Promise<ExperimentReport> {
  void trainPrompts; // the deps' arbitrage already holds the prompt set; kept for the signature's clarity
  for (const s of spec.strategies) if (!STRATEGIES.includes(s)) throw new Error(`experiment: unknown strategy '${s}'`);
  if (!spec.strategies.includes('single')) throw new Error('experiment: the single-teacher strategy is the baseline and must be included');
  const report: ExperimentReport = { spec, singleTeacher: '', singleTeacherReason: '', routerAccuracy: null, rows: [], arbitrage: {}, cancelled: false };
  const base = (strategy: Strategy): ArbitrageSpec => ({ strategy, teachers: spec.teachers, samplesPerTeacher: spec.samplesPerTeacher, seed: spec.seed, sampling: spec.sampling });

  // 1. Reward-based first: it scores every teacher on every prompt, which picks the single best
  // teacher and trains the learned router. Its generations are the ones the other strategies re-use
  // (same seeds), so only the routing differs between strategies.
  const reward = await deps.arbitrage(base('reward'), (d, t) => deps.onStage?.({ stage: 'arbitrage', strategy: 'reward', done: d, total: t }));
  report.arbitrage.reward = reward;
  if (reward.cancelled) return { ...report, cancelled: true };
  const byTeacher = new Map<string, number[]>();
  for (const g of reward.generations) byTeacher.set(g.teacher, [...(byTeacher.get(g.teacher) ?? []), g.reward]);
  let best = spec.teachers[0].id;
  let bestMean = -Infinity;
  for (const t of spec.teachers) {
    const rs = byTeacher.get(t.id) ?? [];
    const m = rs.reduce((a, b) => a + b, 0) / Math.max(1, rs.length);
    if (m > bestMean) [best, bestMean] = [t.id, m];
  }
  report.singleTeacher = best;
  report.singleTeacherReason = `highest mean Arbiter reward over all training prompts in the reward-based run (${bestMean.toFixed(4)})`;

  for (const strategy of spec.strategies) {
    if (strategy === 'reward') continue;
    if (deps.shouldStop()) return { ...report, cancelled: true };
    const s: ArbitrageSpec = { ...base(strategy), single: best, routerData: strategy === 'learned' ? reward.generations : undefined };
    const r = await deps.arbitrage(s, (d, t) => deps.onStage?.({ stage: 'arbitrage', strategy, done: d, total: t }));
    if (r.cancelled) return { ...report, cancelled: true };
    report.arbitrage[strategy] = r;
    if (strategy === 'learned') report.routerAccuracy = r.summary.routerAccuracy ?? null;
  }
  deps.onPartial?.(report);

  // 2. The same student, the same budget, one SFT set each.
  const students = new Map<Strategy, { id: string; name: string }>();
  for (const strategy of spec.strategies) {
    if (deps.shouldStop()) return { ...report, cancelled: true };
    const r = report.arbitrage[strategy];
    const pairs: PairRecord[] = r.outcomes.map((o) => ({ prompt: o.prompt, completion: o.best.completion, language: o.language }));
    students.set(strategy, await deps.sft(strategy, pairs, (step, steps) => deps.onStage?.({ stage: 'sft', strategy, step, steps })));
  }

  // 3. Every student against the single-teacher student.
  const single = students.get('single')!;
  for (const strategy of spec.strategies) {
    const r = report.arbitrage[strategy];
    const row: ExperimentRow = { strategy, completions: r.summary.completions, sftMeanReward: r.summary.overallMeanReward, student: students.get(strategy)!, vsSingle: null };
    if (strategy !== 'single') {
      if (deps.shouldStop()) return { ...report, cancelled: true };
      row.vsSingle = await deps.evaluate(students.get(strategy)!, single, (d, t) => deps.onStage?.({ stage: 'eval', strategy, done: d, total: t }));
      if (row.vsSingle.cancelled) {
        report.rows.push(row);
        return { ...report, cancelled: true };
      }
    }
    report.rows.push(row);
    deps.onPartial?.(report);
  }
  return report;
}

const pct = (x: number) => (100 * x).toFixed(1);

/** The experiment's table as Markdown. */
export function experimentTable(r: ExperimentReport): string {
  const lines = [
    `| strategy | completions sampled | mean reward of the SFT set | win-rate vs single-teacher student [95% CI] | wins / ties / losses |`,
    `|---|---:|---:|---|---|`,
  ];
  for (const row of r.rows) {
    const e = row.vsSingle;
    lines.push(
      `| ${row.strategy} | ${row.completions} | ${row.sftMeanReward.toFixed(4)} | ${e ? `${pct(e.overall.winRate)}% [${pct(e.overall.ci[0])}, ${pct(e.overall.ci[1])}]` : '— (baseline)'} | ${e ? `${e.overall.wins} / ${e.overall.ties} / ${e.overall.losses}` : ''} |`,
    );
  }
  return lines.join('\n') + '\n';
}
