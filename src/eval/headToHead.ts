// Head-to-head evaluation (DESIGN §11, m-ArenaHard style): for each prompt, A and B complete it with
// the same sampling settings and seed; the judge says A, B or tie. Per language and overall: wins,
// ties, losses, win-rate = (wins + ties/2) / n, and a 95% interval that stays honest with few
// prompts: the wider of a seeded percentile bootstrap that resamples prompts (a prompt's samples
// stay together) and a Wilson score interval over prompts. A percentile bootstrap alone collapses
// when every prompt agrees (4 wins of 4 → "100% – 100%"); Wilson's does not (4 of 4 → 51% – 100%).
// No winner is called below MIN_PROMPTS_TO_CALL prompts, whatever the interval says.
import { show } from '../util/show.ts';
import type { Arbiter, ArbiterScore, Verdict } from '../arbiter/arbiter.ts';
import type { ArbitragePrompt } from '../arbitrage/arbitrage.ts';
import type { SamplingOptions } from '../model/sample.ts';
import { Rng } from '../util/rng.ts';
import { deriveSeed } from '../util/hash.ts';
import { combineOrders, type JudgeCall, type JudgeChoice, type LlmJudgement, type LlmJudgeStats, llmJudgeStats } from './llmJudge.ts';

export const DEFAULT_BOOTSTRAP = 2000;

/** Fewer prompts than this and a row says "too few prompts to call" instead of naming a winner. */
export const MIN_PROMPTS_TO_CALL = 10;

/** How the reports' intervals are made, in words (reports and exports carry it). */
export const INTERVAL_METHOD = `95% interval: the wider of a percentile bootstrap over prompts and a Wilson score interval over prompts (a prompt scores the mean of its comparisons, ties counting half); no winner is called below ${MIN_PROMPTS_TO_CALL} prompts`;

/** What a row's interval says: A better, B better, no clear winner, or too few prompts to call. */
export type WinVerdict = 'a' | 'b' | 'none' | 'too-few';

export interface EvalSpec {
  a: string;
  b: string;
  samples: number;
  seed: number;
  sampling: Omit<SamplingOptions, 'seed'>;
  bootstrap: number;
  /** Who decides the verdicts (default 'arbiter'); with 'both' the Arbiter's are the headline and the LLM judge's are reported beside them. */
  judge?: JudgeChoice;
  /** The LLM judge: one of our models or a teacher id. */
  judgeModel?: string;
  /** Teachers among A and B: the prompt mode each was asked in. */
  modes?: Record<string, 'raw' | 'chat'>;
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
  /** The headline judge's verdict. */
  verdict: Verdict;
  /** The Arbiter's verdict (always computed: it is cheap, and the LLM judge is compared with it). */
  arbiterVerdict?: Verdict;
  /** The LLM judge's two calls and their verdict. */
  llm?: LlmJudgement;
}

export interface JudgeTable {
  kind: 'arbiter' | 'llm';
  name: string;
  perLanguage: Record<string, WinRate>;
  overall: WinRate;
}

export interface WinRate {
  n: number;
  /** Prompts behind the numbers (n counts prompt × sample comparisons). */
  prompts: number;
  wins: number;
  ties: number;
  losses: number;
  winRate: number;
  /** The reported 95% interval: the union of the two below. */
  ci: [number, number];
  /** Percentile bootstrap over prompts (collapses to a point when every prompt agrees). */
  ciBootstrap: [number, number];
  /** Wilson score interval over prompts (ties count half). */
  ciWilson: [number, number];
  verdict: WinVerdict;
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
  /** INTERVAL_METHOD when the report was made. */
  interval?: string;
  /** Every judge's win-rates, the headline's first (one entry unless the judge was 'both'). */
  judges?: JudgeTable[];
  /** The LLM judge: position consistency, unparseable replies, agreement with the Arbiter. */
  llmJudge?: LlmJudgeStats;
}

/** Asks an LLM judge about one prompt with `first` shown as Assistant A. */
export interface LlmJudgeDep {
  id: string;
  name: string;
  call(p: ArbitragePrompt, first: string, second: string): Promise<JudgeCall>;
}

