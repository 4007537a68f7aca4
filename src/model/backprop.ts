// Loss and gradients of the whole model for a batch, written once over an ops backend so the very
// same code runs on the GPU (Tensor) and on the plain TypeScript references (HostTensor, float32 or
// float64 — the float64 run is what finite differences check). Gradients come back by HF tensor
// name, the unit the tests compare (llm.c's test_gpt2 is the model of this).
import type { GpuContext, Tensor } from '../gpu/context.ts';
import type { HostTensor } from '../gpu/host.ts';
import { add, addCpu, addInPlace, addInPlaceCpu, scale, scaleCpu, swiglu, swigluBackward, swigluBackwardCpu, swigluCpu } from '../ops/elementwise.ts';
import { embedding, embeddingBackward, embeddingBackwardCpu, embeddingCpu } from '../ops/embedding.ts';
import { layerNorm, layerNormBackward, layerNormBackwardCpu, layerNormCpu } from '../ops/layernorm.ts';
import { matmul, matmulBackward, matmulBackwardCpu, matmulCpu } from '../ops/matmul.ts';
import { type RopeTable, rope, ropeBackward, ropeBackwardCpu, ropeCpu } from '../ops/rope.ts';
import { attention, attentionBackward, attentionBackwardCpu, attentionCpu } from '../ops/attention.ts';
import { crossEntropyMasked, crossEntropyMaskedBackward, crossEntropyMaskedBackwardCpu, crossEntropyMaskedCpu } from '../ops/xent.ts';
import { clipFactor, clipFactorCpu, sum, sumCpu, sumOfSquares, sumOfSquaresCpu } from '../ops/reduce.ts';
import { adamw, adamwCpu } from '../ops/adamw.ts';
import { type ModelConfig, headDim } from './config.ts';

/** The ops the training step needs, over one tensor type. */
export interface TrainOps<T> {
  ids(values: readonly number[], shape: number[]): T;
  floats(values: readonly number[], shape: number[]): T;
  /** Same data, new shape; never owns anything. */
  view(t: T, shape: number[]): T;
  /** Same data, new shape, taking over ownership (`t` must not be used again). */
  reshape(t: T, shape: number[]): T;
  release(t: T): void;
  embedding(ids: T, table: T): T;
  embeddingBackward(dout: T, ids: readonly number[], vocab: number): T;
  layerNorm(x: T, w: T, eps: number): T;
  layerNormBackward(dy: T, x: T, w: T, eps: number): { dx: T; dw: T };
  matmul(a: T, b: T, opts: { transB?: boolean }): T;
  matmulBackward(dy: T, a: T, b: T, opts: { transB?: boolean }): { da: T; db: T };
  rope(x: T, table: RopeTable<T>, pos0: number): T;
  ropeBackward(dy: T, table: RopeTable<T>, pos0: number): T;
  attention(q: T, k: T, v: T, pos0: number): T;
  attentionBackward(dout: T, q: T, k: T, v: T, pos0: number): { dq: T; dk: T; dv: T };
  swiglu(g: T, u: T): T;
  swigluBackward(dy: T, g: T, u: T): { dgate: T; dup: T };
  add(a: T, b: T): T;
  addInPlace(dst: T, src: T): void;
  scale(a: T, s: number): T;
  sum(x: T): T;
  crossEntropyMasked(logits: T, targets: T, weights: T): T;
  crossEntropyMaskedBackward(logits: T, targets: T, weights: T): T;
  // optimiser
  zerosLike(t: T): T;
  sumOfSquares(...tensors: T[]): T;
  clipFactor(sumsq: T, maxNorm: number): T;
  adamw(param: T, grad: T, m: T, v: T, opts: AdamwStep<T>): void;
  /** Host copy of a (small) tensor's values. */
  values(t: T): Promise<ArrayLike<number>>;
}

export interface AdamwStep<T> {
  lr: number;
  step: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  gscale: T;
}

