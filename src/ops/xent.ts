// Cross-entropy forward, per row: loss[n] = logsumexp(logits[n]) − logits[n, target[n]].
// Kernel: shaders/softmax_xent.wgsl.
import { grid1d, type Tensor } from '../gpu/context.ts';
import { type HostTensor, like } from '../gpu/host.ts';
import { f32, packUniforms } from './uniforms.ts';
import { rowsDim } from './softmax.ts';

function check(logits: { shape: readonly number[] }, targets: { shape: readonly number[] }) {
  const { rows, dim } = rowsDim(logits.shape);
  const n = targets.shape.reduce((a, b) => a * b, 1);
  if (n !== rows) throw new Error(`crossEntropy: ${n} targets for ${rows} rows of logits`);
  return { rows, vocab: dim };
}

export function crossEntropy(logits: Tensor, targets: Tensor): Tensor {
  if (targets.dtype !== 'u32') throw new Error('crossEntropy: targets must be a u32 tensor');
  const { rows, vocab } = check(logits, targets);
  const out = logits.ctx.empty(logits.shape.slice(0, -1));
  logits.ctx.dispatch({
    shader: 'softmax_xent',
    entry: 'main',
    bindings: [logits, targets, out],
    uniforms: packUniforms([rows, vocab]),
    workgroups: grid1d(rows),
  });
  return out;
}

export function crossEntropyCpu(logits: HostTensor, targets: HostTensor): HostTensor {
  const { rows, vocab } = check(logits, targets);
  const out = like(logits.data, rows);
  for (let r = 0; r < rows; r++) {
    const o = r * vocab;
    let max = -Infinity;
    for (let i = 0; i < vocab; i++) max = Math.max(max, logits.data[o + i]);
    let sum = 0;
    for (let i = 0; i < vocab; i++) sum += Math.exp(logits.data[o + i] - max);
    const t = targets.data[r];
    out[r] = t < vocab ? Math.log(sum) + max - logits.data[o + t] : Number.NaN;
  }
  return { shape: logits.shape.slice(0, -1), data: out };
}

// ---- masked (weighted) cross-entropy and its backward ----------------------------------------------

function checkMasked(logits: { shape: readonly number[] }, targets: { shape: readonly number[] }, weights: { shape: readonly number[] }) {
  const d = check(logits, targets);
  const n = weights.shape.reduce((a, b) => a * b, 1);
  if (n !== d.rows) throw new Error(`crossEntropyMasked: ${n} weights for ${d.rows} rows of logits`);
  return d;
}

/** Per-row weighted losses: loss[n] = weights[n] · (logsumexp(logits[n]) − logits[n, targets[n]]).
 *  Rows with weight 0 or a target outside the vocabulary (padding) give 0. With weights =
 *  mask / count, the sum of the result is the masked mean. */
export function crossEntropyMasked(logits: Tensor, targets: Tensor, weights: Tensor): Tensor {
  if (targets.dtype !== 'u32') throw new Error('crossEntropyMasked: targets must be a u32 tensor');
  const { rows, vocab } = checkMasked(logits, targets, weights);
  const out = logits.ctx.empty(logits.shape.slice(0, -1));
  logits.ctx.dispatch({
    shader: 'softmax_xent',
    entry: 'masked',
    bindings: [logits, targets, out, undefined, weights],
    uniforms: packUniforms([rows, vocab, f32(1)]),
    uniformBinding: 5,
    workgroups: grid1d(rows),
  });
  return out;
}

/** ∂(dloss · Σ_n loss[n])/∂logits = (softmax(logits[n]) − onehot(targets[n])) · weights[n] · dloss;
 *  0 for rows with weight 0 or an out-of-vocabulary target. */
export function crossEntropyMaskedBackward(logits: Tensor, targets: Tensor, weights: Tensor, dloss = 1): Tensor {
  if (targets.dtype !== 'u32') throw new Error('crossEntropyMaskedBackward: targets must be a u32 tensor');
  const { rows, vocab } = checkMasked(logits, targets, weights);
  const out = logits.ctx.empty(logits.shape);
  logits.ctx.dispatch({
    shader: 'softmax_xent',
    entry: 'masked_backward',
    bindings: [logits, targets, undefined, undefined, weights, undefined, out],
    uniforms: packUniforms([rows, vocab, f32(dloss)]),
    uniformBinding: 5,
    workgroups: grid1d(rows),
  });
  return out;
}

function logSumExpRow(data: ArrayLike<number>, o: number, vocab: number): number {
  let max = -Infinity;
  for (let i = 0; i < vocab; i++) max = Math.max(max, data[o + i]);
  let sum = 0;
  for (let i = 0; i < vocab; i++) sum += Math.exp(data[o + i] - max);
  return Math.log(sum) + max;
}

export function crossEntropyMaskedCpu(logits: HostTensor, targets: HostTensor, weights: HostTensor): HostTensor {
  const { rows, vocab } = checkMasked(logits, targets, weights);
  const out = like(logits.data, rows);
  for (let r = 0; r < rows; r++) {
    const t = targets.data[r];
    const w = weights.data[r];
    if (w === 0 || t >= vocab) continue;
    out[r] = w * (logSumExpRow(logits.data, r * vocab, vocab) - logits.data[r * vocab + t]);
  }
  return { shape: logits.shape.slice(0, -1), data: out };
}

export function crossEntropyMaskedBackwardCpu(logits: HostTensor, targets: HostTensor, weights: HostTensor, dloss = 1): HostTensor {
  const { rows, vocab } = checkMasked(logits, targets, weights);
  const out = like(logits.data, logits.data.length);
  const dl = logits.data instanceof Float64Array ? dloss : Math.fround(dloss);
  for (let r = 0; r < rows; r++) {
    const o = r * vocab;
    const t = targets.data[r];
    const g = weights.data[r] * dl;
    if (g === 0 || t >= vocab) continue;
    const lse = logSumExpRow(logits.data, o, vocab);
    for (let i = 0; i < vocab; i++) out[o + i] = (Math.exp(logits.data[o + i] - lse) - (i === t ? 1 : 0)) * g;
  }
  return { shape: [...logits.shape], data: out };
}
