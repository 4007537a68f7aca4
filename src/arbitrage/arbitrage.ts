// Multilingual arbitrage (DESIGN §1, §8; arXiv 2408.14960): route each prompt to one or more
// teachers, score their completions with the Arbiter, keep the best. The pipeline is pure: the
// caller supplies `generate` (a model sampling a completion) and the arbiter, so the same code runs
// in the Worker, in Node and in tests.
import { show } from '../util/show.ts';
import type { Arbiter, ComponentName } from '../arbiter/arbiter.ts';
import { familyOf, LANGUAGE_CODES } from '../data/languages.ts';
import type { SamplingOptions } from '../model/sample.ts';
import { deriveSeed, hashString } from '../util/hash.ts';
import { slugify } from '../util/slug.ts';
import { parseJsonLines } from '../util/jsonl.ts';
import { Router, type RouterExample, type RouterOptions, DEFAULT_ROUTER } from './router.ts';

export const STRATEGIES = ['random', 'single', 'fixed', 'reward', 'learned'] as const;
export type Strategy = (typeof STRATEGIES)[number];

export const STRATEGY_LABELS: Record<Strategy, string> = {
  random: 'Random teacher',
  single: 'Single teacher',
  fixed: 'Fixed (language → teacher)',
  reward: 'Reward-based (all generate, keep the best)',
  learned: 'Learned router',
};

export interface TeacherInfo {
  id: string;
  name: string;
  /** The zoo's family id (playground.json "family"), if any. */
  family?: string;
  /** Languages the teacher was trained on, if known. */
  languages?: string[];
}

export interface ArbitragePrompt {
  id: string;
  prompt: string;
  language: string;
  reference?: string;
}

export interface ArbitrageSpec {
  strategy: Strategy;
  teachers: TeacherInfo[];
  samplesPerTeacher: number;
  seed: number;
  /** Sampling for every completion; each completion's seed is derived from `seed`, prompt, teacher name, sample. */
  sampling: Omit<SamplingOptions, 'seed'>;
  /** `single`: the teacher (default: the first). */
  single?: string;
  /** `fixed`: language → teacher id (default: the family table). */
  fixedTable?: Record<string, string>;
  /** `learned`: the reward-based generations the router learns from (cross-fitted, see below). */
  routerData?: Generation[];
  routerOptions?: RouterOptions;
  /** Teachers from elsewhere: the prompt mode each was asked in (default: the teacher's own). */
  modes?: Record<string, 'raw' | 'chat'>;
}

export interface Generation {
  promptId: string;
  prompt: string;
  language: string;
  reference?: string;
  teacher: string;
  sample: number;
  seed: number;
  completion: string;
  reward: number;
  components: Record<ComponentName, number | null>;
  /** Kept as the SFT completion of its prompt. */
  selected: boolean;
  /** Who generated it: 'engine' (ours), 'llama.cpp' or 'openai' — and its cost (absent in old files). */
  backend?: string;
  tokens?: number;
  seconds?: number;
}

/** A completion with its cost, as a backend reports it. */
export interface GeneratedText {
  text: string;
  backend?: string;
  tokens?: number;
  seconds?: number;
}

/** What one teacher's completions cost in a run. */
export interface TeacherCost {
  backend: string;
  completions: number;
  tokens: number;
  seconds: number;
}

export interface PromptOutcome {
  promptId: string;
  language: string;
  prompt: string;
  /** Teachers asked for this prompt. */
  routedTo: string[];
  best: Generation;
  /** The lowest-reward completion, when there were two or more with different rewards. */
  worst: Generation | null;
  /** `learned`: the router's probabilities per teacher. */
  routerProbabilities?: number[];
}

export interface ArbitrageSummary {
  strategy: Strategy;
  prompts: number;
  /** Completions sampled (the strategy's generation cost). */
  completions: number;
  /** languages × teachers: how often each teacher's completion was kept. */
  selection: Record<string, Record<string, number>>;
  /** Mean reward of the kept completions, per language and overall. */
  meanReward: Record<string, number>;
  overallMeanReward: number;
  /** `learned`: share of prompts (in the router data) where the cross-fitted router picked the reward-based arg-max. */
  routerAccuracy?: number;
  /** Per teacher asked: its backend, completions, generated tokens and seconds. */
  cost?: Record<string, TeacherCost>;
}

