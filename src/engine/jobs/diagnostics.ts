// Jobs on the device itself: every op against its CPU reference, the benchmarks, and the peers.
import { show } from '../../util/show.ts';
import { runOpChecks } from '../../ops/checks.ts';
import { runBench, type BenchOptions, type BenchProgress, type BenchReport } from '../../bench/bench.ts';
import { type CheckEvent, type CheckRequest, type CheckSummary, JobCancelled } from '../api.ts';
import type { EngineCore } from '../core.ts';
import type { JobControl } from '../jobRegistry.ts';
import { type PeerModel, peerOptions, type PeersProgress, runPeers } from '../../bench/peers/peers.ts';
import type { PeersReport, PeersRequest, TuneKernelsProgress, TuneKernelsRequest } from '../api.ts';
import { applyKernelChoices, type KernelChoices, type TuneShapes, tuneMatmul } from '../../ops/tune.ts';
import { headDim, type ModelConfig, validateConfig } from '../../model/config.ts';
import { type HostWeights, initWeights } from '../../model/init.ts';
import { preset } from '../../model/presets.ts';
import type { BpeTokenizer } from '../../tokenizer/bpe.ts';

/** Rows stream as events; a cancel returns the rows so far. */
export async function checkOps(core: EngineCore, req: CheckRequest, ctl: JobControl<CheckEvent>): Promise<CheckSummary> {
  const seed = Number(req?.seed);
  if (!Number.isInteger(seed)) throw new Error(`check: the seed must be an integer, got ${show(req?.seed)}`);
  const c = await core.device.context();
  const results = await runOpChecks(c, seed, (row, index, total) => ctl.emit({ row, index, total }), ctl.shouldStop);
  const passed = results.filter((r) => r.pass).length;
  return { results, passed, failed: results.length - passed, cancelled: ctl.shouldStop(), seed };
}

/** A bench cut short measures nothing worth keeping: a cancel ends it with no result. */
export async function bench(core: EngineCore, opts: BenchOptions, ctl: JobControl<BenchProgress>): Promise<BenchReport> {
  const c = await core.device.context();
  const report = await runBench(c, opts ?? {}, (p) => ctl.emit(p), ctl.shouldStop);
  if (ctl.shouldStop()) throw new JobCancelled(ctl.id);
  return report;
}

/** The matmul variants timed at a model's shapes (default: the shipped zoo's), the fastest exact one
 *  per row class kept on this device and stored for this adapter. A cancel keeps nothing. */
export async function tuneKernels(core: EngineCore, req: TuneKernelsRequest, ctl: JobControl<TuneKernelsProgress>): Promise<KernelChoices> {
  const c = await core.device.context();
  let shapes: TuneShapes;
  if (req?.shapes) {
    shapes = req.shapes;
    for (const [k, v] of Object.entries(shapes)) if (!(Number.isInteger(v) && v >= 1 && v <= 262144)) throw new Error(`tuneKernels: shapes.${k} must be an integer from 1 to 262144, got ${show(v)}`);
  } else {
    let config: ModelConfig;
    if (req?.modelId) config = (await core.library.read(req.modelId)).folder.config;
    else {
      const tok = await core.resources.builtinTokenizer();
      config = validateConfig({ ...preset('tiny').config, vocabSize: tok.vocabSize, bosTokenId: tok.bos, eosTokenId: tok.eos, padTokenId: tok.pad });
    }
    const hd = headDim(config);
    shapes = { hidden: config.hiddenSize, qkv: (config.numAttentionHeads + 2 * config.numKeyValueHeads) * hd, intermediate: config.intermediateSize, vocab: config.vocabSize };
  }
  let choices: KernelChoices;
  try {
    choices = await tuneMatmul(c, shapes, { onProgress: (done, total) => ctl.emit({ done, total, fraction: done / total }), shouldStop: ctl.shouldStop });
  } catch (e) {
    if (ctl.shouldStop()) throw new JobCancelled(ctl.id);
    throw e;
  }
  applyKernelChoices(c, choices);
  core.kernels.set(c, choices);
  await core.platform.kernelChoices?.save(choices);
  return choices;
}

/** The models the peers bench runs by default: a shipped teacher and one larger preset. */
export const DEFAULT_PEER_MODELS = ['builtin:teacher-romance', 'preset:base'];

/**
 * Peers in one page: each model (a library id, or `preset:NAME` with seeded random weights and the
 * universal tokenizer) through every runtime of the request, on a held-out French prompt.
 */
export async function peers(core: EngineCore, req: PeersRequest, ctl: JobControl<PeersProgress>): Promise<PeersReport> {
  const t0 = performance.now();
  const startedAt = new Date().toISOString();
  const ids = req?.models?.length ? req.models : DEFAULT_PEER_MODELS;
  const promptTokens = req?.promptTokens ?? 32;
  const o = peerOptions(req ?? {});
  if (!Number.isInteger(promptTokens) || promptTokens < 2 || promptTokens > 512) throw new Error(`peers: promptTokens must be 2 to 512, got ${show(req?.promptTokens)}`);
  const text = (await core.resources.prompts('fra', 'heldout')).map((p) => `${p.prompt} ${p.reference}`).join('\n');
  const models: PeerModel[] = [];
  for (const id of ids) {
    let config: ModelConfig;
    let weights: HostWeights;
    let tok: BpeTokenizer;
    if (id.startsWith('preset:')) {
      tok = await core.resources.builtinTokenizer();
      config = validateConfig({ ...preset(id.slice('preset:'.length)).config, vocabSize: tok.vocabSize, bosTokenId: tok.bos, eosTokenId: tok.eos, padTokenId: tok.pad });
      weights = initWeights(config, 1);
    } else {
      const r = await core.library.read(id);
      ({ config, weights } = r.folder);
      tok = r.tok;
    }
    const prompt = tok.encodePrompt(text, 'fra').slice(0, promptTokens);
    if (prompt.length < promptTokens) throw new Error(`peers: only ${prompt.length} tokens of held-out text`);
    if (promptTokens + o.decodeTokens > config.maxPositionEmbeddings) throw new Error(`peers: ${id}'s context (${config.maxPositionEmbeddings}) is shorter than the prompt and the decoded tokens`);
    models.push({ name: id.replace(/^builtin:/, ''), config, weights, prompt });
  }
  const ctx = await core.device.context();
  const rows = await runPeers(ctx, models, o, (p) => ctl.emit(p), ctl.shouldStop);
  if (ctl.shouldStop()) throw new JobCancelled(ctl.id);
  const [ort, tf] = await Promise.all([import('onnxruntime-web'), import('@tensorflow/tfjs-core')]);
  return {
    adapter: ctx.adapter,
    runtime: core.platform.runtime,
    versions: { onnxruntimeWeb: ort.env.versions?.web ?? 'unknown', tfjs: tf.version_core },
    models: models.map((m) => ({ name: m.name, parameters: [...m.weights.values()].reduce((s, t) => s + t.data.length, 0), hiddenSize: m.config.hiddenSize, layers: m.config.numHiddenLayers, vocabSize: m.config.vocabSize })),
    options: { promptTokens, decodeTokens: o.decodeTokens, trainBatch: o.trainBatch, trainSeq: o.trainSeq, repeats: o.repeats },
    rows,
    startedAt,
    seconds: (performance.now() - t0) / 1000,
  };
}
