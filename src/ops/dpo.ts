// DPO-family losses on sequence log-probabilities (DESIGN §9; TRL's `sigmoid`, `hinge`, `ipo`).
// Kernel: shaders/dpo.wgsl. Input [pairs, 6] = (π_chosen, π_rejected, ref_chosen, ref_rejected,
// |chosen|, |rejected|) — sums of log-probs over completion tokens and their counts; output
// [pairs, 3] = (loss, ∂loss/∂π_chosen, ∂loss/∂π_rejected). No gradient reaches the reference.
import { grid1d, type Tensor } from '../gpu/context.ts';
import { type HostTensor, like } from '../gpu/host.ts';
import { f32, packUniforms } from './uniforms.ts';

export const DPO_LOSSES = ['sigmoid', 'hinge', 'ipo'] as const;
export type DpoLossType = (typeof DPO_LOSSES)[number];

const CODE: Record<DpoLossType, number> = { sigmoid: 0, hinge: 1, ipo: 2 };

function checkInput(x: { shape: readonly number[] }, beta: number, type: string): number {
  if (x.shape.length !== 2 || x.shape[1] !== 6) throw new Error(`dpoLoss: input must be [pairs, 6], got [${x.shape.join(', ')}]`);
  if (!(beta > 0) || !Number.isFinite(beta)) throw new Error(`dpoLoss: β must be a positive number, got ${beta}`);
  if (!(DPO_LOSSES as readonly string[]).includes(type)) throw new Error(`dpoLoss: unknown loss '${type}' (expected ${DPO_LOSSES.join(', ')})`);
  return x.shape[0];
}

export function dpoLoss(x: Tensor, type: DpoLossType, beta: number): Tensor {
  const pairs = checkInput(x, beta, type);
  const out = x.ctx.empty([pairs, 3]);
  x.ctx.dispatch({ shader: 'dpo', entry: 'pair_loss', bindings: [x, out], uniforms: packUniforms([pairs, CODE[type], f32(beta)]), workgroups: grid1d(Math.ceil(pairs / 64)) });
  return out;
}

const logSigmoid = (z: number) => Math.min(z, 0) - Math.log1p(Math.exp(-Math.abs(z)));
const sigmoidNeg = (z: number) => (z >= 0 ? Math.exp(-z) / (1 + Math.exp(-z)) : 1 / (1 + Math.exp(z)));

/** One pair's loss and its derivatives with respect to the policy's two sequence log-probs. */
export function dpoPairLoss(type: DpoLossType, beta: number, pc: number, pr: number, rc: number, rr: number, lc = 1, lr = 1): [number, number, number] {
  if (type === 'ipo') {
    const a = Math.max(lc, 1);
    const b = Math.max(lr, 1);
    const d = (pc - rc) / a - (pr - rr) / b - 0.5 / beta;
    return [d * d, (2 * d) / a, (-2 * d) / b];
  }
  const z = beta * (pc - rc - (pr - rr));
  const [loss, dz] = type === 'hinge' ? [Math.max(0, 1 - z), 1 - z > 0 ? -1 : 0] : [-logSigmoid(z), -sigmoidNeg(z)];
  return [loss, beta * dz, -beta * dz];
}

export function dpoLossCpu(x: HostTensor, type: DpoLossType, beta: number): HostTensor {
  const pairs = checkInput(x, beta, type);
  const out = like(x.data, pairs * 3);
  for (let i = 0; i < pairs; i++) {
    const r = x.data.subarray(i * 6, i * 6 + 6);
    const [l, dc, dr] = dpoPairLoss(type, beta, r[0], r[1], r[2], r[3], r[4], r[5]);
    out[i * 3] = l;
    out[i * 3 + 1] = dc;
    out[i * 3 + 2] = dr;
  }
  return { shape: [pairs, 3], data: out };
}
