// Arbitrage (route prompts to teachers, score with the Arbiter, keep the best), head-to-head
// evaluation, and issue 5's experiment that chains them with SFT. A cancel returns the partial
// result, flagged `cancelled` (a completion cut short by the cancel is never judged).
import { show } from '../../util/show.ts';
import { validateSampling } from '../../model/sample.ts';
import { type ArbitrageResult, type ArbitrageSpec, runArbitrage, type TeacherInfo } from '../../arbitrage/arbitrage.ts';
import { type ExperimentReport, type ExperimentSpec, type ExperimentStage, runArbitrageExperiment } from '../../arbitrage/experiment.ts';
import { DEFAULT_BOOTSTRAP, type EvalReport, type LlmJudgeDep, runHeadToHead } from '../../eval/headToHead.ts';
import { judgeMessages, parseVerdictLabel, rawJudgePrompt, VERDICT_SCHEMA } from '../../eval/llmJudge.ts';
import { deriveSeed } from '../../util/hash.ts';
import { isTeacherId } from '../teachers.ts';
import type { ArbitrageEvent, ArbitrageRequest, EvalEvent, EvalRequest, ExperimentEvent, ExperimentRequest, TrainEvent } from '../api.ts';
import { type EngineCore, eta } from '../core.ts';
import type { JobControl } from '../jobRegistry.ts';
import { complete, type Completion, completer, teacherMode } from './sample.ts';
import { train } from './train.ts';

type Cache = Map<string, Promise<Completion>>;

export function arbitrage(core: EngineCore, req: ArbitrageRequest, ctl: JobControl<ArbitrageEvent>): Promise<ArbitrageResult> {
  return arbitrageWith(core, req, ctl.shouldStop, (e) => ctl.emit(e));
}

async function arbitrageWith(core: EngineCore, req: ArbitrageRequest, stop: () => boolean, onEvent: (e: ArbitrageEvent) => void, cache?: Cache): Promise<ArbitrageResult> {
  validateSampling({ ...req.sampling, seed: req.seed });
  if (!Array.isArray(req.teachers) || req.teachers.length === 0) throw new Error('arbitrage: give at least one teacher');
  const [prompts, teachers, arbiter] = await Promise.all([core.resources.promptSet(req.prompts), poolInfo(core, req.teachers), core.resources.referenceArbiter(req.weights)]);
  const { prompts: _p, weights: _w, ...rest } = req;
  const spec: ArbitrageSpec = { ...rest, teachers };
  const t0 = performance.now();
  const generate = completer(core, stop, cache, req.modes);
  return runArbitrage(prompts, spec, {
    arbiter,
    shouldStop: stop,
    generate,
    prefetch: generate.prefetch,
    onProgress: (done, total, latest) => onEvent({ type: 'progress', done, total, etaSeconds: eta(t0, done, total), latest }),
  });
}

/** Head-to-head: A and B complete the same prompts with the same seeds; the Arbiter judges. */
export function evaluate(core: EngineCore, req: EvalRequest, ctl: JobControl<EvalEvent>): Promise<EvalReport> {
  return evaluateWith(core, req, ctl.shouldStop, (e) => ctl.emit(e));
}

async function evaluateWith(core: EngineCore, req: EvalRequest, stop: () => boolean, onEvent: (e: EvalEvent) => void, cache?: Cache): Promise<EvalReport> {
  validateSampling({ ...req.sampling, seed: req.seed });
  const judge = req.judge ?? 'arbiter';
  const [prompts, arbiter, names] = await Promise.all([core.resources.promptSet(req.prompts), core.resources.referenceArbiter(req.weights), Promise.all([modelName(core, req.a), modelName(core, req.b)]).then(([a, b]) => ({ a, b }))]);
  const llmJudge = judge === 'arbiter' ? undefined : await llmJudgeFor(core, req, stop);
  const t0 = performance.now();
  const generate = completer(core, stop, cache, req.modes);
  const spec = {
    a: req.a,
    b: req.b,
    samples: req.samples,
    seed: req.seed,
    sampling: req.sampling,
    bootstrap: req.bootstrap ?? DEFAULT_BOOTSTRAP,
    ...(judge !== 'arbiter' ? { judge, judgeModel: req.judgeModel } : {}),
    ...(req.modes ? { modes: req.modes } : {}),
  };
  return runHeadToHead(prompts, spec, names, {
    arbiter,
    llmJudge,
    shouldStop: stop,
    generate: async (id, p, o) => (await generate(id, p, o)).text,
    prefetch: generate.prefetch,
    onProgress: (done, total, latest) => onEvent({ type: 'progress', done, total, etaSeconds: eta(t0, done, total), latest }),
  });
}

