// The Engine: one implementation of everything the app and the CLI can ask for, independent of
// where it runs (a browser Worker, Node). Long operations are jobs with progress and cancel.
import type { AdapterSummary, DeviceLoss, GpuContext } from '../gpu/context.ts';
import { runOpChecks, type OpCheckResult } from '../ops/checks.ts';
import { runBench, type BenchOptions, type BenchProgress, type BenchReport } from '../bench/bench.ts';
import { MATMUL_VARIANTS, DEFAULT_VARIANT } from '../ops/matmul.ts';
import pkg from '../../package.json';

export interface EngineInfo {
  adapter: AdapterSummary;
  versions: { app: string; runtime: string };
  matmul: { variants: string[]; default: string };
  deviceLost: DeviceLoss | null;
}

export interface CheckSummary {
  results: OpCheckResult[];
  passed: number;
  failed: number;
  cancelled: boolean;
  seed: number;
}

export class JobCancelled extends Error {
  constructor(jobId: string) {
    super(`job ${jobId} was cancelled`);
    this.name = 'JobCancelled';
  }
}

export class Engine {
  private ctx: Promise<GpuContext> | null = null;
  private readonly cancelled = new Set<string>();
  private lostListeners: Array<(loss: DeviceLoss) => void> = [];

  constructor(
    private readonly acquire: () => Promise<GpuContext>,
    private readonly runtimeVersion: string,
  ) {}

  /** The GPU context, created on first use and again after a loss or restart. */
  context(): Promise<GpuContext> {
    if (!this.ctx) {
      const pending = this.acquire();
      this.ctx = pending;
      pending.then(
        (c) => {
          void c.lost.then((loss) => {
            if (this.ctx === pending) this.ctx = null;
            // Our own destroy() (restart, dispose) is not news; any other loss is.
            if (!c.isDestroyed) for (const l of this.lostListeners) l(loss);
          });
        },
        () => {
          if (this.ctx === pending) this.ctx = null;
        },
      );
    }
    return this.ctx;
  }

  onDeviceLost(listener: (loss: DeviceLoss) => void): void {
    this.lostListeners.push(listener);
  }

  async info(): Promise<EngineInfo> {
    const c = await this.context();
    return {
      adapter: c.adapter,
      versions: { app: pkg.version, runtime: this.runtimeVersion },
      matmul: { variants: MATMUL_VARIANTS.map((v) => v.name), default: DEFAULT_VARIANT },
      deviceLost: c.lostInfo,
    };
  }

  /** Drops the current device (if any) and acquires a new one. */
  async restart(): Promise<EngineInfo> {
    const old = this.ctx;
    this.ctx = null;
    if (old) {
      try {
        (await old).destroy();
      } catch {
        // The old device never came up or is already gone: nothing to release.
      }
    }
    return this.info();
  }

  cancel(jobId: string): void {
    this.cancelled.add(jobId);
  }

  private stopper(jobId: string): () => boolean {
    this.cancelled.delete(jobId);
    return () => this.cancelled.has(jobId);
  }

  /** Runs every op against its CPU reference; rows stream to `onRow`. */
  async checkOps(
    jobId: string,
    seed: number,
    onRow?: (row: OpCheckResult, index: number, total: number) => void,
  ): Promise<CheckSummary> {
    const stop = this.stopper(jobId);
    const c = await this.context();
    const results = await runOpChecks(c, seed, onRow, stop);
    const passed = results.filter((r) => r.pass).length;
    return { results, passed, failed: results.length - passed, cancelled: stop(), seed };
  }

  async bench(jobId: string, opts: BenchOptions, onProgress?: (p: BenchProgress) => void): Promise<BenchReport> {
    const stop = this.stopper(jobId);
    const c = await this.context();
    const report = await runBench(c, opts, onProgress, stop);
    if (stop()) throw new JobCancelled(jobId);
    return report;
  }

  /** Loses the device on purpose (for testing the recovery path from the UI and tests). */
  async simulateDeviceLoss(): Promise<void> {
    const c = await this.context();
    c.device.destroy();
  }

  dispose(): void {
    void this.ctx?.then((c) => c.destroy(), () => undefined);
    this.ctx = null;
  }
}
