// Elementwise ops: add, mul, scale, swiglu. GPU kernels in shaders/elementwise.wgsl.
import { grid1d, type Tensor } from '../gpu/context.ts';
import type { HostTensor } from '../gpu/host.ts';
import { f32, packUniforms } from './uniforms.ts';

function sameShape(op: string, a: { shape: readonly number[] }, b: { shape: readonly number[] }): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new Error(`${op}: shapes differ: [${a.shape}] vs [${b.shape}]`);
  }
}

function binary(entry: 'add' | 'mul' | 'swiglu', a: Tensor, b: Tensor): Tensor {
  sameShape(entry, a, b);
  const out = a.ctx.empty(a.shape);
  a.ctx.dispatch({
    shader: 'elementwise',
    entry,
    bindings: [a, b, out],
    uniforms: packUniforms([a.size, f32(0)]),
    workgroups: grid1d(Math.ceil(a.size / 256)),
  });
  return out;
}

export const add = (a: Tensor, b: Tensor): Tensor => binary('add', a, b);
export const mul = (a: Tensor, b: Tensor): Tensor => binary('mul', a, b);
/** silu(gate) ⊙ up — the SwiGLU MLP's gating. */
export const swiglu = (gate: Tensor, up: Tensor): Tensor => binary('swiglu', gate, up);

export function scale(a: Tensor, s: number): Tensor {
  const out = a.ctx.empty(a.shape);
  a.ctx.dispatch({
    shader: 'elementwise',
    entry: 'scale',
    bindings: [a, undefined, out],
    uniforms: packUniforms([a.size, f32(s)]),
    workgroups: grid1d(Math.ceil(a.size / 256)),
  });
  return out;
}

// ---- CPU references ------------------------------------------------------------------------------

function mapCpu(a: HostTensor, b: HostTensor | null, f: (x: number, y: number) => number): HostTensor {
  if (b) sameShape('elementwise', a, b);
  const out = new Float32Array(a.data.length);
  for (let i = 0; i < out.length; i++) out[i] = f(a.data[i], b ? b.data[i] : 0);
  return { shape: [...a.shape], data: out };
}

export const addCpu = (a: HostTensor, b: HostTensor): HostTensor => mapCpu(a, b, (x, y) => x + y);
export const mulCpu = (a: HostTensor, b: HostTensor): HostTensor => mapCpu(a, b, (x, y) => x * y);
export const swigluCpu = (gate: HostTensor, up: HostTensor): HostTensor =>
  mapCpu(gate, up, (g, u) => (g / (1 + Math.exp(-g))) * u);
export const scaleCpu = (a: HostTensor, s: number): HostTensor => mapCpu(a, null, (x) => x * Math.fround(s));
