// Elementwise ops: add, mul, scale, swiglu, their backward, and in-place add/scale (gradient
// accumulation). GPU kernels in shaders/elementwise.wgsl.
import { grid1d, type Tensor } from '../gpu/context.ts';
import { type HostTensor, like } from '../gpu/host.ts';
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

/** (a + b) + c in one pass: the two residual adds of a decoder layer, rounded as two adds. */
export function add3(a: Tensor, b: Tensor, c: Tensor): Tensor {
  sameShape('add3', a, b);
  sameShape('add3', a, c);
  const out = a.ctx.empty(a.shape);
  a.ctx.dispatch({
    shader: 'elementwise',
    entry: 'add3',
    bindings: [a, b, out, undefined, undefined, c],
    uniforms: packUniforms([a.size, f32(0)]),
    uniformBinding: 3,
    workgroups: grid1d(Math.ceil(a.size / 256)),
  });
  return out;
}

/** silu(gate) ⊙ up where gateUp [..., 2·I] holds gate then up in each row (one fused matmul). */
export function swigluHalves(gateUp: Tensor): Tensor {
  const width = halvesWidth(gateUp.shape);
  const out = gateUp.ctx.empty([...gateUp.shape.slice(0, -1), width]);
  gateUp.ctx.dispatch({
    shader: 'elementwise',
    entry: 'swiglu_halves',
    bindings: [gateUp, undefined, out],
    uniforms: packUniforms([out.size, f32(0), width]),
    workgroups: grid1d(Math.ceil(out.size / 256)),
  });
  return out;
}

function halvesWidth(shape: readonly number[]): number {
  const last = shape[shape.length - 1];
  if (shape.length < 1 || last % 2 !== 0) throw new Error(`swigluHalves: the last axis must hold gate and up (even), got [${shape}]`);
  return last / 2;
}

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
  const out = like(a.data, a.data.length);
  for (let i = 0; i < out.length; i++) out[i] = f(a.data[i], b ? b.data[i] : 0);
  return { shape: [...a.shape], data: out };
}

export const addCpu = (a: HostTensor, b: HostTensor): HostTensor => mapCpu(a, b, (x, y) => x + y);
export const mulCpu = (a: HostTensor, b: HostTensor): HostTensor => mapCpu(a, b, (x, y) => x * y);
export const swigluCpu = (gate: HostTensor, up: HostTensor): HostTensor =>
  mapCpu(gate, up, (g, u) => (g / (1 + Math.exp(-g))) * u);
/** Two adds, each rounded to the data's precision, as on the GPU. */
export const add3Cpu = (a: HostTensor, b: HostTensor, c: HostTensor): HostTensor => addCpu(addCpu(a, b), c);

export function swigluHalvesCpu(gateUp: HostTensor): HostTensor {
  const width = halvesWidth(gateUp.shape);
  const rows = gateUp.data.length / (2 * width);
  const out = like(gateUp.data, rows * width);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < width; j++) {
      const g = gateUp.data[r * 2 * width + j];
      out[r * width + j] = (g / (1 + Math.exp(-g))) * gateUp.data[r * 2 * width + width + j];
    }
  }
  return { shape: [...gateUp.shape.slice(0, -1), width], data: out };
}

export const scaleCpu = (a: HostTensor, s: number): HostTensor => mapCpu(a, null, (x) => x * Math.fround(s));

// ---- backward ------------------------------------------------------------------------------------

/** y = a ⊙ b: da = dy ⊙ b, db = dy ⊙ a. */
export function mulBackward(dy: Tensor, a: Tensor, b: Tensor): { da: Tensor; db: Tensor } {
  sameShape('mulBackward', dy, a);
  return { da: mul(dy, b), db: mul(dy, a) };
}

/** y = a · s: da = dy · s. */
export const scaleBackward = (dy: Tensor, s: number): Tensor => scale(dy, s);

/** y = silu(gate) ⊙ up: dgate = dy ⊙ up ⊙ σ(gate)(1 + gate(1 − σ(gate))), dup = dy ⊙ silu(gate). */
export function swigluBackward(dy: Tensor, gate: Tensor, up: Tensor): { dgate: Tensor; dup: Tensor } {
  sameShape('swigluBackward', gate, up);
  sameShape('swigluBackward', dy, gate);
  const dgate = gate.ctx.empty(gate.shape);
  const dup = gate.ctx.empty(gate.shape);
  gate.ctx.dispatch({
    shader: 'elementwise',
    entry: 'swiglu_backward',
    bindings: [gate, up, dgate, undefined, dup, dy],
    uniforms: packUniforms([gate.size, f32(0)]),
    uniformBinding: 3,
    workgroups: grid1d(Math.ceil(gate.size / 256)),
  });
  return { dgate, dup };
}

/** dst += src (gradient accumulation). */
export function addInPlace(dst: Tensor, src: Tensor): void {
  sameShape('addInPlace', dst, src);
  dst.ctx.dispatch({
    shader: 'elementwise',
    entry: 'add_inplace',
    bindings: [src, undefined, dst],
    uniforms: packUniforms([dst.size, f32(0)]),
    workgroups: grid1d(Math.ceil(dst.size / 256)),
  });
}

/** x *= s (e.g. gradient clipping or averaging over micro-batches). */
export function scaleInPlace(x: Tensor, s: number): void {
  x.ctx.dispatch({
    shader: 'elementwise',
    entry: 'scale_inplace',
    bindings: [undefined, undefined, x],
    uniforms: packUniforms([x.size, f32(s)]),
    workgroups: grid1d(Math.ceil(x.size / 256)),
  });
}

export function mulBackwardCpu(dy: HostTensor, a: HostTensor, b: HostTensor): { da: HostTensor; db: HostTensor } {
  sameShape('mulBackward', dy, a);
  return { da: mulCpu(dy, b), db: mulCpu(dy, a) };
}

export const scaleBackwardCpu = (dy: HostTensor, s: number): HostTensor => scaleCpu(dy, s);

export function swigluBackwardCpu(dy: HostTensor, gate: HostTensor, up: HostTensor): { dgate: HostTensor; dup: HostTensor } {
  sameShape('swigluBackward', gate, up);
  sameShape('swigluBackward', dy, gate);
  const n = gate.data.length;
  const dgate = like(gate.data, n);
  const dup = like(gate.data, n);
  for (let i = 0; i < n; i++) {
    const g = gate.data[i];
    const s = 1 / (1 + Math.exp(-g));
    dgate[i] = dy.data[i] * up.data[i] * s * (1 + g * (1 - s));
    dup[i] = dy.data[i] * g * s;
  }
  return { dgate: { shape: [...gate.shape], data: dgate }, dup: { shape: [...gate.shape], data: dup } };
}

/** In place, like addInPlace. */
export function addInPlaceCpu(dst: HostTensor, src: HostTensor): void {
  sameShape('addInPlace', dst, src);
  for (let i = 0; i < dst.data.length; i++) dst.data[i] += src.data[i];
}

/** In place, like scaleInPlace (the factor is rounded to f32, as the kernel's uniform is). */
export function scaleInPlaceCpu(x: HostTensor, s: number): void {
  const f = Math.fround(s);
  for (let i = 0; i < x.data.length; i++) x.data[i] *= f;
}