export function gpuTrainOps(ctx: GpuContext): TrainOps<Tensor> {
  return {
    ids: (values, shape) => ctx.upload({ shape, data: Uint32Array.from(values) }),
    floats: (values, shape) => ctx.upload({ shape, data: Float32Array.from(values) }),
    view: (t, shape) => t.reshape(shape),
    reshape: (t, shape) => t.intoShape(shape),
    release: (t) => t.release(),
    embedding,
    embeddingBackward,
    layerNorm,
    layerNormBackward,
    matmul,
    matmulBackward,
    rope,
    ropeBackward,
    attention,
    attentionBackward,
    swiglu,
    swigluBackward,
    add,
    addInPlace,
    scale,
    sum,
    crossEntropyMasked,
    crossEntropyMaskedBackward,
    zerosLike: (t) => ctx.upload({ shape: [...t.shape], data: new Float32Array(t.size) }),
    sumOfSquares,
    clipFactor,
    adamw,
    values: async (t) => (await t.read()).data,
  };
}

/** The CPU references; `float64` runs every op in double precision (for finite differences). */
export function cpuTrainOps(float64 = false): TrainOps<HostTensor> {
  const F = float64 ? Float64Array : Float32Array;
  return {
    ids: (values, shape) => ({ shape, data: Uint32Array.from(values) }),
    floats: (values, shape) => ({ shape, data: F.from(values) }),
    view: (t, shape) => ({ shape, data: t.data }),
    reshape: (t, shape) => ({ shape, data: t.data }),
    release: () => undefined,
    embedding: embeddingCpu,
    embeddingBackward: embeddingBackwardCpu,
    layerNorm: layerNormCpu,
    layerNormBackward: layerNormBackwardCpu,
    matmul: matmulCpu,
    matmulBackward: matmulBackwardCpu,
    rope: ropeCpu,
    ropeBackward: ropeBackwardCpu,
    attention: attentionCpu,
    attentionBackward: attentionBackwardCpu,
    swiglu: swigluCpu,
    swigluBackward: swigluBackwardCpu,
    add: addCpu,
    addInPlace: addInPlaceCpu,
    scale: scaleCpu,
    sum: sumCpu,
    crossEntropyMasked: crossEntropyMaskedCpu,
    crossEntropyMaskedBackward: crossEntropyMaskedBackwardCpu,
    zerosLike: (t) => ({ shape: [...t.shape], data: new F(t.data.length) }),
    sumOfSquares: sumOfSquaresCpu,
    clipFactor: clipFactorCpu,
    adamw: adamwCpu,
    values: async (t) => t.data,
  };
}

export interface LossBatch {
  /** [batch][T] input ids. */
  ids: number[][];
  /** [batch · T] next-token targets. */
  targets: number[];
  /** [batch · T] per-prediction weights; mask / (counted tokens) gives the masked mean. */
  weights: number[];
}

export interface LossAndGrads<T> {
  /** [1]: Σ weights · per-token loss. */
  loss: T;
  /** [batch · T] weighted per-token losses (for per-language telemetry). */
  tokenLosses: T;
  grads: Map<string, T>;
}

interface LayerActivations<T> {
  xin: T;
  h: T;
  q: T;
  k: T;
  v: T;
  a: T;
  g: T;
  u: T;
  m: T;
}

/** What the backward pass needs from a forward (llm.c's activations): every layer's inputs, the
 *  final hidden state and its norm, and the logits. Owned by the tape until `releaseTape`. */
export interface Tape<T> {
  config: ModelConfig;
  weights: Map<string, T>;
  table: RopeTable<T>;
  ids: number[][];
  acts: LayerActivations<T>[];
  x: T;
  xn: T;
  logits: T;
}

export interface Forward<T> {
  /** [batch · T, vocab]. Owned by the tape when there is one, by the caller otherwise. */
  logits: T;
  tape?: Tape<T>;
}

function weightOf<T>(weights: Map<string, T>, name: string): T {
  const t = weights.get(name);
  if (t === undefined) throw new Error(`weights: missing ${name}`);
  return t;
}

/** The transformer forward over whole sequences (no cache). With `tape` the activations are kept
 *  for `backward`; without, each is released as soon as it is used. */
