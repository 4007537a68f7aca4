// The LLM judge (DESIGN §8, §11): an Arena-Hard-style pairwise comparison, written for this
// project. A judge model reads the prompt and two answers and ends with one of five verdict labels;
// the verdict is the last label in its reply (as Arena-Hard parses it). Every comparison is judged
// in both orders, so a judge that prefers whichever answer comes first cancels out: orders that
// disagree, and replies without a label, count as ties, and are counted. Where the backend can
// constrain output, the reply is a JSON object whose one field is the label (VERDICT_SCHEMA), so even
// a small judge answers with a label. Pure: the caller supplies the model call.
import type { Verdict } from '../arbiter/arbiter.ts';
import { language } from '../data/languages.ts';

export const VERDICT_LABELS = ['A>>B', 'A>B', 'A=B', 'B>A', 'B>>A'] as const;
export type VerdictLabel = (typeof VERDICT_LABELS)[number];

/** The constrained reply: `{"verdict": "[[A>B]]"}` — the label keeps its brackets, so one parser reads both kinds of reply. */
export const VERDICT_SCHEMA = {
  type: 'object',
  properties: { verdict: { type: 'string', enum: VERDICT_LABELS.map((l) => `[[${l}]]`) } },
  required: ['verdict'],
  additionalProperties: false,
} as const;

export type JudgeChoice = 'arbiter' | 'llm' | 'both';
export const JUDGE_CHOICES: readonly JudgeChoice[] = ['arbiter', 'llm', 'both'];

export interface JudgeMessages {
  system: string;
  user: string;
}

/** The judge's instructions and the case, for the answer shown first (`first`) and second. */
export function judgeMessages(c: { prompt: string; language: string; first: string; second: string; reference?: string; constrained: boolean }): JudgeMessages {
  const lang = language(c.language);
  const system = [
    'You are an impartial judge. Two AI assistants, A and B, answered the same user prompt. Decide which answer is better.',
    'Weigh, in this order:',
    '1. Correctness: no mistakes, false claims or invented facts' + (c.reference ? '; agreement with the reference answer where one is given.' : '.'),
    '2. Helpfulness: it does what the prompt asks; where the prompt is unclear, asking is better than guessing.',
    '3. Relevance: every part of the answer serves the prompt.',
    '4. Concision: no needless length, padding or repetition.',
    `The prompt is in ${lang.name}. An answer must be written in ${lang.name}: an answer in another language, or mixing languages without reason, is a serious failure whatever its content.`,
    'The order in which the answers appear, their length and the assistants\' names must not influence you.',
    c.constrained
      ? 'Reply with a JSON object {"verdict": LABEL}, where LABEL is one of "[[A>>B]]" (A is significantly better), "[[A>B]]" (A is slightly better), "[[A=B]]" (a tie), "[[B>A]]" (B is slightly better), "[[B>>A]]" (B is significantly better).'
      : 'First compare the answers briefly. Then give your final verdict as exactly one of these labels: [[A>>B]] (A is significantly better), [[A>B]] (A is slightly better), [[A=B]] (a tie), [[B>A]] (B is slightly better), [[B>>A]] (B is significantly better). For example: "My final verdict is: [[A>B]]".',
  ].join('\n');
  const user = [
    `<|User Prompt|>\n${c.prompt}`,
    ...(c.reference ? [`<|Reference Answer|>\n${c.reference}`] : []),
    `<|The Start of Assistant A's Answer|>\n${c.first}\n<|The End of Assistant A's Answer|>`,
    `<|The Start of Assistant B's Answer|>\n${c.second}\n<|The End of Assistant B's Answer|>`,
  ].join('\n\n');
  return { system, user };
}

/** A model without a chat template reads the instructions and the case as one text, then the verdict's start. */
export function rawJudgePrompt(m: JudgeMessages, constrained: boolean): string {
  return `${m.system}\n\n${m.user}\n\n${constrained ? 'Verdict (JSON): ' : 'Comparison: '}`;
}

const LABEL = /\[\[\s*([AB])\s*(>>|>|=|<|<<)\s*([AB])\s*\]\]/g;

/** The last verdict label in a reply (`[[A<B]]` is read as `[[B>A]]`), or null when there is none. */
export function parseVerdictLabel(text: string): VerdictLabel | null {
  let last: VerdictLabel | null = null;
  for (const m of text.matchAll(LABEL)) {
    const [, x, op, y] = m;
    if (x === y) continue;
    if (op === '=') {
      last = 'A=B';
      continue;
    }
    // Normalise to "winner > loser".
    const winner = op.startsWith('>') ? x : y;
    const strong = op.length === 2;
    last = (winner === 'A' ? (strong ? 'A>>B' : 'A>B') : strong ? 'B>>A' : 'B>A') as VerdictLabel;
  }
  return last;
}

