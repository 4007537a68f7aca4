// Whole-model throughput for a preset size: forward GFLOP/s (prefill of a batch), training
// tokens/s (forward + backward + AdamW), and KV-cache decoding tokens/s. FLOPs are counted from the
// model's matmuls and causal attention (2 per multiply-add), not estimated from time.
import { type DispatchSpec, type GpuContext, isMatmulShader, type Tensor } from '../gpu/context.ts';
import { generate, generateBatch } from '../model/generate.ts';
import { type ModelConfig, headDim, validateConfig } from '../model/config.ts';
import { gpuTrainOps } from '../model/backprop.ts';
import { dpoTrainStep } from '../train/dpo.ts';
import { initWeights } from '../model/init.ts';
import { AyaModel } from '../model/model.ts';
import { preset } from '../model/presets.ts';
import { ropeTableCpu, uploadRopeTable } from '../ops/rope.ts';
import { DEFAULT_OPTIMIZER, Trainer } from '../train/trainer.ts';
import { Rng } from '../util/rng.ts';

export interface ModelBenchResult {
  preset: string;
  parameters: number;
  batch: number;
  seqLen: number;
  forwardMs: number;
  forwardGflops: number;
  /** forwardGflops / measured peak. */
  forwardRatio: number;
  trainStepMs: number;
  trainTokensPerSecond: number;
  /** Sampled decoding through generate() (top-k 40, top-p 0.95, T 0.8), one sequence. */
  decodeTokensPerSecond: number;
  /** generateBatch: `batchedDecodeRows` samples of one prompt advancing together (tokens of all
   *  sequences per second). Absent in reports from before it was measured. */
  batchedDecodeTokensPerSecond?: number;
  batchedDecodeRows?: number;
  /** Share of GPU time in matmul kernels: each dispatch of one decoding step and of one training
   *  step replayed on its own and timed (an estimate: kernels timed in isolation). */
  matmulShare?: { decode: number; train: number };
  /** What one decoded token and one training step record on the GPU: dispatches (of which
   *  matmuls) and queue submissions — the overhead that dominates at these sizes. */
  perDecodedToken: WorkCount;
  perTrainStep: WorkCount;
  /** A DPO step (policy + reference forwards, one backward, AdamW) on the same tokens as the
   *  training step, as pairs: batch/2 chosen rows and batch/2 rejected rows. */
  dpoStepMs: number;
  /** dpoStepMs / trainStepMs: the cost of preference training over SFT on the same tokens. */
  dpoOverSft: number;
  perDpoStep: WorkCount;
}

export interface WorkCount {
  dispatches: number;
  matmulDispatches: number;
  submissions: number;
}

function workSince(ctx: GpuContext, before: WorkCount, n: number): WorkCount {
  const c = ctx.counters;
  return { dispatches: (c.dispatches - before.dispatches) / n, matmulDispatches: (c.matmulDispatches - before.matmulDispatches) / n, submissions: (c.submissions - before.submissions) / n };
}

/** Forward FLOPs of `tokens` positions in sequences of length `seqLen`. */
export function forwardFlops(c: ModelConfig, batch: number, seqLen: number): number {
  const n = batch * seqLen;
  const hd = headDim(c);
  const perLayer = c.hiddenSize * (c.numAttentionHeads * hd) * 2 + c.hiddenSize * (c.numKeyValueHeads * hd) * 2 + 3 * c.hiddenSize * c.intermediateSize;
  const matmuls = 2 * n * (c.numHiddenLayers * perLayer + c.vocabSize * c.hiddenSize);
  // Causal attention: scores and weighted values over seqLen·(seqLen+1)/2 query–key pairs per head.
  const attn = 2 * 2 * batch * c.numAttentionHeads * hd * ((seqLen * (seqLen + 1)) / 2) * c.numHiddenLayers;
  return matmuls + attn;
}

