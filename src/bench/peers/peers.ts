// Peers in one page (issue 13, item 4): the same model, the same prompt and the same work through
// our engine, onnxruntime-web (WebGPU and WASM, on our ONNX export) and TensorFlow.js (WebGPU) —
// prefill tokens/s, decode tokens/s with a KV cache (greedy, one token a step, each step's logits
// read back), and for TF.js a training step (forward + backward + Adam) — each as a ratio to ours
// measured in the same run. Every path's outputs are checked against ours (prefill logits, the
// greedy tokens, the first step's loss), so a faster peer cannot be doing less.
import type { GpuContext, Tensor } from '../../gpu/context.ts';
import { type ModelConfig, headDim } from '../../model/config.ts';
import { gpuTrainOps } from '../../model/backprop.ts';
import type { HostWeights } from '../../model/init.ts';
import { AyaModel } from '../../model/model.ts';
import { modelToOnnx } from '../../model/onnxExport.ts';
import { decoderFeeds, type Feeds, presentsOf } from '../../model/onnxFeeds.ts';
import { ropeTableCpu, uploadRopeTable } from '../../ops/rope.ts';
import { DEFAULT_OPTIMIZER, Trainer } from '../../train/trainer.ts';
import { Rng } from '../../util/rng.ts';

import { PEER_LABELS, PEER_RUNTIMES, type PeerRuntime, type PeersProgress } from './labels.ts';

export { PEER_LABELS, PEER_RUNTIMES, type PeerRuntime, type PeersProgress };

export interface PeerModel {
  name: string;
  config: ModelConfig;
  weights: HostWeights;
  /** The prompt's token ids (held-out text for a shipped model, seeded ids for a preset). */
  prompt: number[];
}

export interface PeersOptions {
  runtimes?: PeerRuntime[];
  decodeTokens?: number;
  trainBatch?: number;
  trainSeq?: number;
  /** Timed repeats of each measurement (the median is kept), after one warm-up. */
  repeats?: number;
}

export interface PeerRow {
  model: string;
  runtime: PeerRuntime;
  /** Why it did not run (e.g. no WebGPU for onnxruntime in Node); null when it ran. */
  error: string | null;
  prefillTokensPerSecond: number | null;
  decodeTokensPerSecond: number | null;
  trainTokensPerSecond: number | null;
  /** Ours ÷ this runtime (> 1: ours is faster), per measurement. */
  oursOver: { prefill: number | null; decode: number | null; train: number | null };
  check: {
    /** max |logit − ours| over every prefill position. */
    maxAbsLogit: number | null;
    /** The greedy tokens equal ours. */
    decodeSame: boolean | null;
    /** |first training step's loss − ours|. */
    lossDelta: number | null;
    /** Every check within bounds (logits 1e-3, tokens equal, loss 1e-3). */
    ok: boolean;
  };
}

const LOGIT_BOUND = 1e-3;
const LOSS_BOUND = 1e-3;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function timed(repeats: number, f: () => Promise<void>): Promise<number> {
  await f(); // warm-up: compilation, uploads
  const ms: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await f();
    ms.push(performance.now() - t0);
  }
  return median(ms);
}

const argmax = (row: ArrayLike<number>, off = 0, n = row.length - off) => {
  let best = 0;
  for (let i = 1; i < n; i++) if (row[off + i] > row[off + best]) best = i;
  return best;
};

interface Measured {
  prefillMs: number;
  logits: Float32Array;
  decodeMs: number;
  tokens: number[];
  trainMs: number | null;
  loss: number | null;
}

/** The training batch: `batch` rows of `seq` seeded ids, next-token targets, uniform weights. */
function trainBatchOf(m: PeerModel, batch: number, seq: number) {
  const rng = new Rng(11);
  const rows = Array.from({ length: batch }, () => Array.from({ length: seq + 1 }, () => rng.int(m.config.vocabSize)));
  return { ids: rows.map((r) => r.slice(0, seq)), targets: rows.flatMap((r) => r.slice(1)), weights: new Array(batch * seq).fill(1 / (batch * seq)) };
}