/** A completion a backend could not give (a server down, slow, or answering with an error). */
export interface GenerationFailure {
  promptId: string;
  language: string;
  teacher: string;
  sample: number;
  message: string;
}

export interface ArbitrageResult {
  spec: Omit<ArbitrageSpec, 'routerData'>;
  generations: Generation[];
  outcomes: PromptOutcome[];
  summary: ArbitrageSummary;
  cancelled: boolean;
  /** Completions that failed; the run went on with the other teachers. */
  failures?: GenerationFailure[];
}

export interface ArbitrageDeps {
  /** The text, or the text with its backend and cost. */
  generate(teacherId: string, prompt: ArbitragePrompt, opts: SamplingOptions): Promise<string | GeneratedText>;
  /** Announces a teacher's samples of a prompt before they are asked for one by one, so that a
   *  backend that can decode them together does (the same texts). */
  prefetch?(teacherId: string, prompt: ArbitragePrompt, sampling: Omit<SamplingOptions, 'seed'>, seeds: readonly number[]): void;
  arbiter: Arbiter;
  shouldStop?: () => boolean;
  /** `latest` is null after a failed completion. */
  onProgress?: (done: number, total: number, latest: Generation | null) => void;
}

/** The default fixed routing: each language to the teacher of its family (DESIGN §1's table). */
export function familyTable(teachers: readonly TeacherInfo[], languages: readonly string[] = LANGUAGE_CODES): Record<string, string> {
  if (teachers.length === 0) throw new Error('arbitrage: no teachers');
  const out: Record<string, string> = {};
  for (const lang of languages) {
    const fam = familyOf(lang).id;
    const t =
      teachers.find((x) => x.family === fam) ??
      teachers.find((x) => x.id.includes(fam) || x.name.toLowerCase().includes(fam)) ??
      teachers.find((x) => x.languages?.includes(lang)) ??
      teachers[0];
    out[lang] = t.id;
  }
  return out;
}

export function validateArbitrageSpec(spec: ArbitrageSpec, prompts: readonly ArbitragePrompt[]): void {
  if (!STRATEGIES.includes(spec.strategy)) throw new Error(`arbitrage: unknown strategy '${spec.strategy}' (expected ${STRATEGIES.join(', ')})`);
  if (spec.teachers.length === 0) throw new Error('arbitrage: choose at least one teacher');
  const ids = new Set(spec.teachers.map((t) => t.id));
  if (ids.size !== spec.teachers.length) throw new Error('arbitrage: a teacher is listed twice');
  if (!Number.isInteger(spec.samplesPerTeacher) || spec.samplesPerTeacher < 1) throw new Error(`arbitrage: samples per teacher must be a positive integer, got ${spec.samplesPerTeacher}`);
  if (prompts.length === 0) throw new Error('arbitrage: no prompts');
  if (spec.strategy === 'single' && spec.single && !ids.has(spec.single)) throw new Error(`arbitrage: the single teacher '${spec.single}' is not in the pool`);
  if (spec.strategy === 'fixed' && spec.fixedTable) {
    for (const [lang, t] of Object.entries(spec.fixedTable)) if (!ids.has(t)) throw new Error(`arbitrage: the fixed table sends ${lang} to '${t}', which is not in the pool`);
  }
  if (spec.strategy === 'learned') {
    if (spec.teachers.length < 2) throw new Error('arbitrage: the learned router needs at least 2 teachers');
    if (!spec.routerData?.length) throw new Error('arbitrage: the learned router needs a reward-based run to learn from');
  }
}

/** Per prompt, each teacher's mean reward over its samples (teachers in `teachers` order; prompts missing a teacher are dropped). */
export function routerExamples(generations: readonly Generation[], teachers: readonly string[]): Array<RouterExample & { promptId: string }> {
  const byPrompt = new Map<string, Generation[]>();
  for (const g of generations) byPrompt.set(g.promptId, [...(byPrompt.get(g.promptId) ?? []), g]);
  const out: Array<RouterExample & { promptId: string }> = [];
  for (const [promptId, gs] of byPrompt) {
    const rewards = teachers.map((t) => {
      const mine = gs.filter((g) => g.teacher === t);
      return mine.length ? mine.reduce((s, g) => s + g.reward, 0) / mine.length : NaN;
    });
    if (rewards.some((r) => Number.isNaN(r))) continue;
    out.push({ promptId, prompt: gs[0].prompt, language: gs[0].language, rewards });
  }
  return out;
}

