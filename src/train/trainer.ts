// One optimiser step at a time over any ops backend: loss and gradients, global grad-norm clipping
// (the clip factor stays on the device), AdamW with warmup + cosine learning rate. A step whose
// loss or gradient norm is not finite is refused before the weights change, so the model stays at
// the last good step.
import { type ModelConfig, parameterShapes } from '../model/config.ts';
import { type LossBatch, type TrainOps, lossAndGrads } from '../model/backprop.ts';
import type { RopeTable } from '../ops/rope.ts';
import type { HostWeights } from '../model/init.ts';
import { cosineSchedule } from '../ops/schedule.ts';

export interface OptimizerOptions {
  lr: number;
  warmup: number;
  totalSteps: number;
  minLr: number;
  weightDecay: number;
  maxGradNorm: number;
  beta1: number;
  beta2: number;
  eps: number;
}

export const DEFAULT_OPTIMIZER: Omit<OptimizerOptions, 'totalSteps'> = {
  lr: 3e-3,
  warmup: 10,
  minLr: 3e-4,
  weightDecay: 0.01,
  maxGradNorm: 1,
  beta1: 0.9,
  beta2: 0.95,
  eps: 1e-8,
};

export interface StepResult {
  step: number;
  loss: number;
  gradNorm: number;
  lr: number;
  /** Per-row weighted token losses (for per-language telemetry), length batch · T. */
  tokenLosses: ArrayLike<number>;
}

export class NonFiniteError extends Error {
  constructor(
    readonly step: number,
    readonly loss: number,
    readonly gradNorm: number,
  ) {
    super(`step ${step}: the ${Number.isFinite(loss) ? 'gradient norm' : 'loss'} is ${Number.isFinite(loss) ? gradNorm : loss}; training stopped and the weights were kept as they were after step ${step - 1}`);
    this.name = 'NonFiniteError';
  }
}

/** Weights decay except norms (the usual choice: decaying a LayerNorm gain pulls it to zero). */
export function decays(name: string): boolean {
  return !name.endsWith('norm.weight');
}

export class Trainer<T> {
  /** Steps taken (the next step is step + 1). */
  step = 0;
  private readonly m = new Map<string, T>();
  private readonly v = new Map<string, T>();

  constructor(
    private readonly ops: TrainOps<T>,
    readonly config: ModelConfig,
    readonly weights: Map<string, T>,
    private readonly table: RopeTable<T>,
    readonly opt: OptimizerOptions,
  ) {
    for (const [name, w] of weights) {
      this.m.set(name, ops.zerosLike(w));
      this.v.set(name, ops.zerosLike(w));
    }
  }

  async trainStep(batch: LossBatch): Promise<StepResult> {
    const ops = this.ops;
    const r = lossAndGrads(ops, this.config, this.weights, this.table, batch);
    // Everything is recorded before the first read, so one submission carries the whole step.
    const sumsq = this.sumOfSquares(r.grads);
    const [loss] = Array.from(await ops.values(r.loss));
    const tokenLosses = Array.from(await ops.values(r.tokenLosses));
    ops.release(r.loss);
    ops.release(r.tokenLosses);
    return { ...(await this.update(r.grads, sumsq, loss)), loss, tokenLosses };
  }

  /** One optimiser step with gradients computed elsewhere (DPO's backward of its own forward);
   *  takes ownership of `grads`. `loss` only has to be finite for the step to be taken. */
  applyGradients(grads: Map<string, T>, loss: number): Promise<{ step: number; gradNorm: number; lr: number }> {
    return this.update(grads, this.sumOfSquares(grads), loss);
  }

  private sumOfSquares(grads: Map<string, T>): T {
    return this.ops.sumOfSquares(...grads.values());
  }

  private async update(grads: Map<string, T>, sumsq: T, loss: number): Promise<{ step: number; gradNorm: number; lr: number }> {
    const ops = this.ops;
    const stepNo = this.step + 1;
    const [ss] = Array.from(await ops.values(sumsq));
    const gradNorm = Math.sqrt(ss);
    if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
      for (const g of grads.values()) ops.release(g);
      ops.release(sumsq);
      throw new NonFiniteError(stepNo, loss, gradNorm);
    }
    const lr = cosineSchedule(stepNo, { lr: this.opt.lr, warmup: this.opt.warmup, total: this.opt.totalSteps, minLr: this.opt.minLr });
    const gscale = ops.clipFactor(sumsq, this.opt.maxGradNorm);
    for (const [name, g] of grads) {
      ops.adamw(this.weights.get(name)!, g, this.m.get(name)!, this.v.get(name)!, {
        lr,
        step: stepNo,
        beta1: this.opt.beta1,
        beta2: this.opt.beta2,
        eps: this.opt.eps,
        weightDecay: decays(name) ? this.opt.weightDecay : 0,
        gscale,
      });
      ops.release(g);
    }
    ops.release(gscale);
    ops.release(sumsq);
    this.step = stepNo;
    return { step: stepNo, gradNorm, lr };
  }

  /** AdamW's moments (host copies): with `step`, what a resumed run needs besides the weights. */
  async moments(): Promise<{ m: HostWeights; v: HostWeights }> {
    const shapes = new Map(parameterShapes(this.config).map((p) => [p.name, p.shape]));
    const read = async (src: Map<string, T>) => {
      const out: HostWeights = new Map();
      for (const [name, t] of src) out.set(name, { shape: shapes.get(name)!, data: Float32Array.from(await this.ops.values(t)) });
      return out;
    };
    return { m: await read(this.m), v: await read(this.v) };
  }

  /** Continues after `step` with the moments of a saved run (shapes must match the weights). */
  restore(step: number, m: HostWeights, v: HostWeights): void {
    if (!Number.isInteger(step) || step < 0) throw new Error(`resume: step must be an integer ≥ 0, got ${step}`);
    const shapes = new Map(parameterShapes(this.config).map((p) => [p.name, p.shape]));
    for (const [which, src, dst] of [['exp_avg', m, this.m], ['exp_avg_sq', v, this.v]] as const) {
      for (const name of dst.keys()) {
        const t = src.get(name);
        const want = shapes.get(name)!;
        if (!t || t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i]) || t.data.length !== want.reduce((a, b) => a * b, 1)) {
          throw new Error(`resume: the optimizer state has no ${which} for '${name}' of shape [${want.join(', ')}]`);
        }
      }
    }
    for (const [src, dst] of [[m, this.m], [v, this.v]] as const) {
      for (const [name, old] of dst) {
        this.ops.release(old);
        dst.set(name, this.ops.floats(src.get(name)!.data as unknown as number[], shapes.get(name)!));
      }
    }
    this.step = step;
  }

  /** Σ weights · loss for a batch, without gradients. */
  async evalLoss(batch: LossBatch): Promise<{ loss: number; tokenLosses: ArrayLike<number> }> {
    const r = lossAndGrads(this.ops, this.config, this.weights, this.table, batch, { grads: false });
    const [loss] = Array.from(await this.ops.values(r.loss));
    const tokenLosses = Array.from(await this.ops.values(r.tokenLosses));
    this.ops.release(r.loss);
    this.ops.release(r.tokenLosses);
    return { loss, tokenLosses };
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) this.ops.release(t);
  }
}