export interface EvalDeps {
  generate(modelId: string, prompt: ArbitragePrompt, opts: SamplingOptions): Promise<string>;
  /** As ArbitrageDeps.prefetch: a model's samples of a prompt, announced before they are asked for. */
  prefetch?(modelId: string, prompt: ArbitragePrompt, sampling: Omit<SamplingOptions, 'seed'>, seeds: readonly number[]): void;
  arbiter: Arbiter & { tieMargin?: number };
  /** Required when the spec's judge is 'llm' or 'both'. */
  llmJudge?: LlmJudgeDep;
  shouldStop?: () => boolean;
  onProgress?: (done: number, total: number, latest: Transcript) => void;
}

export function validateEvalSpec(spec: EvalSpec, prompts: readonly ArbitragePrompt[]): void {
  if (!spec.a || !spec.b) throw new Error('eval: choose models A and B');
  if (!Number.isInteger(spec.samples) || spec.samples < 1) throw new Error(`eval: samples must be a positive integer, got ${spec.samples}`);
  if (!Number.isInteger(spec.bootstrap) || spec.bootstrap < 1000) throw new Error(`eval: use at least 1000 bootstrap resamples, got ${spec.bootstrap}`);
  if (prompts.length === 0) throw new Error('eval: no prompts');
  const judge = spec.judge ?? 'arbiter';
  if (judge !== 'arbiter' && judge !== 'llm' && judge !== 'both') throw new Error(`eval: the judge must be 'arbiter', 'llm' or 'both', got '${show(judge)}'`);
  if (judge !== 'arbiter' && !spec.judgeModel) throw new Error('eval: choose the LLM judge\'s model');
}

/** Score of one comparison for A: win 1, tie ½, loss 0. */
export function verdictScore(v: Verdict): number {
  return v === 'a' ? 1 : v === 'tie' ? 0.5 : 0;
}

