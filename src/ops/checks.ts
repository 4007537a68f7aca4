// The op checks: every kernel against its CPU reference on fresh random inputs, at several shapes
// including ones that are not multiples of any workgroup or tile size. Outputs are NaN-poisoned
// before each run, so an element the kernel forgot to write fails the check.
// One list, three users: the vitest suite, the app's "Check this GPU" button, `aya-playground check`.
import type { GpuContext, Tensor } from '../gpu/context.ts';
import { type HostTensor, hostIds, relativeError, shapeStr } from '../gpu/host.ts';
import { Rng } from '../util/rng.ts';
import { add, addCpu, mul, mulCpu, scale, scaleCpu, swiglu, swigluCpu } from './elementwise.ts';
import { MATMUL_VARIANTS, matmul, matmulCpu } from './matmul.ts';
import { layerNorm, layerNormCpu } from './layernorm.ts';
import { rope, ropeCpu, ropeTableCpu } from './rope.ts';
import { attention, attentionCpu } from './attention.ts';
import { softmax, softmaxCpu } from './softmax.ts';
import { embedding, embeddingCpu } from './embedding.ts';
import { crossEntropy, crossEntropyCpu } from './xent.ts';
import { max, maxCpu, sum, sumCpu } from './reduce.ts';
import { randomUniform, randomUniformCpu } from './random.ts';

/** Relative-error bounds of DESIGN §4. */
export const TOL_ELEMENTWISE = 1e-5;
export const TOL_REDUCTION = 1e-4;

export interface OpCheck {
  op: string;
  shape: string;
  tolerance: number;
  /** Device features the kernel needs; without them the check is skipped. */
  requires?: string[];
  make(rng: Rng): HostTensor[];
  cpu(...inputs: HostTensor[]): HostTensor;
  gpu(...inputs: Tensor[]): Tensor;
}

export interface OpCheckResult {
  op: string;
  shape: string;
  tolerance: number;
  relError: number;
  pass: boolean;
  /** GPU time including upload-free dispatch and readback. */
  ms: number;
  error?: string;
}

function randn(rng: Rng, shape: number[], s = 1): HostTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = rng.normal() * s;
  return { shape, data };
}

function ids(rng: Rng, n: number, vocab: number): HostTensor {
  return hostIds([n], Array.from({ length: n }, () => rng.int(vocab)));
}

const label = (...shapes: number[][]): string => shapes.map(shapeStr).join(' ');

function matmulChecks(): OpCheck[] {
  const shapes: Array<[number[], number[], boolean]> = [
    [[64, 64], [64, 64], false],
    [[67, 45], [45, 33], false],
    [[1, 129], [129, 300], false],
    [[3, 17, 40], [40, 23], false],
    [[2, 31, 19], [2, 19, 37], false],
    [[67, 45], [33, 45], true],
    [[1, 129], [300, 129], true],
    [[2, 9, 64], [2, 70, 64], true],
    [[130, 70], [70, 67], false], // more than one tile of every variant in M and N
    [[70, 33], [130, 33], true],
  ];
  const out: OpCheck[] = [];
  for (const v of MATMUL_VARIANTS) {
    for (const [as, bs, transB] of shapes) {
      out.push({
        op: `matmul ${transB ? 'A·Bᵀ' : 'A·B'} ${v.name}`,
        shape: label(as, bs),
        tolerance: TOL_REDUCTION,
        requires: v.requires,
        make: (rng) => [randn(rng, as), randn(rng, bs)],
        cpu: (a, b) => matmulCpu(a, b, { transB }),
        gpu: (a, b) => matmul(a, b, { transB, variant: v.name }),
      });
    }
  }
  return out;
}

export function checkAvailable(ctx: GpuContext, check: OpCheck): boolean {
  return (check.requires ?? []).every((f) => ctx.hasFeature(f));
}

