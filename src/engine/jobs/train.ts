// Fine-tuning (SFT) a stored model into a new one, with held-out evaluations and checkpoints; and
// the held-out loss matrix (UDHR articles 23–30) of any models.
import { LANGUAGE_CODES, language } from '../../data/languages.ts';
import type { HostWeights } from '../../model/init.ts';
import { type EvalPoint, evaluateWeights, HELD_OUT, runTraining, type TrainSpec } from '../../train/sft.ts';
import { type HeldOutEvent, type HeldOutRequest, type HeldOutResult, JobCancelled, type TrainEvent, type TrainRequest, type TrainResult } from '../api.ts';
import type { EngineCore } from '../core.ts';
import type { JobControl } from '../jobRegistry.ts';

/** The result (and periodic checkpoints) are saved as a new model; the start model is not modified.
 *  A cancel keeps what was trained so far (saved, status "cancelled at step N"). */
export async function train(core: EngineCore, req: TrainRequest, ctl: JobControl<TrainEvent>): Promise<TrainResult> {
  const ctx = await core.device.context();
  const { folder, tok } = await core.library.read(req.modelId);
  if (!Array.isArray(req.mix)) throw new Error('train: the mix must be a list of {language, weight}');
  const languages = req.mix.filter((m) => m.weight > 0).map((m) => m.language);
  for (const l of languages) language(l);
  const docs = await core.resources.documents();
  const data = { corpus: req.useCorpus ? docs : undefined, pairs: req.pairs };
  const spec: TrainSpec = {
    steps: req.steps,
    batchSize: req.batchSize,
    seqLen: req.seqLen,
    seed: req.seed,
    mix: req.mix,
    optimizer: { lr: req.lr, minLr: req.lr / 10 },
    evalEvery: req.evalEvery,
    evalExamples: 8,
    checkpointEvery: req.checkpointEvery,
  };
  const id = core.library.newId(req.name, req.outId);
  const parent = (await core.library.list()).find((m) => m.id === req.modelId);
  const save = (weights: HostWeights, step: number, status: string, heldOut: Record<string, number> | null) =>
    core.library.saveWeights(id, req.name, folder, weights, {
      created_by: core.createdBy,
      trained: true,
      // The parent's own provenance nests, so lineage survives any number of fine-tunes.
      parent: { id: req.modelId, name: parent?.name ?? req.modelId, playground: folder.playground },
      training: { mix: req.mix, pairs: req.pairs?.length ?? 0, udhr: req.useCorpus, steps: req.steps, steps_done: step, batch_size: req.batchSize, seq_len: req.seqLen, lr: req.lr, seed: req.seed, status },
      held_out_loss: heldOut,
    });
  let lastEval: EvalPoint | null = null;
  const outcome = await runTraining(
    ctx,
    folder.config,
    folder.weights,
    tok,
    data,
    spec,
    {
      onStep: (point, fraction, etaSeconds) => ctl.emit({ type: 'step', point, fraction, etaSeconds }),
      onEval: (point) => {
        lastEval = point;
        ctl.emit({ type: 'eval', point });
      },
      shouldStop: ctl.shouldStop,
      waitIfPaused: () => ctl.waitIfPaused(() => ctl.emit({ type: 'paused' }), () => ctl.emit({ type: 'resumed' })),
      onCheckpoint: async (weights, step) => {
        const model = await save(weights, step, `checkpoint at step ${step} of ${req.steps}`, (lastEval as EvalPoint | null)?.perLanguage ?? null);
        ctl.emit({ type: 'checkpoint', step, model });
      },
    },
    docs, // held-out loss always comes from the UDHR articles 23–30
  );
  const status = outcome.stopped === 'done' ? 'complete' : outcome.stopped === 'cancelled' ? `cancelled at step ${outcome.steps}` : `stopped at step ${outcome.steps + 1}: ${outcome.error}`;
  const model = outcome.steps > 0 ? await save(outcome.weights, outcome.steps, status, outcome.evals.at(-1)?.perLanguage ?? null) : null;
  return { model, stopped: outcome.stopped, steps: outcome.steps, error: outcome.error, seconds: outcome.seconds };
}

/** Held-out loss per language of each model: the teachers × languages matrix. A cancel gives nothing
 *  (a matrix with missing rows would read as complete). */
export async function heldOutLoss(core: EngineCore, req: HeldOutRequest, ctl: JobControl<HeldOutEvent>): Promise<HeldOutResult> {
  if (!Array.isArray(req?.modelIds) || req.modelIds.length === 0) throw new Error('held-out loss: give at least one model');
  const languages = req.languages ?? [...LANGUAGE_CODES];
  for (const l of languages) language(l);
  const ctx = await core.device.context();
  const docs = await core.resources.documents();
  const out: HeldOutResult = {};
  for (let i = 0; i < req.modelIds.length; i++) {
    if (ctl.shouldStop()) throw new JobCancelled(ctl.id);
    const id = req.modelIds[i];
    const { folder, tok } = await core.library.read(id);
    out[id] = await evaluateWeights(ctx, folder.config, folder.weights, tok, docs, languages, HELD_OUT, ctl.shouldStop);
    ctl.emit({ done: i + 1, total: req.modelIds.length, modelId: id });
  }
  if (ctl.shouldStop()) throw new JobCancelled(ctl.id);
  return out;
}
