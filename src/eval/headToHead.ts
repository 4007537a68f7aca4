// Head-to-head evaluation (DESIGN §11, m-ArenaHard style): for each prompt, A and B complete it with
// the same sampling settings and seed; the judge says A, B or tie. Per language and overall: wins,
// ties, losses, win-rate = (wins + ties/2) / n, and a seeded percentile-bootstrap 95% interval that
// resamples prompts (a prompt's samples stay together).
import type { Arbiter, ArbiterScore, Verdict } from '../arbiter/arbiter.ts';
import type { ArbitragePrompt } from '../arbitrage/arbitrage.ts';
import type { SamplingOptions } from '../model/sample.ts';
import { Rng } from '../util/rng.ts';
import { deriveSeed } from '../util/hash.ts';

export const DEFAULT_BOOTSTRAP = 2000;

export interface EvalSpec {
  a: string;
  b: string;
  samples: number;
  seed: number;
  sampling: Omit<SamplingOptions, 'seed'>;
  bootstrap: number;
}

export interface Transcript {
  promptId: string;
  language: string;
  prompt: string;
  reference?: string;
  sample: number;
  seed: number;
  a: { completion: string; reward: number; components: ArbiterScore['components'] };
  b: { completion: string; reward: number; components: ArbiterScore['components'] };
  verdict: Verdict;
}

export interface WinRate {
  n: number;
  /** Prompts behind the numbers (n counts prompt × sample comparisons). */
  prompts: number;
  wins: number;
  ties: number;
  losses: number;
  winRate: number;
  ci: [number, number];
  meanRewardA: number;
  meanRewardB: number;
}

export interface EvalReport {
  spec: EvalSpec;
  /** Display names of A and B. */
  names: { a: string; b: string };
  judge: string;
  perLanguage: Record<string, WinRate>;
  overall: WinRate;
  transcripts: Transcript[];
  cancelled: boolean;
}

export interface EvalDeps {
  generate(modelId: string, prompt: ArbitragePrompt, opts: SamplingOptions): Promise<string>;
  arbiter: Arbiter & { tieMargin?: number };
  shouldStop?: () => boolean;
  onProgress?: (done: number, total: number, latest: Transcript) => void;
}

export function validateEvalSpec(spec: EvalSpec, prompts: readonly ArbitragePrompt[]): void {
  if (!spec.a || !spec.b) throw new Error('eval: choose models A and B');
  if (!Number.isInteger(spec.samples) || spec.samples < 1) throw new Error(`eval: samples must be a positive integer, got ${spec.samples}`);
  if (!Number.isInteger(spec.bootstrap) || spec.bootstrap < 1000) throw new Error(`eval: use at least 1000 bootstrap resamples, got ${spec.bootstrap}`);
  if (prompts.length === 0) throw new Error('eval: no prompts');
}

/** Score of one comparison for A: win 1, tie ½, loss 0. */
export function verdictScore(v: Verdict): number {
  return v === 'a' ? 1 : v === 'tie' ? 0.5 : 0;
}

/**
 * Win-rate with a percentile bootstrap over prompts: each resample draws as many prompts as there
 * are, with replacement, and takes the mean of their comparison scores.
 */
export function winRate(transcripts: readonly Transcript[], resamples: number, seed: number): WinRate {
  const byPrompt = new Map<string, Transcript[]>();
  for (const t of transcripts) byPrompt.set(t.promptId, [...(byPrompt.get(t.promptId) ?? []), t]);
  const groups = [...byPrompt.values()].map((ts) => ({ sum: ts.reduce((s, t) => s + verdictScore(t.verdict), 0), n: ts.length }));
  let wins = 0;
  let ties = 0;
  let losses = 0;
  let ra = 0;
  let rb = 0;
  for (const t of transcripts) {
    if (t.verdict === 'a') wins++;
    else if (t.verdict === 'tie') ties++;
    else losses++;
    ra += t.a.reward;
    rb += t.b.reward;
  }
  const n = transcripts.length;
  const rate = n ? (wins + ties / 2) / n : NaN;
  let ci: [number, number] = [NaN, NaN];
  if (groups.length > 0) {
    const rng = new Rng(seed);
    const stats = new Float64Array(resamples);
    for (let r = 0; r < resamples; r++) {
      let s = 0;
      let c = 0;
      for (let i = 0; i < groups.length; i++) {
        const g = groups[Math.floor(rng.uniform() * groups.length)];
        s += g.sum;
        c += g.n;
      }
      stats[r] = s / c;
    }
    stats.sort();
    ci = [percentile(stats, 0.025), percentile(stats, 0.975)];
  }
  return { n, prompts: groups.length, wins, ties, losses, winRate: rate, ci, meanRewardA: n ? ra / n : NaN, meanRewardB: n ? rb / n : NaN };
}

