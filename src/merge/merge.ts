// The whole-model merge: tensor by tensor, reading each input's copy from its ModelSource, merging
// it (GPU kernels, or the CPU reference) and handing the result to a sink — so memory holds a few
// tensors, never whole models. Checks everything that can be checked before any arithmetic runs.
//
// Public API:
//   mergeModels(config, sources, sink, opts) → Promise<MergeOutcome>
//   checkMergeInputs(config, sources) → { outputConfig, tensors, warnings }  (throws naming tensors/models)
//   collectingSink() → TensorSink & { weights }       keeps the merged tensors (the app's path)
//   tokenizerDonor(config) → ref                       where tokenizer files come from
//   mergeProvenance(config, sources, extra) → playground.json contents for the merged model
import type { GpuContext } from '../gpu/context.ts';
import type { HostTensor } from '../gpu/host.ts';
import { type ModelConfig, parameterShapes } from '../model/config.ts';
import { type MergeConfig, METHOD_INFO, modelRefs, planTensor, validateMergeConfig } from './config.ts';
import { mergeTensorGpu } from './gpu.ts';
import { mergeTensorCpu } from './methods.ts';
import type { ModelSource } from './source.ts';

export interface MergeProgress {
  /** Tensors done / total, weighted by size. */
  fraction: number;
  index: number;
  total: number;
  tensor: string;
}

export interface TensorSink {
  /** Called once per output tensor, in parameterShapes order. */
  write(name: string, shape: number[], data: Float32Array): Promise<void>;
}

export interface MergeOptions {
  /** The GPU to merge on; null runs the CPU reference. */
  ctx: GpuContext | null;
  onProgress?: (p: MergeProgress) => void;
  /** Called before each tensor; throw to cancel. */
  checkStop?: () => void;
}

export interface MergeOutcome {
  config: ModelConfig;
  tensors: number;
  parameters: number;
  warnings: string[];
  seconds: number;
}

const ARCH_FIELDS: Array<[keyof ModelConfig, string]> = [
  ['vocabSize', 'vocab_size'],
  ['hiddenSize', 'hidden_size'],
  ['intermediateSize', 'intermediate_size'],
  ['numHiddenLayers', 'num_hidden_layers'],
  ['numAttentionHeads', 'num_attention_heads'],
  ['numKeyValueHeads', 'num_key_value_heads'],
];
const SOFT_FIELDS: Array<[keyof ModelConfig, string]> = [
  ['ropeTheta', 'rope_theta'],
  ['layerNormEps', 'layer_norm_eps'],
  ['logitScale', 'logit_scale'],
  ['maxPositionEmbeddings', 'max_position_embeddings'],
];

/** The model whose config (and, by default, tokenizer) the result takes: the base, else the first. */
export function templateRef(config: MergeConfig): string {
  return METHOD_INFO[config.method].base === 'required' && config.baseModel ? config.baseModel : config.models[0].model;
}

export function tokenizerDonor(config: MergeConfig): string {
  return config.tokenizerSource && config.tokenizerSource !== 'base' ? config.tokenizerSource : templateRef(config);
}

const listed = (xs: string[], max = 6) => (xs.length > max ? `${xs.slice(0, max).join(', ')} … and ${xs.length - max} more` : xs.join(', '));

/** Validates the config against the inputs before any tensor is read: architectures, vocabularies,
 *  every tensor present with the same shape in every model. Errors name the tensors and models. */
