// Batched matmul: A[..., M, K] · B[K, N] (or Bᵀ with B [N, K] when transB), B optionally batched
// like A. Kernel variants live side by side in shaders/matmul.wgsl; all are validated by the op
// checks and timed by the bench; DEFAULT_VARIANT is the measured winner. Every variant also has an
// Aᵀ·B ("tn") kernel for weight gradients; matmulBackward combines them.
import { type GpuContext, MAX_WORKGROUPS_PER_DIM, type Tensor } from '../gpu/context.ts';
import { type HostTensor, like } from '../gpu/host.ts';
import { registerShader } from '../gpu/shaders.ts';
import { type BlockedConfig, blockedTile, generateBlockedMatmul, generateBlockedMatmulLayout } from './matmulGen.ts';
import { packUniforms } from './uniforms.ts';
import { Rng } from '../util/rng.ts';

/** Shader module and entry point; a kernel may cover its own tile and set overridable constants. */
export interface MatmulKernel {
  shader: string;
  entry: string;
  /** Outputs per workgroup (rows × cols) when they differ from the variant's. */
  tile?: { m: number; n: number };
  /** Pipeline-overridable constants (e.g. the workgroup's shape of a shared kernel). */
  constants?: Record<string, number>;
}

export interface MatmulVariant {
  name: string;
  description: string;
  /** A·B and A·Bᵀ. */
  nn: MatmulKernel;
  nt: MatmulKernel;
  /** Aᵀ·B (A [K, M], B [K, N]): weight gradients. */
  tn: MatmulKernel;
  /** Outputs covered by one workgroup: rows (M) × cols (N). */
  tileM: number;
  tileN: number;
  /** Device features the kernels need. */
  requires: string[];
  /** A·Bᵀ reads vec4s: with K % 4 ≠ 0 this variant runs `fallback`'s kernel (bit-identical). */
  ntNeedsK4?: { fallback: string };
}

function staticVariant(name: string, description: string, tileM: number, tileN: number): MatmulVariant {
  return {
    name,
    description,
    nn: { shader: 'matmul', entry: `nn_${name}` },
    nt: { shader: 'matmul', entry: `nt_${name}` },
    tn: { shader: 'matmul', entry: `tn_${name}` },
    tileM,
    tileN,
    requires: [],
  };
}

function generatedVariant(name: string, description: string, cfg: BlockedConfig): MatmulVariant {
  registerShader(`matmul_${name}_nn`, () => generateBlockedMatmul(cfg, false));
  registerShader(`matmul_${name}_nt`, () => generateBlockedMatmul(cfg, true));
  registerShader(`matmul_${name}_tn`, () => generateBlockedMatmulLayout(cfg, 'tn'));
  return {
    name,
    description,
    nn: { shader: `matmul_${name}_nn`, entry: 'main' },
    nt: { shader: `matmul_${name}_nt`, entry: 'main' },
    tn: { shader: `matmul_${name}_tn`, entry: 'main' },
    ...blockedTile(cfg),
    requires: cfg.mode === 'quad' ? ['subgroups'] : [],
  };
}

// v1's kernels in 64×1 workgroups: for M ≤ 4 (decoding), where 16×16 leaves most lanes idle.
const V6: MatmulVariant = (() => {
  const v1 = staticVariant('v6', 'one output per invocation, 64×1 workgroup (for a few rows: decoding); bit-identical to v1', 1, 64);
  const constants = { MM1_WX: 64, MM1_WY: 1 };
  const entry = (k: MatmulKernel) => ({ ...k, entry: k.entry.replace('_v6', '_v1'), constants });
  return { ...v1, nn: entry(v1.nn), nt: entry(v1.nt), tn: entry(v1.tn) };
})();