/** Wilson score interval for `successes` of `n` (successes may be fractional: ties count half). */
export function wilsonInterval(successes: number, n: number, z = 1.959964): [number, number] {
  if (!(n > 0)) return [NaN, NaN];
  const p = successes / n;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / (1 + z2 / n);
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

/** What an interval over `prompts` prompts lets one say. */
export function winVerdict(ci: [number, number], prompts: number): WinVerdict {
  if (prompts < MIN_PROMPTS_TO_CALL) return 'too-few';
  if (ci[0] > 0.5) return 'a';
  if (ci[1] < 0.5) return 'b';
  return 'none';
}

/**
 * Win-rate with its interval (see the header): the percentile bootstrap draws as many prompts as
 * there are, with replacement, and takes the mean of their comparison scores; the Wilson interval
 * counts each prompt once, scoring the mean of its comparisons.
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
  let ciBootstrap: [number, number] = [NaN, NaN];
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
    ciBootstrap = [percentile(stats, 0.025), percentile(stats, 0.975)];
  }
  const ciWilson = wilsonInterval(groups.reduce((s, g) => s + g.sum / g.n, 0), groups.length);
  const ci: [number, number] = groups.length ? [Math.min(ciBootstrap[0], ciWilson[0]), Math.max(ciBootstrap[1], ciWilson[1])] : [NaN, NaN];
  return { n, prompts: groups.length, wins, ties, losses, winRate: rate, ci, ciBootstrap, ciWilson, verdict: winVerdict(ci, groups.length), meanRewardA: n ? ra / n : NaN, meanRewardB: n ? rb / n : NaN };
}

/** Linear-interpolated percentile of sorted values (numpy's default). */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

function judgeTable(kind: JudgeTable['kind'], name: string, spec: EvalSpec, transcripts: readonly Transcript[]): JudgeTable {
  const langs = [...new Set(transcripts.map((t) => t.language))];
  const perLanguage: Record<string, WinRate> = {};
  for (const l of langs) perLanguage[l] = winRate(transcripts.filter((t) => t.language === l), spec.bootstrap, deriveSeed(spec.seed, 'bootstrap', l));
  return { kind, name, perLanguage, overall: winRate(transcripts, spec.bootstrap, deriveSeed(spec.seed, 'bootstrap', 'overall')) };
}

/** The report of `transcripts` (whose `verdict` is the headline judge's). `llm` names the LLM judge when there was one. */
export function summarizeEval(spec: EvalSpec, names: { a: string; b: string }, judge: string, transcripts: Transcript[], cancelled: boolean, llm?: { id: string; name: string }): EvalReport {
  const choice = spec.judge ?? 'arbiter';
  const asArbiter = transcripts.map((t) => ({ ...t, verdict: t.arbiterVerdict ?? t.verdict }));
  const judged = transcripts.filter((t): t is Transcript & { llm: LlmJudgement } => t.llm !== undefined);
  const asLlm = judged.map((t) => ({ ...t, verdict: t.llm.verdict }));
  const tables: JudgeTable[] = [];
  if (choice !== 'llm') tables.push(judgeTable('arbiter', judge, spec, asArbiter));
  if (choice !== 'arbiter' && llm) tables.push(judgeTable('llm', llm.name, spec, asLlm));
  const head = tables[0] ?? judgeTable('arbiter', judge, spec, asArbiter);
  return {
    spec,
    names,
    judge: head.name,
    perLanguage: head.perLanguage,
    overall: head.overall,
    transcripts,
    cancelled,
    interval: INTERVAL_METHOD,
    judges: tables,
    ...(llm && choice !== 'arbiter' ? { llmJudge: llmJudgeStats(llm.id, llm.name, judged.map((t) => ({ llm: t.llm, arbiterVerdict: t.arbiterVerdict ?? 'tie' }))) } : {}),
  };
}

export async function runHeadToHead(prompts: readonly ArbitragePrompt[], spec: EvalSpec, names: { a: string; b: string }, deps: EvalDeps): Promise<EvalReport> {
  validateEvalSpec(spec, prompts);
  const choice = spec.judge ?? 'arbiter';
  const llmJudge = choice === 'arbiter' ? undefined : deps.llmJudge;
  if (choice !== 'arbiter' && !llmJudge) throw new Error('eval: the LLM judge is not available');
  const total = prompts.length * spec.samples;
  const transcripts: Transcript[] = [];
  let cancelled = false;
  outer: for (const p of prompts) {
    if (spec.samples > 1) {
      const seeds = Array.from({ length: spec.samples }, (_, s) => deriveSeed(spec.seed, p.id, s));
      for (const m of [spec.a, spec.b]) deps.prefetch?.(m, p, spec.sampling, seeds);
    }
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
      const arbiterVerdict: Verdict = Math.abs(sa.reward - sb.reward) <= margin ? 'tie' : sa.reward > sb.reward ? 'a' : 'b';
      let llm: LlmJudgement | undefined;
      if (llmJudge) {
        // Both orders, so a judge's preference for a position cancels out instead of deciding.
        const ab = await llmJudge.call(p, ca, cb);
        const ba = await llmJudge.call(p, cb, ca);
        if (deps.shouldStop?.()) {
          cancelled = true;
          break outer;
        }
        llm = combineOrders(ab, ba);
      }
      const verdict = choice === 'llm' ? llm!.verdict : arbiterVerdict;
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
        arbiterVerdict,
        ...(llm ? { llm } : {}),
      };
      transcripts.push(t);
      deps.onProgress?.(transcripts.length, total, t);
    }
  }
  return summarizeEval(spec, names, deps.arbiter.name, transcripts, cancelled, llmJudge ? { id: llmJudge.id, name: llmJudge.name } : undefined);
}

const csvCell = (v: string | number): string => (typeof v === 'number' ? (Number.isFinite(v) ? String(Number(v.toFixed(6))) : '') : /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

/** One row per language plus "overall", per judge: the numbers behind the report. */
export function evalCsv(report: EvalReport): string {
  const header = ['language', 'model_a', 'model_b', 'n', 'prompts', 'wins', 'ties', 'losses', 'win_rate', 'ci_low', 'ci_high', 'mean_reward_a', 'mean_reward_b', 'verdict', 'ci_bootstrap_low', 'ci_bootstrap_high', 'ci_wilson_low', 'ci_wilson_high', 'judge'];
  const row = (lang: string, w: WinRate, judge: string) =>
    [lang, report.names.a, report.names.b, w.n, w.prompts, w.wins, w.ties, w.losses, w.winRate, w.ci[0], w.ci[1], w.meanRewardA, w.meanRewardB, w.verdict ?? '', w.ciBootstrap?.[0] ?? NaN, w.ciBootstrap?.[1] ?? NaN, w.ciWilson?.[0] ?? NaN, w.ciWilson?.[1] ?? NaN, judge].map(csvCell).join(',');
  const tables = report.judges?.length ? report.judges : [{ name: report.judge, perLanguage: report.perLanguage, overall: report.overall }];
  return [header.join(','), ...tables.flatMap((t) => [...Object.entries(t.perLanguage).map(([l, w]) => row(l, w, t.name)), row('overall', t.overall, t.name)])].join('\n') + '\n';
}
