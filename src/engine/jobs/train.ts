// Fine-tuning (SFT) a stored model into a new one, with held-out evaluations and checkpoints; and
// the held-out loss matrix (UDHR articles 23–30) of any models.
import { LANGUAGE_CODES, language } from '../../data/languages.ts';
import type { HostWeights } from '../../model/init.ts';
import { type EvalPoint, evaluateWeights, HELD_OUT, runTraining, type TrainSpec, type TrainState } from '../../train/sft.ts';
import { readTrainState, trainStateFiles } from '../../train/checkpoint.ts';
import { type HeldOutEvent, type HeldOutRequest, type HeldOutResult, JobCancelled, type TrainEvent, type TrainRequest, type TrainResult } from '../api.ts';
import type { EngineCore } from '../core.ts';
import type { JobControl } from '../jobRegistry.ts';

/** The result (and periodic checkpoints) are saved as a new model; the start model is not modified.
 *  A cancel keeps what was trained so far (saved, status "cancelled at step N"). */
export async function train(core: EngineCore, given: TrainRequest, ctl: JobControl<TrainEvent>): Promise<TrainResult> {
  const ctx = await core.device.context();
  // A resumed run: the checkpoint's weights, optimizer state and request, saved back in place.
  const resumed = given?.resumeFrom !== undefined ? await resumable(core, given.resumeFrom) : null;
  const req: TrainRequest = resumed ? { ...resumed.request, outId: resumed.id } : given;
  const { folder, tok } = resumed ? resumed : await core.library.read(req.modelId);
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
  const id = resumed ? resumed.id : core.library.newId(req.name, req.outId);
  const parentSummary = (await core.library.list()).find((m) => m.id === req.modelId);
  // The parent's own provenance nests, so lineage survives any number of fine-tunes (a resumed
  // run keeps the parent its checkpoint recorded).
  const parent = resumed ? resumed.folder.playground?.parent : { id: req.modelId, name: parentSummary?.name ?? req.modelId, playground: folder.playground };
  // The request as saved with a checkpoint (what a resume runs again): without the resume itself.
  const { resumeFrom: _r, outId: _o, ...request } = req;
  const save = (weights: HostWeights, step: number, status: string, heldOut: Record<string, number> | null, state: TrainState | null) =>
    core.library.saveWeights(
      id,
      req.name,
      folder,
      weights,
      {
        created_by: core.createdBy,
        trained: true,
        parent,
        training: { mix: req.mix, pairs: req.pairs?.length ?? 0, udhr: req.useCorpus, steps: req.steps, steps_done: step, batch_size: req.batchSize, seq_len: req.seqLen, lr: req.lr, seed: req.seed, status, resumable: state !== null, ...(resumed ? { resumed_at: [...((resumed.folder.playground?.training as { resumed_at?: number[] } | undefined)?.resumed_at ?? []), resumed.state.step] } : {}) },
        held_out_loss: heldOut,
      },
      state ? trainStateFiles(state, request) : undefined,
    );
  if (resumed) {
    const checkpoint = (await core.library.list()).find((m) => m.id === resumed.id);
    if (checkpoint) ctl.emit({ type: 'continues', from: resumed.state.step, checkpoint, request: { ...request, pairs: request.pairs?.length ?? 0 }, steps: resumed.state.history, evals: resumed.state.evals });
  }
  let lastEval: EvalPoint | null = resumed?.state.evals.at(-1) ?? null;
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
      onCheckpoint: async (weights, step, state) => {
        const model = await save(weights, step, `checkpoint at step ${step} of ${req.steps}`, (lastEval as EvalPoint | null)?.perLanguage ?? null, state);
        ctl.emit({ type: 'checkpoint', step, model });
      },
    },
    docs, // held-out loss always comes from the UDHR articles 23–30
    resumed?.state ?? null,
  );
  const status = outcome.stopped === 'done' ? 'complete' : outcome.stopped === 'cancelled' ? `cancelled at step ${outcome.steps}` : `stopped at step ${outcome.steps + 1}: ${outcome.error}`;
  // A cancelled run keeps its optimizer state (it can be resumed); a finished one does not need it.
  const model = outcome.steps > 0 ? await save(outcome.weights, outcome.steps, status, outcome.evals.at(-1)?.perLanguage ?? null, outcome.state) : null;
  return { model, stopped: outcome.stopped, steps: outcome.steps, error: outcome.error, seconds: outcome.seconds };
}

/** A saved model that can be resumed: its folder, tokenizer, trainer state and the request it ran. */
async function resumable(core: EngineCore, id: string) {
  if (typeof id !== 'string' || !id) throw new Error('train: resumeFrom must be the id of a saved checkpoint');
  const files = await core.library.files(id);
  const saved = readTrainState(files, id);
  if (!saved) throw new Error(`${id}: nothing to resume — it has no optimizer state (only a checkpoint or a cancelled run keeps one; a finished model does not)`);
  const request = saved.request as TrainRequest;
  if (!request || typeof request !== 'object' || typeof request.modelId !== 'string' || !Array.isArray(request.mix) || !Number.isInteger(request.steps)) throw new Error(`${id}/trainer_state.json: 'request' is not a training request`);
  if (saved.state.step >= request.steps) throw new Error(`${id}: the run already took all its ${request.steps} steps`);
  const { folder, tok } = await core.library.read(id);
  return { id, folder, tok, state: saved.state, request };
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