export const MATMUL_VARIANTS: readonly MatmulVariant[] = [
  staticVariant('v1', 'one output per invocation, 16×16 workgroup', 16, 16),
  staticVariant('v2', '4×4 register block per invocation (loops), 8×8 workgroup', 32, 32),
  staticVariant('v3', 'workgroup-memory tiles 64×64×16, 4×4 per invocation, 16×16 workgroup (for GPUs)', 64, 64),
  generatedVariant('v4', 'unrolled 16×8 register block, K unrolled ×4, 8×4 workgroup (for CPU adapters)', { R: 16, C: 8, WX: 8, WY: 4, U: 4, mode: 'scalar' }),
  generatedVariant('v5', 'unrolled 32×8 register block, A loads shared across a quad (quadBroadcast), 4×2 workgroup (for CPU adapters)', {
    R: 32,
    C: 8,
    WX: 4,
    WY: 2,
    U: 4,
    mode: 'quad',
  }),
  V6,
  // A·Bᵀ with vec4 loads, 4 outputs per invocation (shaders/matmul_gemv.wgsl); A·B and Aᵀ·B are v6's.
  {
    ...V6,
    name: 'v7',
    description: 'A·Bᵀ: 4 outputs of a row per invocation, vec4 loads, 64×1 workgroup (decoding; K % 4 = 0, else v6); A·B, Aᵀ·B as v6; bit-identical to v1',
    nt: { shader: 'matmul_gemv', entry: 'nt', tile: { m: 1, n: 256 } },
    ntNeedsK4: { fallback: 'v6' },
  },
  {
    ...V6,
    name: 'v8',
    description: 'A·Bᵀ: 4×4 outputs per invocation, vec4 loads, 64×1 workgroup (batched decoding; K % 4 = 0, else v6); A·B, Aᵀ·B as v6; bit-identical to v1',
    nt: { shader: 'matmul_gemv', entry: 'nt_r4', tile: { m: 4, n: 256 } },
    ntNeedsK4: { fallback: 'v6' },
  },
];

/** Variants this device can run. */
export function availableVariants(ctx: GpuContext): MatmulVariant[] {
  return MATMUL_VARIANTS.filter((v) => v.requires.every((f) => ctx.hasFeature(f)));
}

/** Variants whose every output adds its products one at a time in K order, as v1 does: they agree
 *  bit for bit, and a row's result does not depend on the other rows — so K sequences decoded
 *  together get exactly the bits each gets alone (batched decoding relies on this). */
export const ROW_EXACT_VARIANTS = ['v1', 'v6', 'v7', 'v8'] as const;

/** Row counts that share a measured kernel choice (src/ops/tune.ts times each class). */
export type MatmulClass = 'decode' | 'batched' | 'bulk';

export function matmulClassOf(m: number): MatmulClass {
  return m <= 4 ? 'decode' : m <= 16 ? 'batched' : 'bulk';
}

/** Where a context keeps the variant measured fastest for a class (GpuContext.choices). */
export const matmulChoiceKey = (cls: MatmulClass): string => `matmul ${cls}`;

/** The row-exact variant for M rows (batched decoding): the one measured for decoding on this
 *  device when there is one (tune.ts chooses only variants bit-identical to v1), else 4 outputs of
 *  a row per invocation for a few rows, 4×4 blocks when 4 or more rows share each load of B
 *  (measured on SwiftShader: 4–8× v1 at 1×4096×64). */
export function decodeVariant(ctx: GpuContext, m: number): string {
  const chosen = ctx.choices.get(matmulChoiceKey(m <= 4 ? 'decode' : 'batched'));
  if (chosen) return chosen;
  // v7/v8 add the same products in the same order as v1, but a compiler may contract them into
  // FMAs differently in vector code: they are used once checkDecodeKernels saw v1's bits on this
  // device. v6 is v1's own code in another workgroup shape.
  const v = m < 4 ? 'v7' : 'v8';
  return ctx.choices.get(exactKey(v)) === 'yes' ? v : 'v6';
}

const exactKey = (v: string) => `matmul ${v} equals v1`;

/** Checks on this device that the vec4 decoding kernels (v7, v8) give v1's bits, at a few rows
 *  with K a multiple of 4 (their own kernels) — once per context, before decoding uses them. */
