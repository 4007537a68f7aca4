// The engine's GPU device: acquired on first use, again after a loss or a restart; a loss that we
// did not cause ourselves (restart, dispose) is reported to listeners.
import type { DeviceLoss, GpuContext } from '../gpu/context.ts';

export class DeviceManager {
  private ctx: Promise<GpuContext> | null = null;
  private readonly lostListeners = new Set<(loss: DeviceLoss) => void>();
  /** Called with every context that went away (loaded models on it must be dropped). */
  onContextGone: (c: GpuContext) => void = () => {};

  constructor(private readonly acquire: () => Promise<GpuContext>) {}

  /** The GPU context, created on first use and again after a loss or restart. */
  context(): Promise<GpuContext> {
    if (!this.ctx) {
      const pending = this.acquire();
      this.ctx = pending;
      pending.then(
        (c) => {
          void c.lost.then((loss) => {
            if (this.ctx === pending) this.ctx = null;
            this.onContextGone(c);
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

  /** A device is up (or coming up) and has not been lost. */
  live(): boolean {
    return this.ctx !== null;
  }

  onDeviceLost(listener: (loss: DeviceLoss) => void): () => void {
    this.lostListeners.add(listener);
    return () => this.lostListeners.delete(listener);
  }

  /** Drops the current device (if any); the next context() acquires a new one. */
  async restart(): Promise<void> {
    const old = this.ctx;
    this.ctx = null;
    if (old) {
      try {
        // Its `lost` promise settles on destroy, which forgets the models on it (context()).
        (await old).destroy();
      } catch {
        // The old device never came up or is already gone: nothing to release.
      }
    }
  }

  async simulateLoss(): Promise<void> {
    (await this.context()).device.destroy();
  }

  dispose(): void {
    void this.ctx?.then((c) => c.destroy(), () => undefined);
    this.ctx = null;
  }
}