/** Fold (0 or 1) of a prompt for cross-fitting. */
export function promptFold(promptId: string): 0 | 1 {
  return (hashString(promptId) & 1) as 0 | 1;
}

/**
 * Two routers, each trained on one fold of the reward-based prompts; a prompt is routed by the router
 * that did not see it, so routing a prompt the router learned from is not memorisation.
 */
export function trainCrossFittedRouters(data: readonly Generation[], teachers: readonly string[], options: RouterOptions = DEFAULT_ROUTER): { routers: [Router, Router]; accuracy: number; examples: number } {
  const ex = routerExamples(data, teachers);
  if (ex.length < 2) throw new Error(`arbitrage: the reward-based run has ${ex.length} prompt(s) scored by all ${teachers.length} teachers; the router needs at least 2`);
  const folds = [ex.filter((e) => promptFold(e.promptId) === 0), ex.filter((e) => promptFold(e.promptId) === 1)];
  // A fold can be empty on tiny runs: then both routers learn from everything there is.
  const trainOn = (f: 0 | 1) => (folds[f].length ? folds[f] : ex);
  const routers: [Router, Router] = [Router.train([...teachers], trainOn(1), options), Router.train([...teachers], trainOn(0), options)];
  let correct = 0;
  for (const e of ex) {
    const r = routers[promptFold(e.promptId)];
    const best = e.rewards.indexOf(Math.max(...e.rewards));
    if (r.route(e.prompt, e.language) === teachers[best]) correct++;
  }
  return { routers, accuracy: correct / ex.length, examples: ex.length };
}