export async function checkDecodeKernels(ctx: GpuContext): Promise<void> {
  const rng = new Rng(12345);
  const random = (n: number) => Float32Array.from({ length: n }, () => rng.uniform() * 2 - 1);
  const k = 68;
  const n = 130;
  const b = ctx.upload({ shape: [n, k], data: random(n * k) });
  try {
    for (const [v, rows] of [['v7', [1, 3]], ['v8', [4, 9]]] as const) {
      let same = true;
      for (const m of rows) {
        const a = ctx.upload({ shape: [m, k], data: random(m * k) });
        const ref = matmul(a, b, { transB: true, variant: 'v1' });
        const got = matmul(a, b, { transB: true, variant: v });
        const [x, y] = [await ref.read(), await got.read()];
        for (const t of [a, ref, got]) t.release();
        const xb = new Uint32Array(x.data.buffer, x.data.byteOffset, x.data.length);
        const yb = new Uint32Array(y.data.buffer, y.data.byteOffset, y.data.length);
        if (xb.some((bits, i) => bits !== yb[i])) same = false;
      }
      ctx.choices.set(exactKey(v), same ? 'yes' : 'no');
    }
  } finally {
    b.release();
  }
}

/** The variant the model uses on this device for M rows: the one measured fastest for this many
 *  rows (src/ops/tune.ts), else a row-exact decoding kernel for a few rows (tiles would be mostly
 *  empty), the CPU-tuned kernels on CPU adapters (the fastest measured there), workgroup tiling on
 *  GPUs. `npm run bench` shows all of them side by side. */
export function defaultVariant(ctx: GpuContext, m = 64): string {
  const chosen = ctx.choices.get(matmulChoiceKey(matmulClassOf(m)));
  if (chosen) return chosen;
  if (m <= 4) return decodeVariant(ctx, m);
  if (!ctx.isCpuAdapter) return 'v3';
  return ctx.hasFeature('subgroups') ? 'v5' : 'v4';
}

export interface MatmulOptions {
  transB?: boolean;
  variant?: string;
}

interface MatmulDims {
  batch: number;
  m: number;
  k: number;
  n: number;
  bBatched: boolean;
  outShape: number[];
}

export function matmulDims(aShape: readonly number[], bShape: readonly number[], transB = false): MatmulDims {
  if (aShape.length < 2) throw new Error(`matmul: A must have rank ≥ 2, got [${aShape}]`);
  if (bShape.length !== 2 && bShape.length !== 3) throw new Error(`matmul: B must have rank 2 or 3, got [${bShape}]`);
  const m = aShape[aShape.length - 2];
  const k = aShape[aShape.length - 1];
  const batch = aShape.slice(0, -2).reduce((x, y) => x * y, 1);
  const [bk, n] = transB ? [bShape[bShape.length - 1], bShape[bShape.length - 2]] : bShape.slice(-2);
  if (bk !== k) throw new Error(`matmul: inner dimensions differ: A [${aShape}] · B${transB ? 'ᵀ' : ''} [${bShape}]`);
  const bBatched = bShape.length === 3;
  if (bBatched && bShape[0] !== batch) throw new Error(`matmul: B's batch ${bShape[0]} ≠ A's batch ${batch}`);
  return { batch, m, k, n, bBatched, outShape: [...aShape.slice(0, -2), m, n] };
}

/** The variant, or v1 (16×16 outputs per workgroup) when its grid would pass the 65535-workgroup
 *  limit of a dimension: the decoding kernels give a workgroup a single row, and an embedding
 *  gradient has a row per vocabulary entry. */
