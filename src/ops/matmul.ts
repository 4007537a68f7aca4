// Batched matmul: A[..., M, K] · B[K, N] (or Bᵀ with B [N, K] when transB), B optionally batched
// like A. Kernel variants live side by side in shaders/matmul.wgsl; all are validated by the op
// checks and timed by the bench; DEFAULT_VARIANT is the measured winner.
import type { Tensor } from '../gpu/context.ts';
import type { HostTensor } from '../gpu/host.ts';
import { packUniforms } from './uniforms.ts';

export interface MatmulVariant {
  name: string;
  description: string;
  /** Entry points for A·B and A·Bᵀ. */
  nn: string;
  nt: string;
  /** Outputs covered by one workgroup: rows (M) × cols (N). */
  tileM: number;
  tileN: number;
}

export const MATMUL_VARIANTS: readonly MatmulVariant[] = [
  { name: 'v1', description: 'one output per invocation, 16×16 workgroup', nn: 'nn_v1', nt: 'nt_v1', tileM: 16, tileN: 16 },
  { name: 'v2', description: '4×4 register block per invocation, 8×8 workgroup', nn: 'nn_v2', nt: 'nt_v2', tileM: 32, tileN: 32 },
];

export const DEFAULT_VARIANT = 'v2';

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

export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const { batch, m, k, n, bBatched, outShape } = matmulDims(a.shape, b.shape, opts.transB);
  const name = opts.variant ?? DEFAULT_VARIANT;
  const v = MATMUL_VARIANTS.find((x) => x.name === name);
  if (!v) throw new Error(`matmul: unknown variant ${name}`);
  const out = a.ctx.empty(outShape);
  a.ctx.dispatch({
    shader: 'matmul',
    entry: opts.transB ? v.nt : v.nn,
    bindings: [a, b, out],
    uniforms: packUniforms([m, n, k, m * k, bBatched ? n * k : 0, m * n]),
    workgroups: [Math.ceil(n / v.tileN), Math.ceil(m / v.tileM), batch],
  });
  return out;
}

export function matmulCpu(a: HostTensor, b: HostTensor, opts: MatmulOptions = {}): HostTensor {
  const { batch, m, k, n, bBatched, outShape } = matmulDims(a.shape, b.shape, opts.transB);
  const out = new Float32Array(batch * m * n);
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
