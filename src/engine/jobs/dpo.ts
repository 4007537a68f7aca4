// Preference training: offline and/or online iterative DPO from a stored model; each stage's model is
// saved as it finishes. A cancel keeps the stages saved so far.
import { validateSampling } from '../../model/sample.ts';
import { type PreferenceEvent, type PreferenceOutcome, runPreferenceTraining } from '../../train/preference.ts';
import type { DpoRequest } from '../api.ts';
import type { EngineCore } from '../core.ts';
import type { JobControl } from '../jobRegistry.ts';

export async function dpo(core: EngineCore, req: DpoRequest, ctl: JobControl<PreferenceEvent>): Promise<PreferenceOutcome> {
  const ctx = await core.device.context();
  const { folder, tok } = await core.library.read(req.modelId);
  const parent = await core.library.describe(req.modelId);
  const [arbiter, onlinePrompts, evalPrompts] = await Promise.all([
    core.resources.referenceArbiter(req.weights),
    req.mode !== 'offline' && req.onlinePrompts ? core.resources.promptSet(req.onlinePrompts) : Promise.resolve([]),
    req.evalPrompts ? core.resources.promptSet(req.evalPrompts) : Promise.resolve([]),
  ]);
  validateSampling({ ...req.sampling, seed: req.seed });
  const settings = { mode: req.mode, loss: req.loss, beta: req.beta, lr: req.lr, batch_pairs: req.batchPairs, seq_len: req.seqLen, seed: req.seed, offline_steps: req.offlineSteps, online_steps: req.onlineSteps, iterations: req.iterations, samples_per_prompt: req.samplesPerPrompt, offline_pairs: req.pairs?.length ?? 0 };
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
      save: async (weights, stage, info) => {
        const name = `${req.name} · ${stage}`;
        const id = req.outPrefix ? `${req.outPrefix}${stage.replace(' ', '-')}` : core.library.newId(name);
        const summary = await core.library.saveWeights(id, name, folder, weights, {
          created_by: core.createdBy,
          trained: true,
          parent: { id: req.modelId, name: parent.name, playground: folder.playground },
          preference: { ...settings, ...info },
        });
        return { id: summary.id, name };
      },
    },
  );
}