export async function runArbitrage(prompts: readonly ArbitragePrompt[], spec: ArbitrageSpec, deps: ArbitrageDeps): Promise<ArbitrageResult> {
  validateArbitrageSpec(spec, prompts);
  const teacherIds = spec.teachers.map((t) => t.id);
  const table = spec.strategy === 'fixed' ? { ...familyTable(spec.teachers), ...(spec.fixedTable ?? {}) } : null;
  let cross: ReturnType<typeof trainCrossFittedRouters> | null = null;
  if (spec.strategy === 'learned') cross = trainCrossFittedRouters(spec.routerData ?? [], teacherIds, spec.routerOptions);

  const plan = prompts.map((p) => {
    let teachers: string[];
    let probs: number[] | undefined;
    switch (spec.strategy) {
      case 'random':
        teachers = [teacherIds[deriveSeed(spec.seed, 'route', p.id) % teacherIds.length]];
        break;
      case 'single':
        teachers = [spec.single ?? teacherIds[0]];
        break;
      case 'fixed':
        teachers = [table![p.language] ?? teacherIds[0]];
        break;
      case 'reward':
        teachers = [...teacherIds];
        break;
      case 'learned': {
        const r = cross!.routers[promptFold(p.id)];
        probs = r.predict(p.prompt, p.language);
        teachers = [teacherIds[probs.indexOf(Math.max(...probs))]];
        break;
      }
    }
    return { p, teachers, probs };
  });

  const total = plan.reduce((s, x) => s + x.teachers.length * spec.samplesPerTeacher, 0);
  const generations: Generation[] = [];
  const outcomes: PromptOutcome[] = [];
  const failures: GenerationFailure[] = [];
  let cancelled = false;
  // A teacher's completions are seeded by its name (as the runtime names its folder), not its id:
  // an id says where the model lives (a path in the CLI, builtin:… in the tab, a library id on the
  // runtime), so seeding by id gave the same teacher different samples in each door — and a CLI
  // run depended on the checkout path.
  const byName = new Map(spec.teachers.map((t) => [t.id, slugify(t.name, 48)]));
  const seedOf = (p: ArbitragePrompt, teacher: string, s: number) => deriveSeed(spec.seed, p.id, byName.get(teacher) ?? teacher, s);
  outer: for (const { p, teachers, probs } of plan) {
    const mine: Generation[] = [];
    for (const teacher of teachers) {
      if (spec.samplesPerTeacher > 1) deps.prefetch?.(teacher, p, spec.sampling, Array.from({ length: spec.samplesPerTeacher }, (_, s) => seedOf(p, teacher, s)));
      for (let s = 0; s < spec.samplesPerTeacher; s++) {
        if (deps.shouldStop?.()) {
          cancelled = true;
          break outer;
        }
        // The seed depends on (run seed, prompt, teacher, sample) only, so every strategy asks a
        // teacher for the same completion of a prompt: strategies differ only in routing.
        const seed = seedOf(p, teacher, s);
        let out: string | GeneratedText;
        try {
          out = await deps.generate(teacher, p, { ...spec.sampling, seed });
        } catch (e) {
          if (deps.shouldStop?.()) {
            cancelled = true;
            break outer;
          }
          // One teacher failing (its server down, a timeout) costs that completion, not the run.
          failures.push({ promptId: p.id, language: p.language, teacher, sample: s, message: (e as Error).message ?? String(e) });
          deps.onProgress?.(generations.length + failures.length, total, null);
          continue;
        }
        const gen: GeneratedText = typeof out === 'string' ? { text: out } : out;
        const completion = gen.text;
        if (deps.shouldStop?.()) {
          cancelled = true; // the completion may have been cut short: not scored, not kept
          break outer;
        }
        const sc = deps.arbiter.score(p.prompt, completion, p.language, p.reference);
        const g: Generation = {
          promptId: p.id,
          prompt: p.prompt,
          language: p.language,
          reference: p.reference,
          teacher,
          sample: s,
          seed,
          completion,
          reward: sc.reward,
          components: sc.components,
          selected: false,
          ...(gen.backend !== undefined ? { backend: gen.backend } : {}),
          ...(gen.tokens !== undefined ? { tokens: gen.tokens } : {}),
          ...(gen.seconds !== undefined ? { seconds: gen.seconds } : {}),
        };
        mine.push(g);
        generations.push(g);
        deps.onProgress?.(generations.length + failures.length, total, g);
      }
    }
    if (mine.length === 0) continue; // every completion of this prompt failed
    let best = mine[0];
    let worst = mine[0];
    for (const g of mine) {
      if (g.reward > best.reward) best = g;
      if (g.reward < worst.reward) worst = g;
    }
    best.selected = true;
    outcomes.push({ promptId: p.id, language: p.language, prompt: p.prompt, routedTo: teachers, best, worst: worst.reward < best.reward ? worst : null, routerProbabilities: probs });
  }
  const { routerData: _unused, ...specOut } = spec;
  void _unused;
  const summary = summarizeArbitrage(spec.strategy, teacherIds, outcomes, generations.length, cross?.accuracy);
  if (generations.some((g) => g.backend !== undefined)) summary.cost = teacherCosts(generations);
  return { spec: specOut, generations, outcomes, summary, cancelled, ...(failures.length ? { failures } : {}) };
}

/** Per teacher: backend, completions, tokens and seconds summed over its generations. */
export function teacherCosts(generations: readonly Generation[]): Record<string, TeacherCost> {
  const out: Record<string, TeacherCost> = {};
  for (const g of generations) {
    const c = (out[g.teacher] ??= { backend: g.backend ?? 'unknown', completions: 0, tokens: 0, seconds: 0 });
    c.completions++;
    c.tokens += g.tokens ?? 0;
    c.seconds += g.seconds ?? 0;
  }
  return out;
}

export function summarizeArbitrage(strategy: Strategy, teachers: readonly string[], outcomes: readonly PromptOutcome[], completions: number, routerAccuracy?: number): ArbitrageSummary {
  const selection: Record<string, Record<string, number>> = {};
  const sums: Record<string, [number, number]> = {};
  let total = 0;
  for (const o of outcomes) {
    selection[o.language] ??= Object.fromEntries(teachers.map((t) => [t, 0]));
    selection[o.language][o.best.teacher] = (selection[o.language][o.best.teacher] ?? 0) + 1;
    sums[o.language] ??= [0, 0];
    sums[o.language][0] += o.best.reward;
    sums[o.language][1] += 1;
    total += o.best.reward;
  }
  const meanReward = Object.fromEntries(Object.entries(sums).map(([l, [s, n]]) => [l, s / n]));
  return { strategy, prompts: outcomes.length, completions, selection, meanReward, overallMeanReward: outcomes.length ? total / outcomes.length : 0, routerAccuracy };
}