async function measureOurs(ctx: GpuContext, m: PeerModel, o: Required<PeersOptions>): Promise<Measured> {
  const model = AyaModel.fromHost(ctx, m.config, m.weights);
  try {
    let logits: Float32Array = new Float32Array(0);
    const prefillMs = await timed(o.repeats, async () => {
      const t = model.forward([m.prompt]);
      logits = (await t.read()).data as Float32Array;
      t.release();
    });
    let tokens: number[] = [];
    let steps = 0;
    await timed(o.repeats, async () => {
      const cache = model.createCache(1, m.prompt.length + o.decodeTokens + 1);
      const first = model.forward([m.prompt], { cache, lastOnly: true });
      let next = argmax((await first.read()).data);
      first.release();
      tokens = [];
      const t0 = performance.now();
      for (let i = 0; i < o.decodeTokens; i++) {
        tokens.push(next);
        const step = model.forward([[next]], { cache, lastOnly: true });
        next = argmax((await step.read()).data);
        step.release();
      }
      // Only the steps count: the prefill is measured above.
      steps = performance.now() - t0;
      cache.release();
    });
    const b = trainBatchOf(m, o.trainBatch, o.trainSeq);
    const wg = new Map<string, Tensor>([...m.weights].map(([k, t]) => [k, ctx.upload(t)]));
    const table = uploadRopeTable(ctx, ropeTableCpu(o.trainSeq, headDim(m.config), m.config.ropeTheta));
    let trainer: Trainer<Tensor> | null = null;
    try {
      trainer = new Trainer(gpuTrainOps(ctx), m.config, wg, table, { ...DEFAULT_OPTIMIZER, totalSteps: 100 });
      const loss = (await trainer.trainStep(b)).loss;
      const ms: number[] = [];
      for (let i = 0; i < o.repeats; i++) {
        const t0 = performance.now();
        await trainer.trainStep(b);
        ms.push(performance.now() - t0);
      }
      return { prefillMs, logits, decodeMs: steps, tokens, trainMs: median(ms), loss };
    } finally {
      trainer?.dispose();
      for (const t of wg.values()) t.release();
      table.cos.release();
      table.sin.release();
    }
  } finally {
    model.dispose();
  }
}

async function measureOrt(m: PeerModel, provider: 'webgpu' | 'wasm', o: Required<PeersOptions>): Promise<Measured> {
  const ort = await import('onnxruntime-web');
  const c = m.config;
  // On WebGPU the KV cache stays on the GPU between steps, as ours does (only the logits come back).
  const presents = Array.from({ length: c.numHiddenLayers }, (_, l) => [`present.${l}.key`, `present.${l}.value`]).flat();
  const session = await ort.InferenceSession.create(modelToOnnx({ config: m.config, weights: m.weights, tokenizerJson: null, tokenizerConfigJson: null, playground: null }, m.name), {
    executionProviders: [provider],
    graphOptimizationLevel: 'all',
    ...(provider === 'webgpu' ? { preferredOutputLocation: Object.fromEntries(presents.map((n) => [n, 'gpu-buffer' as const])) } : {}),
  });
  const shape = { layers: c.numHiddenLayers, kvHeads: c.numKeyValueHeads, headDim: headDim(c) };
  const run = async (ids: number[], past: Feeds | null, pastLen: number) => {
    const out = await session.run(decoderFeeds(ort, shape, [ids], past, pastLen));
    return { logits: out.logits.data as Float32Array, present: presentsOf(out) };
  };
  try {
    let logits: Float32Array = new Float32Array(0);
    const prefillMs = await timed(o.repeats, async () => {
      const r = await run(m.prompt, null, 0);
      logits = r.logits;
      for (const t of Object.values(r.present)) t.dispose();
    });
    let tokens: number[] = [];
    let steps = 0;
    await timed(o.repeats, async () => {
      let r = await run(m.prompt, null, 0);
      const v = c.vocabSize;
      let next = argmax(r.logits, (m.prompt.length - 1) * v, v);
      tokens = [];
      const t0 = performance.now();
      try {
        for (let i = 0; i < o.decodeTokens; i++) {
          tokens.push(next);
          const prev = r.present;
          r = await run([next], prev, m.prompt.length + i);
          for (const t of Object.values(prev)) t.dispose();
          next = argmax(r.logits);
        }
        steps = performance.now() - t0;
      } finally {
        for (const t of Object.values(r.present)) t.dispose();
      }
    });
    return { prefillMs, logits, decodeMs: steps, tokens, trainMs: null, loss: null };
  } finally {
    await session.release();
  }
}

async function measureTfjs(m: PeerModel, o: Required<PeersOptions>): Promise<Measured> {
  const tf = await import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-core/dist/register_all_gradients');
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) throw new Error('TensorFlow.js could not start its WebGPU backend');
  await tf.ready();
  const { disposeTfjsCache, emptyTfjsCache, logitsTfjs, weightedCrossEntropyTfjs } = await import('./tfjsCohere.ts');
  const c = m.config;
  const consts = new Map([...m.weights].map(([k, t]) => [k, tf.tensor(Float32Array.from(t.data), t.shape as number[], 'float32')]));
  const W = (n: string) => consts.get(n)!;
  try {
    let logits: Float32Array = new Float32Array(0);
    const prefillMs = await timed(o.repeats, async () => {
      const t = tf.tidy(() => logitsTfjs(c, W, [m.prompt]));
      logits = (await t.data()) as Float32Array;
      t.dispose();
    });
    let tokens: number[] = [];
    let steps = 0;
    await timed(o.repeats, async () => {
      const cache = emptyTfjsCache(c);
      const v = c.vocabSize;
      const first = tf.tidy(() => logitsTfjs(c, W, [m.prompt], cache));
      let next = argmax((await first.data()) as Float32Array, (m.prompt.length - 1) * v, v);
      first.dispose();
      tokens = [];
      const t0 = performance.now();
      for (let i = 0; i < o.decodeTokens; i++) {
        tokens.push(next);
        const step = tf.tidy(() => logitsTfjs(c, W, [[next]], cache));
        next = argmax((await step.data()) as Float32Array);
        step.dispose();
      }
      steps = performance.now() - t0;
      disposeTfjsCache(cache);
    });
    // Training: the same batch, forward + backward + Adam over every weight.
    const b = trainBatchOf(m, o.trainBatch, o.trainSeq);
    // tf.variable keeps its own copy: the starting tensor is freed at once (else it stays on the GPU).
    const vars = new Map<string, import('@tensorflow/tfjs-core').Variable>();
    const opt = tf.train.adam(DEFAULT_OPTIMIZER.lr);
    const step = async () => {
      const l = opt.minimize(() => weightedCrossEntropyTfjs(c, logitsTfjs(c, (n) => vars.get(n)!, b.ids), b.targets, b.weights), true)!;
      const value = (await l.data())[0];
      l.dispose();
      return value;
    };
    try {
      for (const [k, t] of m.weights) {
        const init = tf.tensor(Float32Array.from(t.data), t.shape as number[], 'float32');
        vars.set(k, tf.variable(init, true, `peer/${k}`));
        init.dispose();
      }
      const loss = await step();
      const ms: number[] = [];
      for (let i = 0; i < o.repeats; i++) {
        const t0 = performance.now();
        await step();
        ms.push(performance.now() - t0);
      }
      return { prefillMs, logits, decodeMs: steps, tokens, trainMs: median(ms), loss };
    } finally {
      for (const v of vars.values()) v.dispose();
      opt.dispose();
    }
  } finally {
    for (const t of consts.values()) t.dispose();
  }
}