/** Linear-interpolated percentile of sorted values (numpy's default). */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export function summarizeEval(spec: EvalSpec, names: { a: string; b: string }, judge: string, transcripts: Transcript[], cancelled: boolean): EvalReport {
  const langs = [...new Set(transcripts.map((t) => t.language))];
  const perLanguage: Record<string, WinRate> = {};
  for (const l of langs) perLanguage[l] = winRate(transcripts.filter((t) => t.language === l), spec.bootstrap, deriveSeed(spec.seed, 'bootstrap', l));
  return { spec, names, judge, perLanguage, overall: winRate(transcripts, spec.bootstrap, deriveSeed(spec.seed, 'bootstrap', 'overall')), transcripts, cancelled };
}

export async function runHeadToHead(prompts: readonly ArbitragePrompt[], spec: EvalSpec, names: { a: string; b: string }, deps: EvalDeps): Promise<EvalReport> {
  validateEvalSpec(spec, prompts);
  const total = prompts.length * spec.samples;
  const transcripts: Transcript[] = [];
  let cancelled = false;
  outer: for (const p of prompts) {
    for (let s = 0; s < spec.samples; s++) {
      if (deps.shouldStop?.()) {
        cancelled = true;
        break outer;
      }
      // The same seed for A and B: differences come from the models, not the dice.
      const seed = deriveSeed(spec.seed, p.id, s);
      const opts = { ...spec.sampling, seed };
      const ca = await deps.generate(spec.a, p, opts);
      const cb = await deps.generate(spec.b, p, opts);
      // A cancel during generation cuts a completion short: judging it would bias the partial report.
      if (deps.shouldStop?.()) {
        cancelled = true;
        break outer;
      }
      const sa = deps.arbiter.score(p.prompt, ca, p.language, p.reference);
      const sb = deps.arbiter.score(p.prompt, cb, p.language, p.reference);
      const margin = deps.arbiter.tieMargin ?? 0;
      const verdict: Verdict = Math.abs(sa.reward - sb.reward) <= margin ? 'tie' : sa.reward > sb.reward ? 'a' : 'b';
      const t: Transcript = {
        promptId: p.id,
        language: p.language,
        prompt: p.prompt,
        reference: p.reference,
        sample: s,
        seed,
        a: { completion: ca, reward: sa.reward, components: sa.components },
        b: { completion: cb, reward: sb.reward, components: sb.components },
        verdict,
      };
      transcripts.push(t);
      deps.onProgress?.(transcripts.length, total, t);
    }
  }
  return summarizeEval(spec, names, deps.arbiter.name, transcripts, cancelled);
}

const csvCell = (v: string | number): string => (typeof v === 'number' ? (Number.isFinite(v) ? String(Number(v.toFixed(6))) : '') : /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

/** One row per language plus "overall": the numbers behind the report. */
export function evalCsv(report: EvalReport): string {
  const header = ['language', 'model_a', 'model_b', 'n', 'prompts', 'wins', 'ties', 'losses', 'win_rate', 'ci_low', 'ci_high', 'mean_reward_a', 'mean_reward_b'];
  const row = (lang: string, w: WinRate) => [lang, report.names.a, report.names.b, w.n, w.prompts, w.wins, w.ties, w.losses, w.winRate, w.ci[0], w.ci[1], w.meanRewardA, w.meanRewardB].map(csvCell).join(',');
  return [header.join(','), ...Object.entries(report.perLanguage).map(([l, w]) => row(l, w)), row('overall', report.overall)].join('\n') + '\n';
}
