// A resumable checkpoint: beside the model folder's weights, AdamW's moments (optimizer.safetensors)
// and the run's state and request (trainer_state.json) — the parts of HF Trainer's checkpoint-N
// folder a bit-identical resume needs. A finished model carries neither. SFT and preference (DPO)
// runs keep different states; the format names which.
import type { HostWeights } from '../model/init.ts';
import { encodeJson, type ModelFiles, OPTIMIZER_FILE, parseJson, TRAINER_STATE_FILE } from '../model/folder.ts';
import { readSafetensors, writeSafetensors } from '../model/safetensors.ts';
import type { DpoState } from './dpo.ts';
import type { PreferenceState } from './preference.ts';
import type { TrainState } from './sft.ts';

const FORMATS = { train: 'aya-playground trainer state', preference: 'aya-playground preference state' } as const;
type Kind = keyof typeof FORMATS;

function stateFiles(kind: Kind, fields: Record<string, unknown> & { step: number }, m: HostWeights, v: HostWeights, request: unknown): ModelFiles {
  const tensors = [...[...m].map(([name, tensor]) => ({ name: `exp_avg.${name}`, tensor })), ...[...v].map(([name, tensor]) => ({ name: `exp_avg_sq.${name}`, tensor }))];
  return new Map([
    [OPTIMIZER_FILE, writeSafetensors(tensors, { format: 'aya-playground adamw', step: String(fields.step) })],
    [TRAINER_STATE_FILE, encodeJson({ format: FORMATS[kind], version: 1, ...fields, request })],
  ]);
}

/** The state JSON and the moments of a saved run of `kind`, or null when the folder has none. */
function readStateFiles(files: ModelFiles, where: string, kind: Kind): { j: Record<string, unknown>; m: HostWeights; v: HostWeights } | null {
  const stateBytes = files.get(TRAINER_STATE_FILE);
  const optBytes = files.get(OPTIMIZER_FILE);
  if (!stateBytes && !optBytes) return null;
  if (!stateBytes || !optBytes) throw new Error(`${where}: has ${stateBytes ? TRAINER_STATE_FILE : OPTIMIZER_FILE} without ${stateBytes ? OPTIMIZER_FILE : TRAINER_STATE_FILE}; the checkpoint is incomplete`);
  const file = `${where}/${TRAINER_STATE_FILE}`;
  const j = parseJson(stateBytes, file) as Record<string, unknown> | null;
  const other = (Object.keys(FORMATS) as Kind[]).find((k) => k !== kind && FORMATS[k] === j?.format);
  if (other) throw new Error(`${file}: the state of a ${other === 'train' ? 'training (SFT)' : 'preference (DPO)'} run; resume it as one`);
  if (j?.format !== FORMATS[kind] || j.version !== 1) throw new Error(`${file}: not a ${kind === 'train' ? 'trainer' : 'preference'} state of this version (format ${JSON.stringify(j?.format)}, version ${JSON.stringify(j?.version)})`);
  if (!Number.isInteger(j.step) || (j.step as number) < 0) throw new Error(`${file}: 'step' must be an integer ≥ 0`);
  const { tensors, metadata } = readSafetensors(optBytes, `${where}/${OPTIMIZER_FILE}`);
  if (metadata.step !== String(j.step)) throw new Error(`${where}: ${OPTIMIZER_FILE} is of step ${metadata.step}, ${TRAINER_STATE_FILE} of step ${j.step}; the checkpoint is torn`);
  const m: HostWeights = new Map();
  const v: HostWeights = new Map();
  for (const [name, t] of tensors) {
    if (name.startsWith('exp_avg_sq.')) v.set(name.slice('exp_avg_sq.'.length), t);
    else if (name.startsWith('exp_avg.')) m.set(name.slice('exp_avg.'.length), t);
    else throw new Error(`${where}/${OPTIMIZER_FILE}: unexpected tensor '${name}'`);
  }
  return { j, m, v };
}

function lists(j: Record<string, unknown>, file: string, ...keys: string[]): void {
  for (const k of keys) if (!Array.isArray(j[k])) throw new Error(`${file}: '${k}' must be a list`);
}

/** The files that make a saved model resumable: the moments and the state with the run's request. */
export function trainStateFiles(state: TrainState, request: unknown): ModelFiles {
  return stateFiles('train', { step: state.step, rng: state.rng, history: state.history, evals: state.evals }, state.m, state.v, request);
}

/** A saved run's state and request, or null when the folder has none (a finished or imported model). */
export function readTrainState(files: ModelFiles, where: string): { state: TrainState; request: unknown } | null {
  const r = readStateFiles(files, where, 'train');
  if (!r) return null;
  const { j, m, v } = r;
  lists(j, `${where}/${TRAINER_STATE_FILE}`, 'history', 'evals');
  const state: TrainState = { step: j.step as number, rng: j.rng as TrainState['rng'], history: j.history as TrainState['history'], evals: j.evals as TrainState['evals'], m, v };
  return { state, request: j.request };
}

/** A preference run's checkpoint: its stage, that stage's DPO state (moments: none at a stage's start). */
export function preferenceStateFiles(state: PreferenceState, request: unknown): ModelFiles {
  const d = state.dpo;
  const fields = { step: d?.step ?? 0, stage_index: state.stageIndex, rng: d?.rng ?? null, order: d?.order ?? null, history: d?.history ?? [], pairs: state.pairs, skipped: state.skipped, steps: state.steps, evals: state.evals, models: state.models };
  return stateFiles('preference', fields, d?.m ?? new Map(), d?.v ?? new Map(), request);
}

export function readPreferenceState(files: ModelFiles, where: string): { state: PreferenceState; request: unknown } | null {
  const r = readStateFiles(files, where, 'preference');
  if (!r) return null;
  const { j, m, v } = r;
  const file = `${where}/${TRAINER_STATE_FILE}`;
  lists(j, file, 'history', 'steps', 'evals', 'models');
  if (!Number.isInteger(j.stage_index) || (j.stage_index as number) < 0) throw new Error(`${file}: 'stage_index' must be an integer ≥ 0`);
  if (j.pairs !== null && !Array.isArray(j.pairs)) throw new Error(`${file}: 'pairs' must be a list or null`);
  const step = j.step as number;
  const dpo: DpoState | null = step === 0 ? null : { step, rng: j.rng as DpoState['rng'], order: j.order as number[], history: j.history as DpoState['history'], m, v };
  const state: PreferenceState = { stageIndex: j.stage_index as number, dpo, pairs: j.pairs as PreferenceState['pairs'], skipped: Number(j.skipped) || 0, steps: j.steps as PreferenceState['steps'], evals: j.evals as PreferenceState['evals'], models: j.models as PreferenceState['models'] };
  return { state, request: j.request };
}
