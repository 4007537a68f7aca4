// The dedicated Worker that hosts the Engine; the UI reaches it only through comlink.
import * as Comlink from 'comlink';
import { Engine } from '../engine/engine.ts';
import { createBrowserContext } from '../gpu/browser.ts';
import { browserUdhrSource } from '../data/source.browser.ts';
import { indexedDbModelStore } from '../store/models.ts';

const engine = new Engine({
  acquireGpu: createBrowserContext,
  runtime: `browser worker (${navigator.userAgent})`,
  udhr: browserUdhrSource,
  async builtinTokenizer() {
    const url = `${import.meta.env.BASE_URL}tokenizers/universal-23/tokenizer.json`;
    const res = await fetch(url);
    if (!res.ok) throw new Error(`cannot load the built-in tokenizer (${url}: HTTP ${res.status})`);
    return res.json();
  },
  models: indexedDbModelStore,
});

/** What the UI may call. Functions passed in must be wrapped with Comlink.proxy. */
export const workerApi = {
  info: () => engine.info(),
  restart: () => engine.restart(),
  cancel: (jobId: string) => engine.cancel(jobId),
  checkOps: (jobId: string, seed: number, onRow?: Parameters<Engine['checkOps']>[2]) => engine.checkOps(jobId, seed, onRow),
  bench: (jobId: string, opts: Parameters<Engine['bench']>[1], onProgress?: Parameters<Engine['bench']>[2]) =>
    engine.bench(jobId, opts, onProgress),
  onDeviceLost: (listener: Parameters<Engine['onDeviceLost']>[0]) => engine.onDeviceLost(listener),
  simulateDeviceLoss: () => engine.simulateDeviceLoss(),
};

export type WorkerApi = typeof workerApi;

Comlink.expose(workerApi);