export function forward<T>(ops: TrainOps<T>, config: ModelConfig, weights: Map<string, T>, table: RopeTable<T>, ids: number[][], opts: { tape?: boolean } = {}): Forward<T> {
  const W = (name: string) => weightOf(weights, name);
  const c = config;
  const b = ids.length;
  const t = ids[0].length;
  const n = b * t;
  const hd = headDim(c);
  const qw = c.numAttentionHeads * hd;
  const idsT = ops.ids(ids.flat(), [n]);
  let x = ops.embedding(idsT, W('model.embed_tokens.weight'));
  ops.release(idsT);
  const acts: LayerActivations<T>[] = [];
  for (let l = 0; l < c.numHiddenLayers; l++) {
    const p = `model.layers.${l}`;
    const h = ops.layerNorm(x, W(`${p}.input_layernorm.weight`), c.layerNormEps);
    const proj = (name: string) => ops.matmul(h, W(`${p}.${name}.weight`), { transB: true });
    const q0 = proj('self_attn.q_proj');
    const k0 = proj('self_attn.k_proj');
    const v = ops.reshape(proj('self_attn.v_proj'), [b, t, c.numKeyValueHeads, hd]);
    const q = ops.rope(ops.view(q0, [b, t, c.numAttentionHeads, hd]), table, 0);
    const k = ops.rope(ops.view(k0, [b, t, c.numKeyValueHeads, hd]), table, 0);
    ops.release(q0);
    ops.release(k0);
    const a = ops.attention(q, k, v, 0);
    const ao = ops.matmul(ops.view(a, [n, qw]), W(`${p}.self_attn.o_proj.weight`), { transB: true });
    const g = proj('mlp.gate_proj');
    const u = proj('mlp.up_proj');
    const m = ops.swiglu(g, u);
    const mo = ops.matmul(m, W(`${p}.mlp.down_proj.weight`), { transB: true });
    const x1 = ops.add(x, ao);
    const x2 = ops.add(x1, mo);
    ops.release(x1);
    ops.release(ao);
    ops.release(mo);
    const layer = { xin: x, h, q, k, v, a, g, u, m };
    if (opts.tape) acts.push(layer);
    else for (const v of Object.values(layer)) ops.release(v as T);
    x = x2;
  }
  const xn = ops.layerNorm(x, W('model.norm.weight'), c.layerNormEps);
  const raw = ops.matmul(xn, W('model.embed_tokens.weight'), { transB: true });
  const logits = c.logitScale === 1 ? raw : ops.scale(raw, c.logitScale);
  if (logits !== raw) ops.release(raw);
  if (!opts.tape) {
    ops.release(x);
    ops.release(xn);
    return { logits };
  }
  return { logits, tape: { config, weights, table, ids, acts, x, xn, logits } };
}

export function releaseTape<T>(ops: TrainOps<T>, tape: Tape<T>): void {
  for (const s of tape.acts) for (const v of Object.values(s)) ops.release(v as T);
  for (const v of [tape.x, tape.xn, tape.logits]) ops.release(v);
  tape.acts.length = 0;
}

/** Masked cross-entropy of a forward's logits: Σ weights · NLL and the per-token terms. Targets
 *  and weights are tensors the caller uploaded before recording the forward (an upload submits
 *  what is recorded, so uploading first keeps a step in one submission). */
export function tokenLosses<T>(ops: TrainOps<T>, logits: T, targets: T, weights: T): { loss: T; tokenLosses: T } {
  const per = ops.crossEntropyMasked(logits, targets, weights);
  return { loss: ops.sum(per), tokenLosses: per };
}

/** Gradients of Σ tokenWeights · NLL(targets) by HF tensor name, from a forward's tape. The
 *  weights may differ from the forward's loss weights (DPO's backward weighs each token by
 *  −∂loss/∂π), so one forward serves both the log-probs and the gradient. The tape is kept. */