function fitsGrid(v: MatmulVariant, kind: 'nn' | 'nt' | 'tn', m: number, n: number): MatmulVariant {
  const tile = v[kind].tile ?? { m: v.tileM, n: v.tileN };
  if (Math.ceil(m / tile.m) <= MAX_WORKGROUPS_PER_DIM && Math.ceil(n / tile.n) <= MAX_WORKGROUPS_PER_DIM) return v;
  const v1 = variantNamed('v1', 'matmul');
  if (Math.ceil(m / v1.tileM) > MAX_WORKGROUPS_PER_DIM || Math.ceil(n / v1.tileN) > MAX_WORKGROUPS_PER_DIM) throw new Error(`matmul: ${m}×${n} outputs need more than ${MAX_WORKGROUPS_PER_DIM} workgroups in a dimension`);
  return v1;
}

function variantNamed(name: string, op: string): MatmulVariant {
  const v = MATMUL_VARIANTS.find((x) => x.name === name);
  if (!v) throw new Error(`${op}: unknown variant ${name}`);
  return v;
}

export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const { batch, m, k, n, bBatched, outShape } = matmulDims(a.shape, b.shape, opts.transB);
  let v = variantNamed(opts.variant ?? a.ctx.matmulVariant ?? defaultVariant(a.ctx, m), 'matmul');
  if (opts.transB && v.ntNeedsK4 && k % 4 !== 0) v = variantNamed(v.ntNeedsK4.fallback, 'matmul');
  v = fitsGrid(v, opts.transB ? 'nt' : 'nn', m, n);
  const kernel = opts.transB ? v.nt : v.nn;
  const tile = kernel.tile ?? { m: v.tileM, n: v.tileN };
  const out = a.ctx.empty(outShape);
  a.ctx.dispatch({
    shader: kernel.shader,
    entry: kernel.entry,
    bindings: [a, b, out],
    uniforms: packUniforms([m, n, k, m * k, bBatched ? n * k : 0, m * n]),
    workgroups: [Math.ceil(n / tile.n), Math.ceil(m / tile.m), batch],
    constants: kernel.constants,
  });
  return out;
}

export function matmulCpu(a: HostTensor, b: HostTensor, opts: MatmulOptions = {}): HostTensor {
  const { batch, m, k, n, bBatched, outShape } = matmulDims(a.shape, b.shape, opts.transB);
  const out = like(a.data, batch * m * n);
  for (let z = 0; z < batch; z++) {
    const ao = z * m * k;
    const bo = bBatched ? z * n * k : 0;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let t = 0; t < k; t++) {
          const bv = opts.transB ? b.data[bo + j * k + t] : b.data[bo + t * n + j];
          s += a.data[ao + i * k + t] * bv;
        }
        out[z * m * n + i * n + j] = s;
      }
    }
  }
  return { shape: outShape, data: out };
}

// ---- Aᵀ·B and the matmul backward ----------------------------------------------------------------

interface TnDims {
  batch: number;
  m: number;
  k: number;
  n: number;
  outShape: number[];
}

/** Aᵀ·B: A [...batch, K, M], B [...batch, K, N] with the same batch dimensions → [...batch, M, N]. */
export function matmulTNDims(aShape: readonly number[], bShape: readonly number[]): TnDims {
  if (aShape.length < 2 || bShape.length !== aShape.length) {
    throw new Error(`matmulTN: A [${aShape}] and B [${bShape}] must have the same rank ≥ 2`);
  }
  const lead = aShape.slice(0, -2);
  if (lead.some((d, i) => d !== bShape[i])) throw new Error(`matmulTN: batch dimensions differ: A [${aShape}], B [${bShape}]`);
  const [k, m] = aShape.slice(-2);
  const [bk, n] = bShape.slice(-2);
  if (bk !== k) throw new Error(`matmulTN: inner dimensions differ: Aᵀ [${aShape}] · B [${bShape}]`);
  return { batch: lead.reduce((x, y) => x * y, 1), m, k, n, outShape: [...lead, m, n] };
}

/** C = Aᵀ·B (per batch): A [..., K, M], B [..., K, N] → [..., M, N]. For weight gradients, flatten
 *  the batch into K (rows) so that the product sums over it. */
