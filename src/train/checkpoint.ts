// A resumable checkpoint: beside the model folder's weights, AdamW's moments (optimizer.safetensors)
// and the run's state and request (trainer_state.json) — the parts of HF Trainer's checkpoint-N
// folder a bit-identical resume needs. A finished model carries neither.
import type { HostWeights } from '../model/init.ts';
import { encodeJson, type ModelFiles, OPTIMIZER_FILE, parseJson, TRAINER_STATE_FILE } from '../model/folder.ts';
import { readSafetensors, writeSafetensors } from '../model/safetensors.ts';
import type { TrainState } from './sft.ts';

const FORMAT = 'aya-playground trainer state';

/** The files that make a saved model resumable: the moments and the state with the run's request. */
export function trainStateFiles(state: TrainState, request: unknown): ModelFiles {
  const tensors = [
    ...[...state.m].map(([name, tensor]) => ({ name: `exp_avg.${name}`, tensor })),
    ...[...state.v].map(([name, tensor]) => ({ name: `exp_avg_sq.${name}`, tensor })),
  ];
  return new Map([
    [OPTIMIZER_FILE, writeSafetensors(tensors, { format: 'aya-playground adamw', step: String(state.step) })],
    [TRAINER_STATE_FILE, encodeJson({ format: FORMAT, version: 1, step: state.step, rng: state.rng, history: state.history, evals: state.evals, request })],
  ]);
}

/** A saved run's state and request, or null when the folder has none (a finished or imported model). */
export function readTrainState(files: ModelFiles, where: string): { state: TrainState; request: unknown } | null {
  const stateBytes = files.get(TRAINER_STATE_FILE);
  const optBytes = files.get(OPTIMIZER_FILE);
  if (!stateBytes && !optBytes) return null;
  if (!stateBytes || !optBytes) throw new Error(`${where}: has ${stateBytes ? TRAINER_STATE_FILE : OPTIMIZER_FILE} without ${stateBytes ? OPTIMIZER_FILE : TRAINER_STATE_FILE}; the checkpoint is incomplete`);
  const j = parseJson(stateBytes, `${where}/${TRAINER_STATE_FILE}`) as Record<string, unknown> | null;
  if (j?.format !== FORMAT || j.version !== 1) throw new Error(`${where}/${TRAINER_STATE_FILE}: not a trainer state of this version (format ${JSON.stringify(j?.format)}, version ${JSON.stringify(j?.version)})`);
  if (!j || !Number.isInteger(j.step) || (j.step as number) < 0) throw new Error(`${where}/${TRAINER_STATE_FILE}: 'step' must be an integer ≥ 0`);
  if (!Array.isArray(j.history) || !Array.isArray(j.evals)) throw new Error(`${where}/${TRAINER_STATE_FILE}: 'history' and 'evals' must be lists`);
  const { tensors, metadata } = readSafetensors(optBytes, `${where}/${OPTIMIZER_FILE}`);
  if (metadata.step !== String(j.step)) throw new Error(`${where}: ${OPTIMIZER_FILE} is of step ${metadata.step}, ${TRAINER_STATE_FILE} of step ${j.step}; the checkpoint is torn`);
  const m: HostWeights = new Map();
  const v: HostWeights = new Map();
  for (const [name, t] of tensors) {
    if (name.startsWith('exp_avg_sq.')) v.set(name.slice('exp_avg_sq.'.length), t);
    else if (name.startsWith('exp_avg.')) m.set(name.slice('exp_avg.'.length), t);
    else throw new Error(`${where}/${OPTIMIZER_FILE}: unexpected tensor '${name}'`);
  }
  const state: TrainState = { step: j.step as number, rng: j.rng as TrainState['rng'], history: j.history as TrainState['history'], evals: j.evals as TrainState['evals'], m, v };
  return { state, request: j.request };
}