export function opChecks(): OpCheck[] {
  const checks: OpCheck[] = [...matmulChecks()];
  for (const shape of [[5], [1000], [3, 333], [2, 7, 129]]) {
    checks.push(
      { op: 'add', shape: label(shape), tolerance: TOL_ELEMENTWISE, make: (r) => [randn(r, shape), randn(r, shape)], cpu: addCpu, gpu: add },
      { op: 'mul', shape: label(shape), tolerance: TOL_ELEMENTWISE, make: (r) => [randn(r, shape), randn(r, shape)], cpu: mulCpu, gpu: mul },
      { op: 'scale', shape: label(shape), tolerance: TOL_ELEMENTWISE, make: (r) => [randn(r, shape)], cpu: (a) => scaleCpu(a, 0.37), gpu: (a) => scale(a, 0.37) },
      { op: 'swiglu', shape: label(shape), tolerance: TOL_ELEMENTWISE, make: (r) => [randn(r, shape, 3), randn(r, shape)], cpu: swigluCpu, gpu: swiglu },
    );
  }
  for (const [rows, dim] of [[1, 8], [7, 100], [33, 257]]) {
    checks.push({
      op: 'layernorm',
      shape: label([rows, dim]),
      tolerance: TOL_ELEMENTWISE,
      make: (r) => [randn(r, [rows, dim], 2), randn(r, [dim])],
      cpu: (x, w) => layerNormCpu(x, w, 1e-5),
      gpu: (x, w) => layerNorm(x, w, 1e-5),
    });
  }
  for (const [shape, pos0] of [[[1, 5, 3, 8], 0], [[2, 7, 2, 16], 11], [[1, 1, 5, 6], 40]] as Array<[number[], number]>) {
    const table = ropeTableCpu(64, shape[3], 10000);
    checks.push({
      op: 'rope',
      shape: `${label(shape)} pos0=${pos0}`,
      tolerance: TOL_ELEMENTWISE,
      make: (r) => [randn(r, shape), table.cos, table.sin],
      cpu: (x, cos, sin) => ropeCpu(x, { cos, sin }, pos0),
      gpu: (x, cos, sin) => rope(x, { cos, sin }, pos0),
    });
  }
  const attn: Array<[number[], number[]]> = [
    [[1, 5, 2, 8], [1, 5, 2, 8]], // plain causal
    [[2, 7, 4, 16], [2, 7, 2, 16]], // GQA, 2 query heads per KV head
    [[1, 1, 6, 12], [1, 9, 3, 12]], // one decoding step against a 9-token cache
    [[1, 3, 3, 32], [1, 10, 1, 32]], // 3 new tokens, multi-query
  ];
  for (const [qs, ks] of attn) {
    checks.push({
      op: 'attention',
      shape: label(qs, ks),
      tolerance: TOL_REDUCTION,
      make: (r) => [randn(r, qs), randn(r, ks), randn(r, ks)],
      cpu: (q, k, v) => attentionCpu(q, k, v),
      gpu: (q, k, v) => attention(q, k, v),
    });
  }
  for (const shape of [[1, 10], [5, 65], [3, 1000]]) {
    checks.push({ op: 'softmax', shape: label(shape), tolerance: TOL_ELEMENTWISE, make: (r) => [randn(r, shape, 3)], cpu: softmaxCpu, gpu: softmax });
  }
  for (const [n, vocab, dim] of [[1, 10, 4], [13, 50, 33], [40, 300, 64]]) {
    checks.push({
      op: 'embedding',
      shape: `ids[${n}] table${shapeStr([vocab, dim])}`,
      tolerance: TOL_ELEMENTWISE,
      make: (r) => [ids(r, n, vocab), randn(r, [vocab, dim])],
      cpu: embeddingCpu,
      gpu: embedding,
    });
  }
  for (const [rows, vocab] of [[1, 7], [9, 100], [17, 1031]]) {
    checks.push({
      op: 'cross-entropy',
      shape: label([rows, vocab]),
      tolerance: TOL_REDUCTION,
      make: (r) => [randn(r, [rows, vocab], 2), ids(r, rows, vocab)],
      cpu: crossEntropyCpu,
      gpu: crossEntropy,
    });
  }
  for (const shape of [[1, 1], [3, 300], [7, 4097], [1, 20000]]) {
    checks.push(
      { op: 'sum', shape: label(shape), tolerance: TOL_REDUCTION, make: (r) => [randn(r, shape)], cpu: sumCpu, gpu: sum },
      { op: 'max', shape: label(shape), tolerance: TOL_REDUCTION, make: (r) => [randn(r, shape)], cpu: maxCpu, gpu: max },
    );
  }
  for (const [n, seed] of [[7, 1], [1000, 42], [70001, 2 ** 31 + 5]]) {
    // Exact: the GPU and the host must produce the very same bits.
    checks.push({
      op: 'random uniform',
      shape: `${label([n])} seed=${seed}`,
      tolerance: Number.MIN_VALUE,
      make: (r) => [randn(r, [1])],
      cpu: () => randomUniformCpu([n], seed),
      gpu: (x) => randomUniform(x.ctx, [n], seed),
    });
  }
  return checks;
}

export async function runOpCheck(ctx: GpuContext, check: OpCheck, seed: number): Promise<OpCheckResult> {
  const rng = new Rng(seed);
  const inputs = check.make(rng);
  const base = { op: check.op, shape: check.shape, tolerance: check.tolerance };
  const uploaded = inputs.map((h) => ctx.upload(h));
  const poisoned = ctx.poisonOutputs;
  ctx.poisonOutputs = true;
  let out: Tensor | null = null;
  try {
    await ctx.sync();
    const t0 = performance.now();
    out = check.gpu(...uploaded);
    const actual = await out.read();
    const ms = performance.now() - t0;
    const expected = check.cpu(...inputs);
    const relError = relativeError(actual.data, expected.data);
    return { ...base, relError, ms, pass: relError < check.tolerance };
  } catch (e) {
    return { ...base, relError: Number.NaN, ms: 0, pass: false, error: (e as Error).message };
  } finally {
    ctx.poisonOutputs = poisoned;
    out?.release();
    for (const t of uploaded) t.release();
  }
}

/** Runs every check; `onResult` sees each row as it finishes (for live tables); `shouldStop` cancels. */
export async function runOpChecks(
  ctx: GpuContext,
  seed: number,
  onResult?: (r: OpCheckResult, index: number, total: number) => void,
  shouldStop?: () => boolean,
): Promise<OpCheckResult[]> {
  const checks = opChecks().filter((c) => checkAvailable(ctx, c));
  const results: OpCheckResult[] = [];
  for (let i = 0; i < checks.length; i++) {
    if (shouldStop?.()) break;
    const r = await runOpCheck(ctx, checks[i], seed + i);
    results.push(r);
    onResult?.(r, i, checks.length);
  }
  return results;
}
