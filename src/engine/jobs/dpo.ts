// Preference training: offline and/or online iterative DPO from a stored model; each stage's model is
// saved as it finishes (and, with checkpointEvery, as it goes). A cancel keeps the stages saved so
// far and the cut-short stage with its state; a resumed run continues the stage from its checkpoint.
import { validateSampling } from '../../model/sample.ts';
import type { HostWeights } from '../../model/init.ts';
import { preferenceStages, type PreferenceEvent, type PreferenceOutcome, type PreferenceState, runPreferenceTraining, type StageName } from '../../train/preference.ts';
import { preferenceStateFiles, readPreferenceState } from '../../train/checkpoint.ts';
import type { DpoRequest } from '../api.ts';
import type { EngineCore } from '../core.ts';
import type { JobControl } from '../jobRegistry.ts';

export async function dpo(core: EngineCore, given: DpoRequest, ctl: JobControl<PreferenceEvent>): Promise<PreferenceOutcome> {
  const ctx = await core.device.context();
  const resumed = given?.resumeFrom !== undefined ? await resumable(core, given.resumeFrom) : null;
  const req: DpoRequest = resumed ? resumed.request : given;
  const { folder, tok } = await core.library.read(req.modelId);
  const parent = await core.library.describe(req.modelId);
  const [arbiter, onlinePrompts, evalPrompts] = await Promise.all([
    core.resources.referenceArbiter(req.weights),
    req.mode !== 'offline' && req.onlinePrompts ? core.resources.promptSet(req.onlinePrompts) : Promise.resolve([]),
    req.evalPrompts ? core.resources.promptSet(req.evalPrompts) : Promise.resolve([]),
  ]);
  validateSampling({ ...req.sampling, seed: req.seed });
  const checkpointEvery = req.checkpointEvery ?? 0;
  if (!(Number.isInteger(checkpointEvery) && checkpointEvery >= 0)) throw new Error(`checkpoint every must be an integer ≥ 0, got ${checkpointEvery}`);
  const settings = { mode: req.mode, loss: req.loss, beta: req.beta, lr: req.lr, batch_pairs: req.batchPairs, seq_len: req.seqLen, seed: req.seed, offline_steps: req.offlineSteps, online_steps: req.onlineSteps, iterations: req.iterations, samples_per_prompt: req.samplesPerPrompt, offline_pairs: req.pairs?.length ?? 0 };
  // The request as saved with a checkpoint (what a resume runs again): without the resume itself.
  const { resumeFrom: _r, ...request } = req;
  // One model per stage: its checkpoints, a cancel and its end are saved in place.
  const ids = new Map<StageName, string>();
  if (resumed) ids.set(resumed.stage, resumed.id);
  const stageId = (stage: StageName, name: string) => {
    if (!ids.has(stage)) ids.set(stage, req.outPrefix ? `${req.outPrefix}${stage.replace(' ', '-')}` : core.library.newId(name));
    return ids.get(stage)!;
  };
  return runPreferenceTraining(
    folder.weights,
    {
      mode: req.mode,
      dpo: { loss: req.loss, beta: req.beta, batchPairs: req.batchPairs, seqLen: req.seqLen, lr: req.lr, seed: req.seed },
      offlineSteps: req.offlineSteps,
      onlineSteps: req.onlineSteps,
      iterations: req.iterations,
      samplesPerPrompt: req.samplesPerPrompt,
      sampling: req.sampling,
      evalEvery: req.evalEvery,
      checkpointEvery,
    },
    {
      ctx,
      config: folder.config,
      tok,
      arbiter,
      pairs: req.pairs ?? [],
      onlinePrompts,
      evalPrompts,
      shouldStop: ctl.shouldStop,
      waitIfPaused: () => ctl.waitIfPaused(() => ctl.emit({ type: 'paused' }), () => ctl.emit({ type: 'resumed' })),
      onEvent: (e) => ctl.emit(e),
      save: async (weights, stage, info, state) => {
        const name = `${req.name} · ${stage}`;
        const summary = await core.library.saveWeights(
          stageId(stage, name),
          name,
          folder,
          weights,
          {
            created_by: core.createdBy,
            trained: true,
            parent: { id: req.modelId, name: parent.name, playground: folder.playground },
            preference: { ...settings, ...info, resumable: state !== null },
          },
          state ? preferenceStateFiles(state, request) : undefined,
        );
        return { id: summary.id, name };
      },
    },
    resumed ? { state: resumed.state, policy: resumed.policy, reference: await referenceOf(core, req, resumed.state, folder.weights) } : null,
  );
}

/** A saved stage checkpoint that can be resumed: its weights, state, stage and the request it ran. */
async function resumable(core: EngineCore, id: string) {
  if (typeof id !== 'string' || !id) throw new Error('dpo: resumeFrom must be the id of a saved stage checkpoint');
  const files = await core.library.files(id);
  const saved = readPreferenceState(files, id);
  if (!saved) throw new Error(`${id}: nothing to resume — it has no preference-run state (only a checkpoint or a cancelled stage keeps one; a finished stage does not)`);
  const request = saved.request as DpoRequest;
  if (!request || typeof request !== 'object' || typeof request.modelId !== 'string' || typeof request.mode !== 'string') throw new Error(`${id}/trainer_state.json: 'request' is not a preference-training request`);
  const stages = preferenceStages(request);
  const stage = stages[saved.state.stageIndex];
  if (!stage) throw new Error(`${id}/trainer_state.json: stage ${saved.state.stageIndex} is not one of the run's ${stages.length} stages`);
  const { folder } = await core.library.read(id);
  return { id, stage, state: saved.state, request, policy: folder.weights };
}

/** The stage's reference: the start model for the first stage, else the previous stage's model. */
async function referenceOf(core: EngineCore, req: DpoRequest, state: PreferenceState, start: HostWeights): Promise<HostWeights> {
  if (state.stageIndex === 0) return start;
  const prev = preferenceStages(req)[state.stageIndex - 1];
  const model = state.models.find((m) => m.stage === prev);
  if (!model) throw new Error(`resume: the state does not name the ${prev} stage's model, the reference of the stage it continues`);
  try {
    return (await core.library.read(model.id)).folder.weights;
  } catch (e) {
    throw new Error(`resume: the ${prev} stage's model '${model.name}' (${model.id}) is the reference of the stage to continue and cannot be read: ${(e as Error).message}`);
  }
}