// ---- TRL JSONL exports -------------------------------------------------------------------------

/** SFT set: the best completion per prompt, `{"prompt","completion"}` + language, teacher, reward. */
export function sftJsonl(outcomes: readonly PromptOutcome[]): string {
  return outcomes
    .map((o) => JSON.stringify({ prompt: o.prompt, completion: o.best.completion, language: o.language, prompt_id: o.promptId, teacher: o.best.teacher, reward: o.best.reward }))
    .map((l) => l + '\n')
    .join('');
}

/** Offline preference set: best vs worst per prompt, `{"prompt","chosen","rejected"}` + teachers, rewards. */
export function preferenceJsonl(outcomes: readonly PromptOutcome[]): string {
  return outcomes
    .filter((o) => o.worst && o.worst.completion !== o.best.completion)
    .map((o) =>
      JSON.stringify({
        prompt: o.prompt,
        chosen: o.best.completion,
        rejected: o.worst!.completion,
        language: o.language,
        prompt_id: o.promptId,
        chosen_teacher: o.best.teacher,
        rejected_teacher: o.worst!.teacher,
        chosen_reward: o.best.reward,
        rejected_reward: o.worst!.reward,
      }),
    )
    .map((l) => l + '\n')
    .join('');
}

/** Every generation as JSONL (for the results table and re-use as router data). */
export function generationsJsonl(generations: readonly Generation[]): string {
  return generations.map((g) => JSON.stringify(g) + '\n').join('');
}

export interface PreferenceRecord {
  prompt: string;
  chosen: string;
  rejected: string;
  language?: string;
}

/** Reads TRL preference JSONL (standard, explicit prompt); errors name the line. */
export function parsePreferenceJsonl(text: string, file = 'preferences.jsonl'): PreferenceRecord[] {
  return parseJsonLines(text, file).map(({ line, value: r }) => {
    for (const k of ['prompt', 'chosen', 'rejected']) if (typeof r[k] !== 'string') throw new Error(`${file}:${line}: "${k}" must be a string`);
    if (r.language !== undefined && !LANGUAGE_CODES.includes(r.language as string)) throw new Error(`${file}:${line}: unknown language '${show(r.language)}'`);
    return { prompt: r.prompt as string, chosen: r.chosen as string, rejected: r.rejected as string, language: r.language as string | undefined };
  });
}

/**
 * Prompt sets from JSONL: `{"prompt","language","reference"?}` per line; m-ArenaHard's
 * `question_id` is taken as the id (its `prompt` field is the same name). `language` may be given
 * once for a whole file (m-ArenaHard ships one file per language).
 */
export function parsePromptsJsonl(text: string, file = 'prompts.jsonl', defaultLanguage?: string): ArbitragePrompt[] {
  const seen = new Set<string>();
  const out = parseJsonLines(text, file).map(({ line, value: r }): ArbitragePrompt => {
    if (typeof r.prompt !== 'string' || !r.prompt.trim()) throw new Error(`${file}:${line}: "prompt" must be a non-empty string`);
    const language = (r.language ?? r.lang ?? defaultLanguage) as string | undefined;
    if (typeof language !== 'string') throw new Error(`${file}:${line}: no "language" (and none given for the file)`);
    if (!LANGUAGE_CODES.includes(language)) throw new Error(`${file}:${line}: unknown language '${language}' (expected one of ${LANGUAGE_CODES.join(', ')})`);
    if (r.reference !== undefined && typeof r.reference !== 'string') throw new Error(`${file}:${line}: "reference" must be a string`);
    const given = r.id ?? r.question_id;
    if (given !== undefined && given !== null && typeof given !== 'string' && typeof given !== 'number') throw new Error(`${file}:${line}: "${r.id !== undefined && r.id !== null ? 'id' : 'question_id'}" must be a string or a number`);
    let id = String(given ?? `${language}-${line}`);
    if (seen.has(`${language}:${id}`)) id = `${id}-${line}`;
    seen.add(`${language}:${id}`);
    return { id: `${language}:${id}`, prompt: r.prompt, language, reference: r.reference as string | undefined };
  });
  if (out.length === 0) throw new Error(`${file}: no prompts`);
  return out;
}
