// Cross-entropy forward, per row: loss[n] = logsumexp(logits[n]) − logits[n, target[n]].
// Kernel: shaders/softmax_xent.wgsl.
import { grid1d, type Tensor } from '../gpu/context.ts';
import type { HostTensor } from '../gpu/host.ts';
import { packUniforms } from './uniforms.ts';
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
  const out = new Float32Array(rows);
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