/** The label with the positions swapped (what a verdict on B-then-A says about A-then-B). */
export function swapLabel(l: VerdictLabel): VerdictLabel {
  return ({ 'A>>B': 'B>>A', 'A>B': 'B>A', 'A=B': 'A=B', 'B>A': 'A>B', 'B>>A': 'A>>B' } as const)[l];
}

/** Which model a label (in model A-first terms) favours. */
export function labelVerdict(l: VerdictLabel): Verdict {
  return l.startsWith('A>') ? 'a' : l.startsWith('B>') ? 'b' : 'tie';
}

export interface JudgeCall {
  /** The judge's whole reply. */
  text: string;
  /** Its last label, in the positions shown (null: none found). */
  label: VerdictLabel | null;
  seconds: number;
  /** The reply was constrained to the verdict schema. */
  constrained: boolean;
  /** The call failed (e.g. the judge's server was down): counted as unparseable. */
  error?: string;
}

export type JudgeOutcome = 'consistent' | 'inconsistent' | 'unparseable';

export interface LlmJudgement {
  /** A shown first, then B shown first (its label as the judge wrote it, about positions). */
  ab: JudgeCall;
  ba: JudgeCall;
  verdict: Verdict;
  outcome: JudgeOutcome;
}

/** Both orders → one verdict: agreeing orders give their verdict; disagreement or a missing label is a tie. */
export function combineOrders(ab: JudgeCall, ba: JudgeCall): LlmJudgement {
  if (!ab.label || !ba.label) return { ab, ba, verdict: 'tie', outcome: 'unparseable' };
  const v1 = labelVerdict(ab.label);
  const v2 = labelVerdict(swapLabel(ba.label));
  return v1 === v2 ? { ab, ba, verdict: v1, outcome: 'consistent' } : { ab, ba, verdict: 'tie', outcome: 'inconsistent' };
}

/** Cohen's κ between two raters over the same items (categories a, b, tie); null when chance agreement is total. */
export function cohenKappa(x: readonly Verdict[], y: readonly Verdict[]): { kappa: number | null; agreement: number; n: number } {
  if (x.length !== y.length) throw new Error('cohenKappa: the two raters rated different numbers of items');
  const n = x.length;
  if (n === 0) return { kappa: null, agreement: NaN, n };
  const cats: Verdict[] = ['a', 'b', 'tie'];
  let agree = 0;
  for (let i = 0; i < n; i++) if (x[i] === y[i]) agree++;
  const po = agree / n;
  let pe = 0;
  for (const c of cats) pe += (x.filter((v) => v === c).length / n) * (y.filter((v) => v === c).length / n);
  return { kappa: pe >= 1 ? null : (po - pe) / (1 - pe), agreement: po, n };
}

export interface LlmJudgeStats {
  /** The judge model's id and name. */
  id: string;
  name: string;
  /** Comparisons judged (each in both orders). */
  comparisons: number;
  consistent: number;
  inconsistent: number;
  unparseable: number;
  /** Share of comparisons with both labels parsed whose two orders agree. */
  positionConsistency: number;
  /** Agreement of the LLM judge's verdicts with the Arbiter's, over every comparison. */
  kappa: number | null;
  agreement: number;
  /** Judge calls whose reply was constrained to the verdict schema, of 2 × comparisons. */
  constrainedCalls: number;
  /** Calls that failed, and the first failure's message. */
  failedCalls: number;
  firstError?: string;
  seconds: number;
}

export function llmJudgeStats(id: string, name: string, judged: ReadonlyArray<{ llm: LlmJudgement; arbiterVerdict: Verdict }>): LlmJudgeStats {
  const count = (o: JudgeOutcome) => judged.filter((j) => j.llm.outcome === o).length;
  const consistent = count('consistent');
  const firstError = judged.flatMap((j) => [j.llm.ab.error, j.llm.ba.error]).find((e) => e !== undefined);
  const inconsistent = count('inconsistent');
  const k = cohenKappa(
    judged.map((j) => j.llm.verdict),
    judged.map((j) => j.arbiterVerdict),
  );
  return {
    id,
    name,
    comparisons: judged.length,
    consistent,
    inconsistent,
    unparseable: count('unparseable'),
    positionConsistency: consistent + inconsistent > 0 ? consistent / (consistent + inconsistent) : NaN,
    kappa: k.kappa,
    agreement: k.agreement,
    constrainedCalls: judged.reduce((s, j) => s + (j.llm.ab.constrained ? 1 : 0) + (j.llm.ba.constrained ? 1 : 0), 0),
    failedCalls: judged.reduce((s, j) => s + (j.llm.ab.error ? 1 : 0) + (j.llm.ba.error ? 1 : 0), 0),
    ...(firstError ? { firstError } : {}),
    seconds: judged.reduce((s, j) => s + j.llm.ab.seconds + j.llm.ba.seconds, 0),
  };
}
