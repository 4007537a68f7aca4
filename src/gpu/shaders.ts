// Every WGSL source, by name. Vite (app, vitest) and the CLI's loader (scripts/raw-loader.mjs)
// both resolve `?raw` to the file's text, so the same kernels run in the browser and in Node.
import common from '../../shaders/common.wgsl?raw';
import elementwise from '../../shaders/elementwise.wgsl?raw';
import matmul from '../../shaders/matmul.wgsl?raw';
import matmulGemv from '../../shaders/matmul_gemv.wgsl?raw';
import layernorm from '../../shaders/layernorm.wgsl?raw';
import rope from '../../shaders/rope.wgsl?raw';
import ropeQkv from '../../shaders/rope_qkv.wgsl?raw';
import attention from '../../shaders/attention.wgsl?raw';
import attentionBackward from '../../shaders/attention_backward.wgsl?raw';
import adamw from '../../shaders/adamw.wgsl?raw';
import softmax from '../../shaders/softmax.wgsl?raw';
import embedding from '../../shaders/embedding.wgsl?raw';
import xent from '../../shaders/softmax_xent.wgsl?raw';
import reduce from '../../shaders/reduce.wgsl?raw';
import random from '../../shaders/random.wgsl?raw';
import dpo from '../../shaders/dpo.wgsl?raw';
import topk from '../../shaders/topk.wgsl?raw';

const sources = {
  elementwise,
  matmul,
  matmul_gemv: matmulGemv,
  layernorm,
  rope,
  rope_qkv: ropeQkv,
  attention,
  attention_backward: attentionBackward,
  adamw,
  softmax,
  embedding,
  softmax_xent: xent,
  reduce,
  random,
  dpo,
  topk,
} as const;

export type StaticShaderName = keyof typeof sources;
/** A static shader, or a generated one registered with registerShader. */
export type ShaderName = StaticShaderName | (string & {});

const generated = new Map<string, () => string>();

/** Registers a generated module (e.g. unrolled matmul variants); `make` runs once, on first use. */
export function registerShader(name: string, make: () => string): void {
  if (name in sources) throw new Error(`shader name ${name} is taken by shaders/${name}.wgsl`);
  generated.set(name, make);
}

const cache = new Map<string, string>();

/** The module's source: static files get the shared helpers (`common.wgsl`) prepended; generated
 *  modules are complete as they are (they may start with `enable` directives). */
export function shaderSource(name: ShaderName): string {
  let src = cache.get(name);
  if (src) return src;
  if (name in sources) src = `${common}\n${sources[name as StaticShaderName]}`;
  else {
    const make = generated.get(name);
    if (!make) throw new Error(`unknown shader ${name}`);
    src = make();
  }
  cache.set(name, src);
  return src;
}