export function matmulTN(a: Tensor, b: Tensor, opts: { variant?: string } = {}): Tensor {
  const { batch, m, k, n, outShape } = matmulTNDims(a.shape, b.shape);
  const v = fitsGrid(variantNamed(opts.variant ?? a.ctx.matmulVariant ?? defaultVariant(a.ctx, m), 'matmulTN'), 'tn', m, n);
  const tile = v.tn.tile ?? { m: v.tileM, n: v.tileN };
  const out = a.ctx.empty(outShape);
  a.ctx.dispatch({
    shader: v.tn.shader,
    entry: v.tn.entry,
    bindings: [a, b, out],
    uniforms: packUniforms([m, n, k, m * k, n * k, m * n]),
    workgroups: [Math.ceil(n / tile.n), Math.ceil(m / tile.m), batch],
    constants: v.tn.constants,
  });
  return out;
}

export function matmulTNCpu(a: HostTensor, b: HostTensor, _opts: { variant?: string } = {}): HostTensor {
  const { batch, m, k, n, outShape } = matmulTNDims(a.shape, b.shape);
  const out = like(a.data, batch * m * n);
  for (let z = 0; z < batch; z++) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let t = 0; t < k; t++) s += a.data[z * k * m + t * m + i] * b.data[z * k * n + t * n + j];
        out[z * m * n + i * n + j] = s;
      }
    }
  }
  return { shape: outShape, data: out };
}

export interface MatmulGrads<T> {
  /** Gradient of A: A's shape. */
  da: T;
  /** Gradient of B: B's shape; a broadcast (2-D) B sums over A's batch. */
  db: T;
}

function backwardPlan(dyShape: readonly number[], aShape: readonly number[], bShape: readonly number[], transB = false) {
  const d = matmulDims(aShape, bShape, transB);
  if (dyShape.length !== d.outShape.length || dyShape.some((x, i) => x !== d.outShape[i])) {
    throw new Error(`matmulBackward: dy [${dyShape}] does not match the product's shape [${d.outShape}]`);
  }
  // Flatten A's batch into rows when B is shared (the weight gradient sums over it).
  const z = d.bBatched ? [d.batch] : [];
  const rows = d.bBatched ? d.m : d.batch * d.m;
  return { ...d, aRows: [...z, rows, d.k], dyRows: [...z, rows, d.n] };
}

/** Gradients of y = A·B (or A·Bᵀ with `transB`, B [out, in]) given dy = ∂L/∂y:
 *  A·B:  dA = dy·Bᵀ, dB = Aᵀ·dy;   A·Bᵀ: dA = dy·B, dB = dyᵀ·A. */
export function matmulBackward(dy: Tensor, a: Tensor, b: Tensor, opts: MatmulOptions = {}): MatmulGrads<Tensor> {
  const pl = backwardPlan(dy.shape, a.shape, b.shape, opts.transB);
  const da = matmul(dy, b, { transB: !opts.transB, variant: opts.variant });
  const aR = a.reshape(pl.aRows);
  const dyR = dy.reshape(pl.dyRows);
  const db = opts.transB ? matmulTN(dyR, aR, { variant: opts.variant }) : matmulTN(aR, dyR, { variant: opts.variant });
  return { da: da.intoShape(a.shape), db: db.intoShape(b.shape) };
}

export function matmulBackwardCpu(dy: HostTensor, a: HostTensor, b: HostTensor, opts: MatmulOptions = {}): MatmulGrads<HostTensor> {
  const pl = backwardPlan(dy.shape, a.shape, b.shape, opts.transB);
  const da = matmulCpu(dy, b, { transB: !opts.transB });
  const aR = { shape: pl.aRows, data: a.data };
  const dyR = { shape: pl.dyRows, data: dy.data };
  const db = opts.transB ? matmulTNCpu(dyR, aR) : matmulTNCpu(aR, dyR);
  return { da: { shape: [...a.shape], data: da.data }, db: { shape: [...b.shape], data: db.data } };
}