/** The options with their defaults filled in (what a report records). */
export function peerOptions(opts: PeersOptions = {}): Required<PeersOptions> {
  return { runtimes: [...PEER_RUNTIMES], decodeTokens: 16, trainBatch: 4, trainSeq: 32, repeats: 3, ...opts };
}

/** Every model through every runtime; rows in order, ours first per model. */
export async function runPeers(ctx: GpuContext, models: readonly PeerModel[], opts: PeersOptions, onProgress: (p: PeersProgress) => void, shouldStop: () => boolean): Promise<PeerRow[]> {
  const o = peerOptions(opts);
  const runtimes = o.runtimes.includes('ours') ? o.runtimes : (['ours', ...o.runtimes] as PeerRuntime[]);
  const rows: PeerRow[] = [];
  const total = models.length * runtimes.length;
  let done = 0;
  for (const m of models) {
    let ours: Measured | null = null;
    for (const rt of runtimes) {
      if (shouldStop()) return rows;
      onProgress({ fraction: done / total, message: `${m.name}: ${PEER_LABELS[rt]}` });
      let r: Measured | null = null;
      let error: string | null = null;
      try {
        r = rt === 'ours' ? await measureOurs(ctx, m, o) : rt === 'tfjs-webgpu' ? await measureTfjs(m, o) : await measureOrt(m, rt === 'ort-webgpu' ? 'webgpu' : 'wasm', o);
      } catch (e) {
        error = (e as Error).message ?? String(e);
      }
      if (rt === 'ours') {
        if (!r) throw new Error(`our engine failed on ${m.name}: ${error}`);
        ours = r;
      }
      const tps = (n: number, ms: number | null) => (ms === null || !(ms > 0) ? null : n / (ms / 1000));
      const row: PeerRow = {
        model: m.name,
        runtime: rt,
        error,
        prefillTokensPerSecond: r ? tps(m.prompt.length, r.prefillMs) : null,
        decodeTokensPerSecond: r ? tps(o.decodeTokens, r.decodeMs) : null,
        trainTokensPerSecond: r ? tps(o.trainBatch * o.trainSeq, r.trainMs) : null,
        oursOver: { prefill: null, decode: null, train: null },
        check: { maxAbsLogit: null, decodeSame: null, lossDelta: null, ok: r !== null },
      };
      if (r && ours) {
        let d = 0;
        for (let i = 0; i < ours.logits.length; i++) d = Math.max(d, Math.abs(r.logits[i] - ours.logits[i]));
        const lossDelta = r.loss !== null && ours.loss !== null ? Math.abs(r.loss - ours.loss) : null;
        const same = r.tokens.length === ours.tokens.length && r.tokens.every((t, i) => t === ours!.tokens[i]);
        const maxAbsLogit = r.logits.length === ours.logits.length ? d : Infinity;
        row.check = { maxAbsLogit, decodeSame: same, lossDelta, ok: maxAbsLogit <= LOGIT_BOUND && same && (lossDelta === null || lossDelta <= LOSS_BOUND) };
        const oursRow = rows.find((x) => x.model === m.name && x.runtime === 'ours') ?? row;
        const ratio = (a: number | null, b: number | null) => (a !== null && b !== null && b > 0 ? a / b : null);
        row.oursOver = { prefill: ratio(oursRow.prefillTokensPerSecond, row.prefillTokensPerSecond), decode: ratio(oursRow.decodeTokensPerSecond, row.decodeTokensPerSecond), train: ratio(oursRow.trainTokensPerSecond, row.trainTokensPerSecond) };
      }
      rows.push(row);
      done++;
    }
  }
  onProgress({ fraction: 1, message: 'done' });
  return rows;
}