export async function benchModel(ctx: GpuContext, presetId: string, vocabSize: number, batch: number, seqLen: number, peakGflops: number): Promise<ModelBenchResult> {
  const config = validateConfig({ ...preset(presetId).config, vocabSize, bosTokenId: 1, eosTokenId: 2, padTokenId: 0 });
  const host = initWeights(config, 1);
  const rng = new Rng(3);
  const ids = Array.from({ length: batch }, () => Array.from({ length: seqLen }, () => rng.int(vocabSize)));

  const model = AyaModel.fromHost(ctx, config, host);
  const fwd = async () => {
    const t = model.forward(ids);
    await ctx.sync();
    t.release();
  };
  await fwd(); // compile
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    await fwd();
    times.push(performance.now() - t0);
  }
  const forwardMs = times.sort((a, b) => a - b)[1];

  // Decoding as the panels do it (generate: GPU or host ranking as measured, one readback per
  // token): a 16-token prompt, then 16 sampled tokens after the first; <eos> held off.
  const prompt = ids[0].slice(0, 16);
  const sampling = { temperature: 0.8, topK: 40, topP: 0.95, maxNewTokens: 17, minNewTokens: 17 };
  for await (const _ of generate(model, prompt, { ...sampling, seed: 1 })) void _; // compile, measure the ranking
  let decodeWork = { ...ctx.counters };
  let firstMs = 0;
  let lastMs = 0;
  for await (const tok of generate(model, prompt, { ...sampling, seed: 2 })) {
    if (tok.index === 0) {
      firstMs = tok.ms;
      decodeWork = { ...ctx.counters };
    }
    lastMs = tok.ms;
  }
  const decodeTokensPerSecond = 16 / ((lastMs - firstMs) / 1000);
  const perDecodedToken = workSince(ctx, decodeWork, 16);
  // Batched: 8 samples of the prompt, one step advancing all.
  const rows = 8;
  const seeds = Array.from({ length: rows }, (_, i) => 10 + i);
  await generateBatch(model, prompt, sampling, seeds); // compile, measure the ranking
  const stamps: number[] = [];
  await generateBatch(model, prompt, sampling, seeds, undefined, (_, t) => {
    if (t.index === 0 || t.index === 16) stamps.push(t.ms);
  });
  const batchedDecodeTokensPerSecond = (rows * 16) / ((Math.max(...stamps) - Math.min(...stamps)) / 1000);
  // One decoding step's dispatches, each timed alone.
  const cache = model.createCache(1, 64);
  const step = async (input: number[]) => {
    const logits = model.forward([input], { cache, lastOnly: true });
    await logits.read();
    logits.release();
  };
  await step(prompt);
  const decodeSpecs = await recorded(ctx, () => step([ids[0][16]]));
  cache.release();
  const decodeShare = await matmulShareOf(ctx, decodeSpecs, 10);
  model.dispose();

  const wg = new Map<string, Tensor>([...host].map(([k, t]) => [k, ctx.upload(t)]));
  const table = uploadRopeTable(ctx, ropeTableCpu(seqLen, headDim(config), config.ropeTheta));
  const trainer = new Trainer(gpuTrainOps(ctx), config, wg, table, { ...DEFAULT_OPTIMIZER, totalSteps: 10 });
  const batchIn = { ids, targets: ids.flat(), weights: new Array(batch * seqLen).fill(1 / (batch * seqLen)) };
  await trainer.trainStep(batchIn); // compile
  // Steps take seconds on a CPU adapter and vary: the median of three.
  const median3 = async (step: () => Promise<unknown>) => {
    const ms: number[] = [];
    for (let i = 0; i < 3; i++) {
      const s0 = performance.now();
      await step();
      ms.push(performance.now() - s0);
    }
    return ms.sort((a, b) => a - b)[1];
  };
  const trainWork = { ...ctx.counters };
  const trainStepMs = await median3(() => trainer.trainStep(batchIn));
  const perTrainStep = workSince(ctx, trainWork, 3);

  // A DPO step on the same rows: rows 0..B−1 chosen, B..2B−1 rejected, every token counted, the
  // initial weights as the frozen reference.
  const ref = new Map<string, Tensor>([...host].map(([k, t]) => [k, ctx.upload(t)]));
  const pairs = Math.max(1, Math.floor(batch / 2));
  const dpoIn = { ids: ids.slice(0, 2 * pairs), targets: ids.slice(0, 2 * pairs).flat(), weights: [], mask: new Array(2 * pairs * seqLen).fill(1) };
  const ops = gpuTrainOps(ctx);
  const dpoStep = () => dpoTrainStep(ops, config, trainer, ref, table, dpoIn, pairs, { loss: 'sigmoid', beta: 0.1, seqLen });
  await dpoStep(); // compile
  const dpoWork = { ...ctx.counters };
  // Normalised to the training step's token count when the batch is odd.
  const dpoStepMs = (await median3(dpoStep)) * (batch / (2 * pairs));
  const perDpoStep = workSince(ctx, dpoWork, 3);
  // Last: the replays leave the trainer's weights as garbage.
  const trainShare = await matmulShareOf(ctx, await recorded(ctx, () => trainer.trainStep(batchIn)), 2);
  for (const t of ref.values()) t.release();
  trainer.dispose();
  for (const t of wg.values()) t.release();
  table.cos.release();
  table.sin.release();

  const forwardGflops = forwardFlops(config, batch, seqLen) / (forwardMs * 1e6);
  return {
    preset: presetId,
    parameters: [...host.values()].reduce((s, t) => s + t.data.length, 0),
    batch,
    seqLen,
    forwardMs,
    forwardGflops,
    forwardRatio: forwardGflops / peakGflops,
    trainStepMs,
    trainTokensPerSecond: (batch * seqLen) / (trainStepMs / 1000),
    decodeTokensPerSecond,
    batchedDecodeTokensPerSecond,
    batchedDecodeRows: rows,
    matmulShare: { decode: decodeShare, train: trainShare },
    perDecodedToken,
    perTrainStep,
    dpoStepMs,
    dpoOverSft: dpoStepMs / trainStepMs,
    perDpoStep,
  };
}

/** The dispatches `run` records. */
async function recorded(ctx: GpuContext, run: () => Promise<unknown>): Promise<DispatchSpec[]> {
  const specs: DispatchSpec[] = [];
  ctx.onDispatch = (spec) => specs.push(spec);
  try {
    await run();
  } finally {
    ctx.onDispatch = null;
  }
  await ctx.sync();
  return specs;
}

/** Replays each dispatch `reps` times between two waits for the GPU, minus an empty wait's time,
 *  and returns the matmul kernels' share of the summed times. The buffers still exist (the pool
 *  keeps them) and hold other data by now: timing only. */
async function matmulShareOf(ctx: GpuContext, specs: readonly DispatchSpec[], reps: number): Promise<number> {
  const idle = async () => {
    const t0 = performance.now();
    await ctx.sync();
    return performance.now() - t0;
  };
  let base = Infinity;
  for (let i = 0; i < 5; i++) base = Math.min(base, await idle());
  let matmul = 0;
  let all = 0;
  for (const spec of specs) {
    await ctx.sync();
    const t0 = performance.now();
    for (let r = 0; r < reps; r++) ctx.dispatch(spec);
    await ctx.sync();
    const ms = Math.max(0, performance.now() - t0 - base) / reps;
    all += ms;
    if (isMatmulShader(spec.shader)) matmul += ms;
  }
  return all > 0 ? matmul / all : 0;
}
