// The UI's handle on the Engine Worker: starts it, tracks its state for every panel, and recovers
// from a lost device or a dead worker without reloading the page.
import * as Comlink from 'comlink';
import type { EngineInfo } from '../engine/engine.ts';
import type { DeviceLoss } from '../gpu/context.ts';
import type { WorkerApi } from '../worker/engine.worker.ts';

export type EngineStatus = 'starting' | 'ready' | 'lost' | 'error';

class EngineClient {
  status = $state<EngineStatus>('starting');
  info = $state<EngineInfo | null>(null);
  error = $state<string | null>(null);
  lost = $state<DeviceLoss | null>(null);

  private worker: Worker | null = null;
  api: Comlink.Remote<WorkerApi> | null = null;

  async start(): Promise<void> {
    this.status = 'starting';
    this.error = null;
    this.lost = null;
    this.worker?.terminate();
    this.worker = new Worker(new URL('../worker/engine.worker.ts', import.meta.url), { type: 'module', name: 'engine' });
    this.worker.addEventListener('error', (ev) => {
      this.status = 'error';
      this.error = `The engine worker crashed: ${ev.message || 'unknown error'}`;
    });
    this.api = Comlink.wrap<WorkerApi>(this.worker);
    try {
      await this.api.onDeviceLost(
        Comlink.proxy((loss: DeviceLoss) => {
          this.lost = loss;
          this.status = 'lost';
        }),
      );
      this.info = await this.api.info();
      this.status = 'ready';
    } catch (e) {
      this.status = 'error';
      this.error = (e as Error).message;
    }
  }

  /** A new device in the same worker; if that fails, a new worker. */
  async restart(): Promise<void> {
    this.status = 'starting';
    try {
      if (!this.api) throw new Error('no worker');
      this.info = await this.api.restart();
      this.lost = null;
      this.error = null;
      this.status = 'ready';
    } catch {
      await this.start();
    }
  }

  /** The worker API, or an error that says why the engine is not usable now. */
  ready(): Comlink.Remote<WorkerApi> {
    if (!this.api || this.status === 'starting') throw new Error('The engine is still starting.');
    if (this.status === 'lost') throw new Error('The GPU device was lost. Restart the engine first.');
    if (this.status === 'error') throw new Error(this.error ?? 'The engine failed to start.');
    return this.api;
  }
}

export const engine = new EngineClient();

let jobCounter = 0;
export function newJobId(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${++jobCounter}`;
}