/**
 * The pool: our models with their family and languages, teachers with their backend's name. A
 * teacher whose backend is not connected fails now; one its server does not list fails (and is
 * recorded) when asked, as a server may be down or add it later.
 */
async function poolInfo(core: EngineCore, ids: string[]): Promise<TeacherInfo[]> {
  const ours = await core.library.teacherInfo(ids.filter((id) => !isTeacherId(id)));
  return Promise.all(
    ids.map(async (id) => {
      if (!isTeacherId(id)) return ours.find((t) => t.id === id)!;
      core.teachers.backendFor(id); // throws when its backend is not connected
      const listed = await core.teachers.find(id).catch(() => null);
      return { id, name: listed?.name ?? id };
    }),
  );
}

/** A model's display name: ours from the library, a teacher's from its backend. */
async function modelName(core: EngineCore, id: string): Promise<string> {
  if (!isTeacherId(id)) return (await core.library.describe(id)).name;
  return (await core.teachers.find(id))?.name ?? id;
}

/**
 * The LLM judge of an evaluation: greedy, in English, the verdict constrained to VERDICT_SCHEMA
 * unless asked not to. A call that fails (the judge's server down) is an unparseable reply that
 * says why — a tie, counted — so the comparisons already judged are kept.
 */
async function llmJudgeFor(core: EngineCore, req: EvalRequest, stop: () => boolean): Promise<LlmJudgeDep> {
  const id = req.judgeModel;
  if (!id) throw new Error('eval: choose the LLM judge\'s model');
  const name = await modelName(core, id);
  const mode = isTeacherId(id) ? await teacherMode(core, id, req.judgeMode) : 'raw';
  const constrain = req.judgeConstrain ?? true;
  const maxNewTokens = req.judgeMaxTokens ?? (constrain ? 32 : 512);
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 8 || maxNewTokens > 8192) throw new Error(`eval: the judge's reply budget must be 8 to 8192 tokens, got ${show(req.judgeMaxTokens)}`);
  return {
    id,
    name,
    async call(p, first, second) {
      const m = judgeMessages({ prompt: p.prompt, language: p.language, first, second, reference: p.reference, constrained: constrain });
      const sampling = { temperature: 0, topK: 0, topP: 1, maxNewTokens, minNewTokens: 0, seed: deriveSeed(req.seed, 'judge', p.id) };
      const t0 = performance.now();
      try {
        const c = await complete(core, id, mode === 'chat' ? m.user : rawJudgePrompt(m, constrain), 'eng', sampling, stop, {
          mode,
          ...(mode === 'chat' ? { messages: [{ role: 'system' as const, content: m.system }, { role: 'user' as const, content: m.user }] } : {}),
          ...(constrain ? { jsonSchema: VERDICT_SCHEMA as unknown as Record<string, unknown> } : {}),
        });
        return { text: c.text, label: parseVerdictLabel(c.text), seconds: c.seconds, constrained: c.constrained ?? false };
      } catch (e) {
        // On a cancel the head-to-head sees the stop after this call and ends with what it has.
        return { text: '', label: null, seconds: (performance.now() - t0) / 1000, constrained: false, error: (e as Error).message ?? String(e) };
      }
    },
  };
}

/**
 * Issue 5's experiment: arbitrage with each strategy, the same SFT of the student on each result,
 * each student head-to-head against the single-teacher student on held-out prompts.
 */
