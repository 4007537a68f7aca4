// Every WGSL source, by name. Vite (app, vitest) and the CLI's loader (scripts/raw-loader.mjs)
// both resolve `?raw` to the file's text, so the same kernels run in the browser and in Node.
import common from '../../shaders/common.wgsl?raw';
import elementwise from '../../shaders/elementwise.wgsl?raw';
import matmul from '../../shaders/matmul.wgsl?raw';
import layernorm from '../../shaders/layernorm.wgsl?raw';
import rope from '../../shaders/rope.wgsl?raw';
import attention from '../../shaders/attention.wgsl?raw';
import softmax from '../../shaders/softmax.wgsl?raw';
import embedding from '../../shaders/embedding.wgsl?raw';
import xent from '../../shaders/softmax_xent.wgsl?raw';
import reduce from '../../shaders/reduce.wgsl?raw';
import peak from '../../shaders/peak.wgsl?raw';
import random from '../../shaders/random.wgsl?raw';

const sources = {
  elementwise,
  matmul,
  layernorm,
  rope,
  attention,
  softmax,
  embedding,
  softmax_xent: xent,
  reduce,
  peak,
  random,
} as const;

export type ShaderName = keyof typeof sources;

/** The module's source with the shared helpers (`common.wgsl`) prepended. */
export function shaderSource(name: ShaderName): string {
  return `${common}\n${sources[name]}`;
}
