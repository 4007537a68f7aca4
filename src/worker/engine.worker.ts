// The dedicated Worker that hosts the Engine; the UI reaches it only through comlink.
import * as Comlink from 'comlink';
import { Engine } from '../engine/engine.ts';
import { createBrowserContext } from '../gpu/browser.ts';
import { browserUdhrSource } from '../data/source.browser.ts';
import { indexedDbModelStore } from '../store/models.ts';
import { builtinModelStore, combinedStore } from '../store/builtinModels.ts';

const builtin = builtinModelStore(import.meta.env.BASE_URL);

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
  models: combinedStore(builtin, indexedDbModelStore),
});

type P<K extends keyof Engine> = Engine[K] extends (...args: infer A) => unknown ? A : never;

/** What the UI may call. Callbacks passed in must be wrapped with Comlink.proxy; model files
 *  (Map<string, Uint8Array>) cross as structured clones. */
export const workerApi = {
  info: () => engine.info(),
  restart: () => engine.restart(),
  cancel: (jobId: string) => engine.cancel(jobId),
  onDeviceLost: (...a: P<'onDeviceLost'>) => engine.onDeviceLost(...a),
  simulateDeviceLoss: () => engine.simulateDeviceLoss(),
  checkOps: (...a: P<'checkOps'>) => engine.checkOps(...a),
  bench: (...a: P<'bench'>) => engine.bench(...a),
  // models
  listModels: () => engine.listModels(),
  createModel: (...a: P<'createModel'>) => engine.createModel(...a),
  importModel: (...a: P<'importModel'>) => engine.importModel(...a),
  exportModel: (...a: P<'exportModel'>) => engine.exportModel(...a),
  deleteModel: (...a: P<'deleteModel'>) => engine.deleteModel(...a),
  // text
  prompts: (...a: P<'prompts'>) => engine.prompts(...a),
  tokenize: (...a: P<'tokenize'>) => engine.tokenize(...a),
  sample: (...a: P<'sample'>) => engine.sample(...a),
  logprobs: (...a: P<'logprobs'>) => engine.logprobs(...a),
  zooManifest: () => builtin.manifest(),
  heldOutLoss: (...a: P<'heldOutLoss'>) => engine.heldOutLoss(...a),
  // training
  train: (...a: P<'train'>) => engine.train(...a),
  pause: (jobId: string) => engine.pause(jobId),
  resume: (jobId: string) => engine.resume(jobId),
  // arbiter, arbitrage, evaluation
  score: (...a: P<'score'>) => engine.score(...a),
  promptSet: (...a: P<'promptSet'>) => engine.promptSet(...a),
  arbitrage: (...a: P<'arbitrage'>) => engine.arbitrage(...a),
  evaluate: (...a: P<'evaluate'>) => engine.evaluate(...a),
  arbitrageExperiment: (...a: P<'arbitrageExperiment'>) => engine.arbitrageExperiment(...a),
  // preference training
  dpo: (...a: P<'dpo'>) => engine.dpo(...a),
  // merging
  merge: (...a: P<'merge'>) => engine.merge(...a),
  mergeInspect: (...a: P<'mergeInspect'>) => engine.mergeInspect(...a),
  mergeSearch: (...a: P<'mergeSearch'>) => engine.mergeSearch(...a),
};

export type WorkerApi = typeof workerApi;

Comlink.expose(workerApi);