export function backward<T>(ops: TrainOps<T>, tape: Tape<T>, targets: T, tokenWeights: T): Map<string, T> {
  const { config: c, table, acts, x, xn, logits } = tape;
  const W = (name: string) => weightOf(tape.weights, name);
  const b = tape.ids.length;
  const t = tape.ids[0].length;
  const n = b * t;
  const hd = headDim(c);
  const qw = c.numAttentionHeads * hd;
  if (acts.length !== c.numHiddenLayers) throw new Error('backward: the tape was released or was recorded without activations');
  const grads = new Map<string, T>();
  const dlogits = ops.crossEntropyMaskedBackward(logits, targets, tokenWeights);
  const draw = c.logitScale === 1 ? dlogits : ops.scale(dlogits, c.logitScale);
  if (draw !== dlogits) ops.release(dlogits);
  const head = ops.matmulBackward(draw, xn, W('model.embed_tokens.weight'), { transB: true });
  ops.release(draw);
  const fin = ops.layerNormBackward(head.da, x, W('model.norm.weight'), c.layerNormEps);
  ops.release(head.da);
  grads.set('model.norm.weight', fin.dw);
  let dx = fin.dx;
  for (let l = c.numHiddenLayers - 1; l >= 0; l--) {
    const p = `model.layers.${l}`;
    const s = acts[l];
    // x_{l+1} = x_l + o_proj(attn) + down_proj(mlp): dx reaches both branches and the residual.
    const down = ops.matmulBackward(dx, s.m, W(`${p}.mlp.down_proj.weight`), { transB: true });
    grads.set(`${p}.mlp.down_proj.weight`, down.db);
    const sw = ops.swigluBackward(down.da, s.g, s.u);
    ops.release(down.da);
    const gate = ops.matmulBackward(sw.dgate, s.h, W(`${p}.mlp.gate_proj.weight`), { transB: true });
    const up = ops.matmulBackward(sw.dup, s.h, W(`${p}.mlp.up_proj.weight`), { transB: true });
    grads.set(`${p}.mlp.gate_proj.weight`, gate.db);
    grads.set(`${p}.mlp.up_proj.weight`, up.db);
    ops.release(sw.dgate);
    ops.release(sw.dup);
    const dh = gate.da;
    ops.addInPlace(dh, up.da);
    ops.release(up.da);

    const o = ops.matmulBackward(dx, ops.view(s.a, [n, qw]), W(`${p}.self_attn.o_proj.weight`), { transB: true });
    grads.set(`${p}.self_attn.o_proj.weight`, o.db);
    const at = ops.attentionBackward(ops.view(o.da, [b, t, c.numAttentionHeads, hd]), s.q, s.k, s.v, 0);
    ops.release(o.da);
    const dq = ops.ropeBackward(at.dq, table, 0);
    const dk = ops.ropeBackward(at.dk, table, 0);
    ops.release(at.dq);
    ops.release(at.dk);
    for (const [name, dy] of [
      ['self_attn.q_proj', ops.view(dq, [n, qw])],
      ['self_attn.k_proj', ops.view(dk, [n, c.numKeyValueHeads * hd])],
      ['self_attn.v_proj', ops.view(at.dv, [n, c.numKeyValueHeads * hd])],
    ] as Array<[string, T]>) {
      const r = ops.matmulBackward(dy, s.h, W(`${p}.${name}.weight`), { transB: true });
      grads.set(`${p}.${name}.weight`, r.db);
      ops.addInPlace(dh, r.da);
      ops.release(r.da);
    }
    ops.release(dq);
    ops.release(dk);
    ops.release(at.dv);
    const ln = ops.layerNormBackward(dh, s.xin, W(`${p}.input_layernorm.weight`), c.layerNormEps);
    ops.release(dh);
    grads.set(`${p}.input_layernorm.weight`, ln.dw);
    ops.addInPlace(dx, ln.dx);
    ops.release(ln.dx);
  }
  const dE = ops.embeddingBackward(dx, tape.ids.flat(), c.vocabSize);
  ops.release(dx);
  ops.addInPlace(dE, head.db);
  ops.release(head.db);
  grads.set('model.embed_tokens.weight', dE);
  return grads;
}

/** Forward, masked cross-entropy and (unless `grads: false`) backward for one batch. */
export function lossAndGrads<T>(
  ops: TrainOps<T>,
  config: ModelConfig,
  weights: Map<string, T>,
  table: RopeTable<T>,
  batch: LossBatch,
  opts: { grads?: boolean } = {},
): LossAndGrads<T> {
  const wantGrads = opts.grads !== false;
  const n = batch.ids.length * batch.ids[0].length;
  if (batch.targets.length !== n || batch.weights.length !== n) throw new Error(`batch: ${n} positions but ${batch.targets.length} targets / ${batch.weights.length} weights`);
  const targets = ops.ids(batch.targets, [n]);
  const lw = ops.floats(batch.weights, [n]);
  const f = forward(ops, config, weights, table, batch.ids, { tape: wantGrads });
  const { loss, tokenLosses: per } = tokenLosses(ops, f.logits, targets, lw);
  const grads = f.tape ? backward(ops, f.tape, targets, lw) : new Map<string, T>();
  if (f.tape) releaseTape(ops, f.tape);
  else ops.release(f.logits);
  ops.release(targets);
  ops.release(lw);
  return { loss, tokenLosses: per, grads };
}