export async function arbitrageExperiment(core: EngineCore, req: ExperimentRequest, ctl: JobControl<ExperimentEvent>): Promise<ExperimentReport> {
  const stop = ctl.shouldStop;
  const cache: Cache = new Map();
  const teachers = await poolInfo(core, req.teachers);
  const [student] = await core.library.teacherInfo([req.student]);
  const trainPrompts = await core.resources.promptSet(req.trainPrompts);
  const heldOut = await core.resources.promptSet(req.heldOutPrompts);
  const spec: ExperimentSpec = {
    teachers,
    student: { id: student.id, name: student.name },
    strategies: req.strategies,
    samplesPerTeacher: req.samplesPerTeacher,
    seed: req.seed,
    sampling: req.sampling,
    sft: req.sft,
    evalSamples: req.evalSamples,
    bootstrap: req.bootstrap ?? DEFAULT_BOOTSTRAP,
  };
  // Rough cost model for the ETA: one generation ≈ one unit, one SFT step ≈ 3 units.
  const others = req.strategies.filter((s) => s !== 'reward' && s !== 'single').length;
  const units = {
    arbitrage: trainPrompts.length * req.samplesPerTeacher * teachers.length,
    sft: req.strategies.length * req.sft.steps * 3,
    eval: heldOut.length * req.evalSamples * (others + 1 + (req.strategies.includes('reward') ? 1 : 0)),
  };
  const totalUnits = units.arbitrage + units.sft + units.eval;
  let doneBefore = 0;
  let stageKey = '';
  let stageDone = 0;
  const t0 = performance.now();
  const report = (stage: ExperimentStage) => {
    const key = `${stage.stage}:${stage.strategy}`;
    const d = stage.stage === 'sft' ? stage.step * 3 : stage.done;
    if (key !== stageKey) {
      doneBefore += stageDone;
      stageKey = key;
    }
    stageDone = Math.min(d, totalUnits);
    const fraction = Math.min(1, (doneBefore + stageDone) / totalUnits);
    ctl.emit({ type: 'stage', stage, fraction, etaSeconds: fraction > 0 ? ((performance.now() - t0) / 1000) * (1 / fraction - 1) : NaN });
  };
  return runArbitrageExperiment(trainPrompts, spec, {
    shouldStop: stop,
    onStage: report,
    onPartial: (r) => ctl.emit({ type: 'partial', report: r }),
    arbitrage: (s, onProgress) =>
      arbitrageWith(
        core,
        { teachers: req.teachers, prompts: req.trainPrompts, strategy: s.strategy, samplesPerTeacher: s.samplesPerTeacher, seed: s.seed, sampling: s.sampling, single: s.single, routerData: s.routerData, weights: req.weights },
        stop,
        (e) => onProgress(e.done, e.total),
        cache,
      ),
    sft: async (strategy, pairs, onStep) => {
      // The SFT runs inside this job: same cancel, its steps reported as the experiment's stage.
      const sub: JobControl<TrainEvent> = {
        id: `${ctl.id}/sft-${strategy}`,
        shouldStop: stop,
        throwIfStopped: ctl.throwIfStopped,
        waitIfPaused: async () => {},
        emit: (e) => e.type === 'step' && onStep(e.point.step, req.sft.steps),
      };
      const r = await train(
        core,
        {
          modelId: req.student,
          name: `${student.name} · arbitrage-${strategy}`,
          outId: req.outPrefix ? `${req.outPrefix}${strategy}` : undefined,
          mix: [...new Set(pairs.map((p) => p.language))].map((language) => ({ language, weight: 1 })),
          pairs,
          useCorpus: false,
          steps: req.sft.steps,
          batchSize: req.sft.batchSize,
          seqLen: req.sft.seqLen,
          lr: req.sft.lr,
          seed: req.seed,
          evalEvery: 0,
          checkpointEvery: 0,
        },
        sub,
      );
      if (!r.model) throw new Error(`SFT on the ${strategy} set stopped before a step (${r.stopped}${r.error ? ': ' + r.error : ''})`);
      if (r.stopped === 'non-finite') throw new Error(`SFT on the ${strategy} set: ${r.error}`);
      return { id: r.model.id, name: r.model.name };
    },
    evaluate: (a, b, onProgress) =>
      evaluateWith(
        core,
        { a: a.id, b: b.id, prompts: req.heldOutPrompts, samples: req.evalSamples, seed: req.seed, sampling: req.sampling, bootstrap: req.bootstrap, weights: req.weights },
        stop,
        (e) => onProgress(e.done, e.total),
        cache,
      ),
  });
}
