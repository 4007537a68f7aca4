// CLI commands of the arbitrage stage: `arbitrage`, `eval`, `arbitrage-experiment`.
import { makeDirs, readTextFile } from '../util/fs.node.ts';
import { readFile, writeFile, readdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { ParseArgsConfig } from 'node:util';
import type { EngineApi, ExperimentRequest, PromptSelection } from '../engine/api.ts';
import { runJob } from './jobs.ts';
import { COMPONENTS, DEFAULT_WEIGHTS, type ArbiterWeights } from '../arbiter/arbiter.ts';
import { generationsJsonl, preferenceJsonl, sftJsonl, STRATEGIES, type Generation, type Strategy } from '../arbitrage/arbitrage.ts';
import { experimentTable } from '../arbitrage/experiment.ts';
import { evalCsv, type EvalReport, INTERVAL_METHOD, MIN_PROMPTS_TO_CALL, type WinVerdict } from '../eval/headToHead.ts';
import { DEFAULT_MIN_NEW_TOKENS, DEFAULT_SAMPLING, type SamplingOptions } from '../model/sample.ts';
import { LANGUAGE_CODES } from '../data/languages.ts';
import { parseJsonLines } from '../util/jsonl.ts';
import { int, need, num, UsageError, type Values } from './args.ts';
import { connectOpenAi, TEACHER_OPTIONS, TEACHER_USAGE } from './teacherOptions.ts';
import { isTeacherId } from '../engine/teachers.ts';
import { JUDGE_CHOICES, type JudgeChoice } from '../eval/llmJudge.ts';

export const ARBITRAGE_USAGE = `  arbitrage --teachers DIR|ID,DIR|ID,… | --zoo public/models  --out DIR  ${TEACHER_USAGE}
            [--strategy ${STRATEGIES.join('|')}] [--prompts udhr-train|udhr-heldout|FILE.jsonl]
            [--langs xx,…] [--per-language N] [--samples N] [--seed S] [--single DIR]
            [--router-data generations.jsonl] [--weights language=.4,fluency=.3,adequacy=.3]
            [--max-new-tokens N] [--min-new-tokens 16] [--temperature T]
                                             route prompts to teachers, score with the Arbiter;
                                             writes generations.jsonl, sft.jsonl (TRL prompt/
                                             completion), preferences.jsonl (TRL prompt/chosen/
                                             rejected) and summary.json; a teacher is a model
                                             folder or a teacher id (gguf:NAME for --gguf files,
                                             openai:HOST/MODEL for --openai servers); each
                                             generation records its backend, tokens and seconds
  eval --a DIR|ID --b DIR|ID --out report.json [--prompts udhr-heldout|FILE.jsonl] [--langs xx,…]
       [--per-language N] [--samples N] [--seed S] [--bootstrap N] [--max-new-tokens N]
       [--min-new-tokens 16] [--judge arbiter|llm|both --judge-model DIR|ID [--judge-mode raw|chat]
       [--judge-free] [--judge-max-tokens N]] ${TEACHER_USAGE}
                                             head-to-head win/tie/loss per language with 95%
                                             intervals (bootstrap ∪ Wilson; no winner below 10
                                             prompts); the LLM judge sees both orders (position
                                             consistency, κ vs the Arbiter), its verdict
                                             constrained unless --judge-free; writes report.json + .csv
  arbitrage-experiment --zoo public/models --out DIR [--student DIR] [--strategies …] [--langs …]
       [--per-language N] [--heldout-per-language N] [--steps N] [--eval-samples N] [--seed S]
       [--max-new-tokens N] [--min-new-tokens 16]
                                             every strategy → SFT of the student → head-to-head
                                             vs the single-teacher student; writes report.json,
                                             table.md and the students
`;

const sampling = { 'max-new-tokens': { type: 'string' }, 'min-new-tokens': { type: 'string' }, temperature: { type: 'string' }, 'top-k': { type: 'string' }, 'top-p': { type: 'string' } } as const;

export const ARBITRAGE_OPTIONS: Record<string, ParseArgsConfig['options']> = {
  arbitrage: {
    teachers: { type: 'string' },
    zoo: { type: 'string' },
    out: { type: 'string' },
    strategy: { type: 'string', default: 'reward' },
    prompts: { type: 'string', default: 'udhr-train' },
    langs: { type: 'string' },
    'per-language': { type: 'string' },
    samples: { type: 'string' },
    seed: { type: 'string' },
    single: { type: 'string' },
    'router-data': { type: 'string' },
    weights: { type: 'string' },
    ...sampling,
    ...TEACHER_OPTIONS,
  },
  eval: {
    a: { type: 'string' },
    b: { type: 'string' },
    out: { type: 'string' },
    prompts: { type: 'string', default: 'udhr-heldout' },
    langs: { type: 'string' },
    'per-language': { type: 'string' },
    samples: { type: 'string' },
    seed: { type: 'string' },
    bootstrap: { type: 'string' },
    weights: { type: 'string' },
    judge: { type: 'string', default: 'arbiter' },
    'judge-model': { type: 'string' },
    'judge-mode': { type: 'string' },
    'judge-free': { type: 'boolean' },
    'judge-max-tokens': { type: 'string' },
    ...sampling,
    ...TEACHER_OPTIONS,
  },
  'arbitrage-experiment': {
    zoo: { type: 'string', default: 'public/models' },
    student: { type: 'string' },
    out: { type: 'string' },
    strategies: { type: 'string' },
    langs: { type: 'string' },
    'per-language': { type: 'string' },
    'heldout-per-language': { type: 'string' },
    steps: { type: 'string' },
    batch: { type: 'string' },
    seq: { type: 'string' },
    lr: { type: 'string' },
    'eval-samples': { type: 'string' },
    bootstrap: { type: 'string' },
    seed: { type: 'string' },
    weights: { type: 'string' },
    ...sampling,
  },
};

function samplingFrom(values: Values): Omit<SamplingOptions, 'seed'> {
  return {
    maxNewTokens: int(values, 'max-new-tokens', 48),
    minNewTokens: int(values, 'min-new-tokens', DEFAULT_MIN_NEW_TOKENS),
    temperature: num(values, 'temperature', DEFAULT_SAMPLING.temperature),
    topK: int(values, 'top-k', DEFAULT_SAMPLING.topK),
    topP: num(values, 'top-p', DEFAULT_SAMPLING.topP),
  };
}

function langsFrom(values: Values): string[] | undefined {
  if (typeof values.langs !== 'string') return undefined;
  const langs = values.langs.split(',').map((l) => l.trim()).filter(Boolean);
  for (const l of langs) if (!LANGUAGE_CODES.includes(l)) throw new UsageError(`--langs: unknown language '${l}'`);
  return langs;
}

function weightsFrom(values: Values): ArbiterWeights {
  if (typeof values.weights !== 'string') return DEFAULT_WEIGHTS;
  const w: ArbiterWeights = { ...DEFAULT_WEIGHTS };
  for (const part of values.weights.split(',')) {
    const [k, v] = part.split('=');
    if (!(COMPONENTS as readonly string[]).includes(k)) throw new UsageError(`--weights: unknown component '${k}' (expected ${COMPONENTS.join(', ')})`);
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new UsageError(`--weights: '${part}' needs a number ≥ 0`);
    w[k as keyof ArbiterWeights] = n;
  }
  return w;
}

async function promptsFrom(values: Values, defaultSplit: 'train' | 'heldout', perLanguageKey = 'per-language'): Promise<PromptSelection> {
  const p = typeof values.prompts === 'string' ? values.prompts : `udhr-${defaultSplit}`;
  const perLanguage = values[perLanguageKey] === undefined ? undefined : int(values, perLanguageKey, 0);
  const languages = langsFrom(values);
  if (p === 'udhr-train' || p === 'udhr-heldout') return { source: { kind: 'udhr', split: p === 'udhr-train' ? 'train' : 'heldout' }, languages, perLanguage };
  let text: string;
  try {
    text = await readFile(p, 'utf8');
  } catch (e) {
    throw new Error(`--prompts: cannot read ${p}: ${(e as Error).message}`);
  }
  return { source: { kind: 'jsonl', text, file: p }, languages, perLanguage };
}

/** The teacher folders of a zoo (its manifest's models with role "teacher"), and its student. */
async function zooModels(dir: string): Promise<{ teachers: string[]; student: string | null }> {
  const root = resolve(dir);
  let manifest: { models?: Array<{ id: string; folder: string; role: string }> } | null = null;
  try {
    manifest = JSON.parse(await readFile(join(root, 'manifest.json'), 'utf8'));
  } catch {
    manifest = null;
  }
  if (manifest?.models) {
    const teachers = manifest.models.filter((m) => m.role === 'teacher').map((m) => resolve(root, m.folder));
    const student = manifest.models.find((m) => m.role === 'student');
    return { teachers, student: student ? resolve(root, student.folder) : null };
  }
  const entries = (await readdir(root, { withFileTypes: true })).filter((e) => e.isDirectory() && e.name.startsWith('teacher-'));
  return { teachers: entries.map((e) => join(root, e.name)).sort(), student: null };
}

async function writeOut(file: string, text: string): Promise<void> {
  await makeDirs(dirname(file));
  await writeFile(file, text);
}

function parseGenerations(text: string, file: string): Generation[] {
  return parseJsonLines(text, file).map((l) => l.value as unknown as Generation);
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/** A model folder (resolved) or a teacher id (as given). */
const modelRef = (s: string) => (isTeacherId(s.trim()) ? s.trim() : resolve(s.trim()));

const VERDICT_WORDS: Record<WinVerdict, string> = { a: 'A better', b: 'B better', none: 'no clear winner', 'too-few': `too few prompts to call (< ${MIN_PROMPTS_TO_CALL})` };

function printEval(r: EvalReport): void {
  process.stderr.write(`\n${r.names.a} vs ${r.names.b} (${INTERVAL_METHOD}; ${r.spec.bootstrap} bootstrap resamples)\n`);
  for (const t of r.judges?.length ? r.judges : [{ kind: 'arbiter', name: r.judge, perLanguage: r.perLanguage, overall: r.overall }]) {
    process.stderr.write(`judge: ${t.kind === 'llm' ? `LLM judge ${t.name}` : `${t.name} Arbiter`}\n`);
    for (const [l, w] of [...Object.entries(t.perLanguage), ['overall', t.overall] as const]) {
      process.stderr.write(`  ${String(l).padEnd(8)} ${String(w.wins).padStart(4)} W ${String(w.ties).padStart(4)} T ${String(w.losses).padStart(4)} L   win-rate ${pct(w.winRate)} [${pct(w.ci[0])}, ${pct(w.ci[1])}]  ${VERDICT_WORDS[w.verdict]}\n`);
    }
  }
  const s = r.llmJudge;
  if (s) {
    process.stderr.write(
      `LLM judge ${s.name}: ${s.comparisons} comparisons in both orders; ${s.consistent} consistent, ${s.inconsistent} inconsistent (ties), ${s.unparseable} without a verdict (ties); position consistency ${Number.isFinite(s.positionConsistency) ? pct(s.positionConsistency) : 'n/a'}; agreement with the Arbiter ${Number.isFinite(s.agreement) ? pct(s.agreement) : 'n/a'}, Cohen's κ ${s.kappa === null ? 'n/a' : s.kappa.toFixed(3)}; ${s.constrainedCalls}/${2 * s.comparisons} replies constrained${s.failedCalls ? `; ${s.failedCalls} calls failed: ${s.firstError}` : ''}\n`,
    );
  }
}

export async function runArbitrageCommand(engine: EngineApi, command: string, values: Values, asJson: boolean): Promise<number | null> {
  const progress = (label: string) => (done: number, total: number, etaSeconds: number) => {
    if (!asJson) process.stderr.write(`\r${label} ${done}/${total}, about ${Number.isFinite(etaSeconds) ? Math.round(etaSeconds) : '?'} s left`.padEnd(70));
  };
  switch (command) {
    case 'arbitrage': {
      const outDir = resolve(need(values, 'out'));
      const strategy = values.strategy as Strategy;
      if (!STRATEGIES.includes(strategy)) throw new UsageError(`--strategy: expected ${STRATEGIES.join(', ')}`);
      let teachers: string[];
      if (typeof values.teachers === 'string') teachers = values.teachers.split(',').map(modelRef);
      else if (typeof values.zoo === 'string') teachers = (await zooModels(values.zoo)).teachers;
      else throw new UsageError('--teachers or --zoo is required');
      const routerFile = typeof values['router-data'] === 'string' ? values['router-data'] : undefined;
      const routerData = routerFile ? parseGenerations(await readTextFile(routerFile, '--router-data'), routerFile) : undefined;
      if (strategy === 'learned' && !routerData) throw new UsageError('--strategy learned needs --router-data (generations.jsonl of a reward-based run)');
      await connectOpenAi(engine, values, (l) => !asJson && process.stderr.write(`${l}\n`), true);
      const show = progress('arbitrage');
      const r = await runJob(engine, 'arbitrage', {
        teachers,
        prompts: await promptsFrom(values, 'train'),
        strategy,
        samplesPerTeacher: int(values, 'samples', 1),
        seed: int(values, 'seed', 1),
        sampling: samplingFrom(values),
        single: typeof values.single === 'string' ? modelRef(values.single) : undefined,
        routerData,
        weights: weightsFrom(values),
      }, (e) => (asJson ? undefined : show(e.done, e.total, e.etaSeconds)));
      await writeOut(join(outDir, 'generations.jsonl'), generationsJsonl(r.generations));
      await writeOut(join(outDir, 'sft.jsonl'), sftJsonl(r.outcomes));
      await writeOut(join(outDir, 'preferences.jsonl'), preferenceJsonl(r.outcomes));
      await writeOut(join(outDir, 'summary.json'), JSON.stringify({ spec: r.spec, summary: r.summary, cancelled: r.cancelled, failures: r.failures ?? [] }, null, 2) + '\n');
      if (asJson) process.stdout.write(JSON.stringify({ out: outDir, summary: r.summary, failures: r.failures ?? [] }) + '\n');
      else {
        process.stderr.write(`\n${r.summary.prompts} prompts, ${r.summary.completions} completions, mean kept reward ${r.summary.overallMeanReward.toFixed(4)} → ${outDir}\n`);
        for (const [t, c] of Object.entries(r.summary.cost ?? {})) process.stderr.write(`  ${t}: ${c.backend}, ${c.completions} completions, ${c.tokens} tokens, ${c.seconds.toFixed(2)} s\n`);
        if (r.failures?.length) process.stderr.write(`${r.failures.length} completions failed (the run went on without them), e.g. ${r.failures[0].teacher}: ${r.failures[0].message}\n`);
      }
      return 0;
    }
    case 'eval': {
      const outFile = resolve(need(values, 'out'));
      const judge = values.judge as JudgeChoice;
      if (!JUDGE_CHOICES.includes(judge)) throw new UsageError(`--judge: expected ${JUDGE_CHOICES.join(', ')}`);
      if (judge !== 'arbiter' && typeof values['judge-model'] !== 'string') throw new UsageError(`--judge ${judge} needs --judge-model (a model folder or a teacher id)`);
      const judgeMode = values['judge-mode'];
      if (judgeMode !== undefined && judgeMode !== 'raw' && judgeMode !== 'chat') throw new UsageError('--judge-mode: expected raw or chat');
      await connectOpenAi(engine, values, (l) => !asJson && process.stderr.write(`${l}\n`), true);
      const show = progress('eval');
      const r = await runJob(engine, 'evaluate', {
        a: modelRef(need(values, 'a')),
        b: modelRef(need(values, 'b')),
        ...(judge !== 'arbiter'
          ? {
              judge,
              judgeModel: modelRef(String(values['judge-model'])),
              ...(judgeMode ? { judgeMode } : {}),
              judgeConstrain: !values['judge-free'],
              ...(values['judge-max-tokens'] !== undefined ? { judgeMaxTokens: int(values, 'judge-max-tokens', 32) } : {}),
            }
          : {}),
        prompts: await promptsFrom(values, 'heldout'),
        samples: int(values, 'samples', 1),
        seed: int(values, 'seed', 1),
        sampling: samplingFrom(values),
        bootstrap: int(values, 'bootstrap', 2000),
        weights: weightsFrom(values),
      }, (e) => (asJson ? undefined : show(e.done, e.total, e.etaSeconds)));
      await writeOut(outFile, JSON.stringify(r, null, 2) + '\n');
      await writeOut(outFile.replace(/\.json$/i, '') + '.csv', evalCsv(r));
      if (asJson) process.stdout.write(JSON.stringify({ out: outFile, overall: r.overall, perLanguage: r.perLanguage, ...(r.llmJudge ? { llmJudge: r.llmJudge, judges: r.judges } : {}) }) + '\n');
      else printEval(r);
      return 0;
    }
    case 'arbitrage-experiment': {
      const outDir = resolve(need(values, 'out'));
      const zoo = await zooModels(String(values.zoo));
      const student = typeof values.student === 'string' ? resolve(values.student) : zoo.student;
      if (!student) throw new UsageError('--student is required (the zoo manifest names no student)');
      if (zoo.teachers.length < 2) throw new Error(`${values.zoo}: found ${zoo.teachers.length} teacher(s); the experiment needs at least 2`);
      const strategies = typeof values.strategies === 'string' ? (values.strategies.split(',') as Strategy[]) : [...STRATEGIES];
      for (const s of strategies) if (!STRATEGIES.includes(s)) throw new UsageError(`--strategies: unknown '${s}'`);
      const perLanguage = values['per-language'] === undefined ? 8 : int(values, 'per-language', 8);
      const heldPer = values['heldout-per-language'] === undefined ? undefined : int(values, 'heldout-per-language', 0);
      const req: ExperimentRequest = {
        teachers: zoo.teachers,
        student,
        strategies,
        trainPrompts: { source: { kind: 'udhr', split: 'train' }, languages: langsFrom(values), perLanguage },
        heldOutPrompts: { source: { kind: 'udhr', split: 'heldout' }, languages: langsFrom(values), perLanguage: heldPer },
        samplesPerTeacher: 1,
        seed: int(values, 'seed', 1),
        sampling: samplingFrom(values),
        sft: { steps: int(values, 'steps', 120), batchSize: int(values, 'batch', 8), seqLen: int(values, 'seq', 64), lr: num(values, 'lr', 3e-3) },
        evalSamples: int(values, 'eval-samples', 1),
        bootstrap: int(values, 'bootstrap', 2000),
        weights: weightsFrom(values),
        outPrefix: join(outDir, 'students', 'student-'),
      };
      const t0 = performance.now();
      const r = await runJob(engine, 'arbitrageExperiment', req, (e) => {
        if (e.type === 'partial') void writeOut(join(outDir, 'report.partial.json'), JSON.stringify(e.report) + '\n');
        else if (!asJson) {
          const s = e.stage;
          const what = s.stage === 'sft' ? `SFT ${s.strategy} step ${s.step}/${s.steps}` : `${s.stage} ${s.strategy} ${s.done}/${s.total}`;
          process.stderr.write(`\r${(100 * e.fraction).toFixed(1)}% ${what}, about ${Number.isFinite(e.etaSeconds) ? Math.round(e.etaSeconds) : '?'} s left`.padEnd(80));
        }
      });
      const seconds = (performance.now() - t0) / 1000;
      await writeOut(join(outDir, 'report.json'), JSON.stringify({ ...r, seconds }) + '\n');
      for (const [s, a] of Object.entries(r.arbitrage)) {
        await writeOut(join(outDir, 'arbitrage', s, 'sft.jsonl'), sftJsonl(a.outcomes));
        await writeOut(join(outDir, 'arbitrage', s, 'preferences.jsonl'), preferenceJsonl(a.outcomes));
      }
      for (const row of r.rows) if (row.vsSingle) await writeOut(join(outDir, 'eval', `${row.strategy}-vs-single.csv`), evalCsv(row.vsSingle));
      await writeOut(join(outDir, 'table.md'), experimentTable(r));
      if (asJson) process.stdout.write(JSON.stringify({ out: outDir, rows: r.rows.map((x) => ({ strategy: x.strategy, completions: x.completions, overall: x.vsSingle?.overall ?? null })), seconds }) + '\n');
      else process.stderr.write(`\n${experimentTable(r)}single teacher: ${r.singleTeacher} (${r.singleTeacherReason}); ${seconds.toFixed(0)} s → ${outDir}\n`);
      return r.cancelled ? 1 : 0;
    }
  }
  return null;
}
