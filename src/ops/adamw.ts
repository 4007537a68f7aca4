// AdamW (decoupled weight decay), in place on the parameter and its two moment buffers.
// Kernel: shaders/adamw.wgsl. Bias corrections are computed here in float64 and passed as uniforms.
import { grid1d, type GpuContext, type Tensor } from '../gpu/context.ts';
import type { HostTensor } from '../gpu/host.ts';
import { f32, packUniforms } from './uniforms.ts';

export interface AdamwOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** 1-based step number t (bias corrections 1 − β^t). */
  step: number;
  /** Gradient scale (the clipping factor): a number, or a [1] tensor computed on the GPU
   *  (clipFactor in reduce.ts), so no readback is needed. Default 1. */
  gscale?: number | Tensor;
}

export interface AdamwOptionsCpu extends Omit<AdamwOptions, 'gscale'> {
  gscale?: number | HostTensor;
}

export const ADAMW_DEFAULTS = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 } as const;

function resolve(opts: AdamwOptions | AdamwOptionsCpu) {
  const beta1 = opts.beta1 ?? ADAMW_DEFAULTS.beta1;
  const beta2 = opts.beta2 ?? ADAMW_DEFAULTS.beta2;
  if (!Number.isInteger(opts.step) || opts.step < 1) throw new Error(`adamw: step must be an integer ≥ 1, got ${opts.step}`);
  return {
    lr: opts.lr,
    beta1,
    beta2,
    eps: opts.eps ?? ADAMW_DEFAULTS.eps,
    wd: opts.weightDecay ?? ADAMW_DEFAULTS.weightDecay,
    bc1: 1 - Math.pow(beta1, opts.step),
    bc2: 1 - Math.pow(beta2, opts.step),
  };
}

function sameSizes(p: { shape: readonly number[] }, ...others: Array<{ shape: readonly number[] }>): number {
  const n = p.shape.reduce((a, b) => a * b, 1);
  for (const o of others) {
    if (o.shape.reduce((a, b) => a * b, 1) !== n) throw new Error(`adamw: shapes differ: [${p.shape}] vs [${o.shape}]`);
  }
  return n;
}

const ones = new WeakMap<GpuContext, Tensor>();

function one(ctx: GpuContext): Tensor {
  let t = ones.get(ctx);
  if (!t) {
    t = ctx.upload({ shape: [1], data: new Float32Array([1]) }, 'adamw.one');
    ones.set(ctx, t);
  }
  return t;
}

/** One AdamW step, in place on param, m and v (all f32, same element count as grad). */
export function adamw(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, opts: AdamwOptions): void {
  const n = sameSizes(param, grad, m, v);
  const o = resolve(opts);
  const ctx = param.ctx;
  const scaleT = typeof opts.gscale === 'object' ? opts.gscale : one(ctx);
  const scaleN = typeof opts.gscale === 'number' ? opts.gscale : 1;
  ctx.dispatch({
    shader: 'adamw',
    entry: 'step',
    bindings: [param, grad, m, v, scaleT],
    uniforms: packUniforms([n, f32(o.lr), f32(o.beta1), f32(o.beta2), f32(o.eps), f32(o.wd), f32(o.bc1), f32(o.bc2), f32(scaleN)]),
    workgroups: grid1d(Math.ceil(n / 256)),
  });
}

/** The same step on host tensors, in place; scalars are rounded to f32 as the kernel's uniforms are. */
export function adamwCpu(param: HostTensor, grad: HostTensor, m: HostTensor, v: HostTensor, opts: AdamwOptionsCpu): void {
  const n = sameSizes(param, grad, m, v);
  const o = resolve(opts);
  const F = Math.fround;
  const [lr, b1, b2, eps, wd, bc1, bc2] = [o.lr, o.beta1, o.beta2, o.eps, o.wd, o.bc1, o.bc2].map(F);
  const gs = F(typeof opts.gscale === 'number' ? opts.gscale : 1) * (typeof opts.gscale === 'object' ? opts.gscale.data[0] : 1);
  for (let i = 0; i < n; i++) {
    const g = grad.data[i] * gs;
    const mi = b1 * m.data[i] + (1 - b1) * g;
    const vi = b2 * v.data[i] + (1 - b2) * g * g;
    m.data[i] = mi;
    v.data[i] = vi;
    const w = param.data[i];
    param.data[i] = w - lr * (mi / bc1 / (Math.sqrt(vi / bc2) + eps) + wd * w);
  }
}