export function checkMergeInputs(config: MergeConfig, sources: Map<string, ModelSource>): { outputConfig: ModelConfig; tensors: Array<{ name: string; shape: number[] }>; warnings: string[] } {
  const { warnings } = validateMergeConfig(config);
  const refs = modelRefs(config);
  const missing = refs.filter((r) => !sources.has(r));
  if (missing.length) throw new Error(`merge: no model source for ${listed(missing)}`);
  const template = sources.get(templateRef(config))!;
  const out = template.config;
  for (const [field, hf] of ARCH_FIELDS) {
    const differ = refs.filter((r) => sources.get(r)!.config[field] !== out[field]);
    if (differ.length) {
      const what = field === 'vocabSize' ? 'vocabulary sizes differ (merging needs one shared vocabulary)' : `${hf} differs`;
      throw new Error(`merge: ${what}: ${template.ref} has ${hf} ${out[field]}, ${differ.map((r) => `${r} has ${sources.get(r)!.config[field]}`).join(', ')}`);
    }
  }
  for (const [field, hf] of SOFT_FIELDS) {
    const differ = refs.filter((r) => sources.get(r)!.config[field] !== out[field]);
    if (differ.length) warnings.push(`${hf} differs (${differ.join(', ')}); the result takes ${template.ref}'s ${out[field]}`);
  }
  if (config.layerRange && (config.layerRange[0] !== 0 || config.layerRange[1] !== out.numHiddenLayers)) {
    throw new Error(`merge: the slice's layer_range [${config.layerRange}] does not cover the ${out.numHiddenLayers} layers; only whole-model merges are supported`);
  }
  const tensors = parameterShapes(out);
  const problems: string[] = [];
  for (const { name, shape } of tensors) {
    const absent = refs.filter((r) => !sources.get(r)!.tensors.has(name));
    if (absent.length) {
      problems.push(`${name} is missing from ${absent.join(', ')}`);
      continue;
    }
    const wrong = refs.filter((r) => {
      const s = sources.get(r)!.tensors.get(name)!.shape;
      return s.length !== shape.length || s.some((d, i) => d !== shape[i]);
    });
    if (wrong.length) problems.push(`${name} has shape ${wrong.map((r) => `[${sources.get(r)!.tensors.get(name)!.shape.join(', ')}] in ${r}`).join(', ')} (expected [${shape.join(', ')}] as in ${template.ref})`);
  }
  if (problems.length) throw new Error(`merge: the models do not match: ${listed(problems, 8)}`);
  const expected = new Set(tensors.map((t) => t.name));
  for (const r of refs) {
    const extra = [...sources.get(r)!.tensors.keys()].filter((n) => !expected.has(n) && n !== 'lm_head.weight' && !n.endsWith('rotary_emb.inv_freq'));
    if (extra.length) warnings.push(`${r}: ${extra.length} tensor(s) outside the architecture are not merged: ${listed(extra)}`);
  }
  return { outputConfig: out, tensors, warnings };
}

/** Runs the merge; every output tensor goes to `sink` in parameterShapes order. */
export async function mergeModels(config: MergeConfig, sources: Map<string, ModelSource>, sink: TensorSink, opts: MergeOptions): Promise<MergeOutcome> {
  const t0 = performance.now();
  const { outputConfig, tensors, warnings } = checkMergeInputs(config, sources);
  // Resolve every tensor's parameters first: a bad gradient or density fails before any work.
  const recipes = tensors.map(({ name }) => planTensor(config, name, outputConfig.numHiddenLayers));
  const sizes = tensors.map((t) => t.shape.reduce((a, b) => a * b, 1));
  const total = sizes.reduce((a, b) => a + b, 0);
  let done = 0;
  for (let k = 0; k < tensors.length; k++) {
    opts.checkStop?.();
    const { name, shape } = tensors[k];
    const recipe = recipes[k];
    const inputs = await Promise.all(recipe.inputs.map((ref) => sources.get(ref)!.read(name)));
    const merged = opts.ctx ? await mergeTensorGpu(opts.ctx, recipe, inputs, shape) : mergeTensorCpu(recipe, inputs, shape);
    for (let i = 0; i < merged.length; i++) {
      if (!Number.isFinite(merged[i])) {
        throw new Error(`merge: ${name} came out non-finite (${merged[i]}) at element ${i}; check the weights and parameters of ${config.method}`);
      }
    }
    await sink.write(name, shape, merged);
    done += sizes[k];
    opts.onProgress?.({ fraction: total ? done / total : 1, index: k + 1, total: tensors.length, tensor: name });
  }
  return { config: outputConfig, tensors: tensors.length, parameters: total, warnings, seconds: (performance.now() - t0) / 1000 };
}

/** A sink that keeps every merged tensor (for the app, whose store takes whole files anyway). */
export function collectingSink(): TensorSink & { weights: Map<string, HostTensor> } {
  const weights = new Map<string, HostTensor>();
  return {
    weights,
    async write(name, shape, data) {
      weights.set(name, { shape, data });
    },
  };
}

/** playground.json of a merged model: the parents (with their own provenance, so lineage nests)
 *  and the merge exactly as run. */
export function mergeProvenance(
  config: MergeConfig,
  sources: Map<string, ModelSource>,
  extra: { createdBy: string; names?: Map<string, string>; mergekitYaml: string; device: string; seconds: number },
): Record<string, unknown> {
  const refs = modelRefs(config);
  const parentTrained = refs.every((r) => sources.get(r)?.playground?.trained !== false);
  return {
    created_by: extra.createdBy,
    // A merge of untrained (random) models is still noise.
    trained: parentTrained,
    merged: true,
    merge: {
      method: config.method,
      base_model: config.baseModel ?? null,
      models: config.models,
      parameters: config.parameters ?? {},
      seed: config.seed ?? 0,
      tokenizer_source: tokenizerDonor(config),
      device: extra.device,
      seconds: extra.seconds,
      mergekit_yaml: extra.mergekitYaml,
    },
    parents: refs.map((r) => ({ id: r, name: extra.names?.get(r) ?? r, role: METHOD_INFO[config.method].base === 'required' && r === config.baseModel ? 'base' : 'model', playground: sources.get(r)?.playground ?? null })),
  };
}
