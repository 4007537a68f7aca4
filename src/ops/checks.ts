// The op checks: every kernel against its CPU reference on fresh random inputs, at several shapes
// including ones that are not multiples of any workgroup or tile size. Outputs are NaN-poisoned
// before each run, so an element the kernel forgot to write fails the check.
// One list, three users: the vitest suite, the app's "Check this GPU" button, `aya-playground check`.
import type { GpuContext, Tensor } from '../gpu/context.ts';
import { type HostTensor, hostIds, relativeError, shapeStr } from '../gpu/host.ts';
import { Rng } from '../util/rng.ts';
import { add, add3, add3Cpu, addCpu, mul, mulCpu, scale, scaleCpu, swiglu, swigluCpu, swigluHalves, swigluHalvesCpu } from './elementwise.ts';
import { MATMUL_VARIANTS, matmul, matmulCpu } from './matmul.ts';
import { addLayerNorm, addLayerNormCpu, layerNorm, layerNormCpu } from './layernorm.ts';
import { rope, ropeCpu, ropeQkv, ropeQkvCpu, ropeTableCpu } from './rope.ts';
import { attention, attentionCpu } from './attention.ts';
import { softmax, softmaxCpu } from './softmax.ts';
import { embedding, embeddingCpu } from './embedding.ts';
import { crossEntropy, crossEntropyCpu } from './xent.ts';
import { max, maxCpu, sum, sumCpu } from './reduce.ts';
import { randomUniform, randomUniformCpu } from './random.ts';
import {
  addInPlace,
  addInPlaceCpu,
  mulBackward,
  mulBackwardCpu,
  scaleBackward,
  scaleBackwardCpu,
  scaleInPlace,
  scaleInPlaceCpu,
  swigluBackward,
  swigluBackwardCpu,
} from './elementwise.ts';
import { matmulBackward, matmulBackwardCpu, matmulTN, matmulTNCpu } from './matmul.ts';
import { layerNormBackward, layerNormBackwardCpu } from './layernorm.ts';
import { ropeBackward, ropeBackwardCpu } from './rope.ts';
import { attentionBackward, attentionBackwardCpu } from './attention.ts';
import { embeddingBackward, embeddingBackwardCpu } from './embedding.ts';
import { crossEntropyMasked, crossEntropyMaskedBackward, crossEntropyMaskedBackwardCpu, crossEntropyMaskedCpu } from './xent.ts';
import { clipFactor, clipFactorCpu, sumOfSquares, sumOfSquaresCpu } from './reduce.ts';
import { adamw, adamwCpu } from './adamw.ts';
import { mergeOpChecks } from '../merge/checks.ts';
import { DPO_LOSSES, dpoLoss, dpoLossCpu } from './dpo.ts';

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
  const checks: OpCheck[] = [...matmulChecks(), ...matmulTNChecks()];
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
  // The decoder's fused forms.
  for (const [rows, dim] of [[1, 8], [7, 100], [3, 257]]) {
    const make = (r: Rng) => [randn(r, [rows, dim], 2), randn(r, [rows, dim]), randn(r, [rows, dim]), randn(r, [dim])];
    for (const key of ['sum', 'normed'] as const) {
      checks.push({
        op: `add + layernorm ${key}`,
        shape: label([rows, dim]),
        tolerance: TOL_ELEMENTWISE,
        make,
        cpu: pickCpu((x, a, b, w) => addLayerNormCpu(x, a, b, w, 1e-5), key),
        gpu: pickGpu((x, a, b, w) => addLayerNorm(x, a, b, w, 1e-5), key),
      });
    }
  }
  for (const shape of [[5], [3, 333]]) {
    checks.push({ op: 'add3', shape: label(shape), tolerance: TOL_ELEMENTWISE, make: (r) => [randn(r, shape), randn(r, shape), randn(r, shape)], cpu: add3Cpu, gpu: add3 });
  }
  for (const shape of [[1, 2], [3, 258], [2, 5, 40]]) {
    checks.push({ op: 'swiglu halves', shape: label(shape), tolerance: TOL_ELEMENTWISE, make: (r) => [randn(r, shape, 3)], cpu: swigluHalvesCpu, gpu: swigluHalves });
  }
  for (const [[batch, seq, hq, hkv, d], pos0, rows] of [[[1, 5, 3, 1, 8], 0, 5], [[2, 3, 4, 2, 16], 11, 20], [[3, 1, 2, 2, 6], 40, 41]] as Array<[number[], number, number]>) {
    const table = ropeTableCpu(64, d, 10000);
    const heads = { q: hq, kv: hkv };
    const make = (r: Rng) => [randn(r, [batch, seq, hq + 2 * hkv, d]), table.cos, table.sin, randn(r, [batch, rows, hkv, d]), randn(r, [batch, rows, hkv, d])];
    for (const key of ['q', 'k', 'v'] as const) {
      checks.push({
        op: `rope + KV append ${key}`,
        shape: `${label([batch, seq, hq + 2 * hkv, d])} cache ${rows} pos0=${pos0}`,
        tolerance: TOL_ELEMENTWISE,
        make,
        cpu: pickCpu((qkv, cos, sin, k, v) => ropeQkvCpu(qkv, { cos, sin }, pos0, heads, k, v), key),
        gpu: pickGpu((qkv, cos, sin, k, v) => {
          const kk = copyOut(k);
          const vv = copyOut(v);
          return { q: ropeQkv(qkv, { cos, sin }, pos0, heads, kk, vv), k: kk, v: vv };
        }, key),
      });
    }
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
  checks.push(...backwardChecks());
  // DPO losses: sequence log-probs of a few tens of tokens (−200…0), lengths 1–40, margins of both signs.
  for (const type of DPO_LOSSES) {
    for (const pairs of [1, 7, 130]) {
      checks.push({
        op: `dpo ${type}`,
        shape: `[${pairs}, 6] β=0.1`,
        tolerance: TOL_REDUCTION,
        make: (r) => [
          {
            shape: [pairs, 6],
            data: Float32Array.from({ length: pairs * 6 }, (_, i) => (i % 6 < 4 ? -200 * r.uniform() : 1 + Math.floor(40 * r.uniform()))),
          },
        ],
        cpu: (x) => dpoLossCpu(x, type, 0.1),
        gpu: (x) => dpoLoss(x, type, 0.1),
      });
    }
  }
  checks.push(...mergeOpChecks());
  return checks;
}

// ---- backward ops and the optimiser ------------------------------------------------------------

function matmulTNChecks(): OpCheck[] {
  const shapes: Array<[number[], number[]]> = [
    [[45, 67], [45, 33]],
    [[130, 70], [130, 67]], // more than one tile of every variant in M and N
    [[2, 19, 31], [2, 19, 37]],
  ];
  const out: OpCheck[] = [];
  for (const v of MATMUL_VARIANTS) {
    for (const [as, bs] of shapes) {
      out.push({
        op: `matmul Aᵀ·B ${v.name}`,
        shape: label(as, bs),
        tolerance: TOL_REDUCTION,
        requires: v.requires,
        make: (rng) => [randn(rng, as), randn(rng, bs)],
        cpu: (a, b) => matmulTNCpu(a, b),
        gpu: (a, b) => matmulTN(a, b, { variant: v.name }),
      });
    }
  }
  return out;
}

/** One output of a multi-output op; the GPU side releases the others. */
function pickGpu<K extends string>(f: (...x: Tensor[]) => Record<K, Tensor>, key: K): (...x: Tensor[]) => Tensor {
  return (...x) => {
    const r = f(...x);
    for (const k of Object.keys(r) as K[]) if (k !== key) r[k].release();
    return r[key];
  };
}

function pickCpu<K extends string>(f: (...x: HostTensor[]) => Record<K, HostTensor>, key: K): (...x: HostTensor[]) => HostTensor {
  return (...x) => f(...x)[key];
}

/** A fresh (poisoned) copy of a tensor an in-place op has updated. */
function copyOut(t: Tensor): Tensor {
  const out = t.ctx.empty(t.shape);
  t.ctx.copy(t, 0, out, 0, t.size);
  return out;
}

function cloneHost(h: HostTensor): HostTensor {
  return { shape: [...h.shape], data: h.data.slice() };
}

function backwardChecks(): OpCheck[] {
  const checks: OpCheck[] = [];
  const multi = <K extends string>(
    op: string,
    shape: string,
    tolerance: number,
    keys: K[],
    make: (r: Rng) => HostTensor[],
    cpu: (...x: HostTensor[]) => Record<K, HostTensor>,
    gpu: (...x: Tensor[]) => Record<K, Tensor>,
  ) => {
    for (const key of keys) checks.push({ op: `${op} ${key}`, shape, tolerance, make, cpu: pickCpu(cpu, key), gpu: pickGpu(gpu, key) });
  };

  // y = a·b / a·bᵀ: inputs dy, a, b.
  const mm: Array<[number[], number[], boolean]> = [
    [[37, 29], [29, 23], false],
    [[2, 9, 33], [21, 33], true], // batched activations, shared weights [out, in]: db sums over the batch
    [[2, 7, 11], [2, 11, 13], false], // batched B
  ];
  for (const [as, bs, transB] of mm) {
    const n = transB ? bs[bs.length - 2] : bs[bs.length - 1];
    const ys = [...as.slice(0, -1), n];
    multi(
      `matmul backward ${transB ? 'A·Bᵀ' : 'A·B'}`,
      label(as, bs),
      TOL_REDUCTION,
      ['da', 'db'],
      (r) => [randn(r, ys), randn(r, as), randn(r, bs)],
      (dy, a, b) => matmulBackwardCpu(dy, a, b, { transB }),
      (dy, a, b) => matmulBackward(dy, a, b, { transB }),
    );
  }

  for (const shape of [[5], [3, 333]]) {
    const l = label(shape);
    const three = (r: Rng) => [randn(r, shape), randn(r, shape, 3), randn(r, shape)];
    multi('mul backward', l, TOL_ELEMENTWISE, ['da', 'db'], three, mulBackwardCpu, mulBackward);
    multi('swiglu backward', l, TOL_ELEMENTWISE, ['dgate', 'dup'], three, swigluBackwardCpu, swigluBackward);
    checks.push(
      { op: 'scale backward', shape: l, tolerance: TOL_ELEMENTWISE, make: (r) => [randn(r, shape)], cpu: (d) => scaleBackwardCpu(d, -1.7), gpu: (d) => scaleBackward(d, -1.7) },
      {
        op: 'add in place',
        shape: l,
        tolerance: TOL_ELEMENTWISE,
        make: (r) => [randn(r, shape), randn(r, shape)],
        cpu: (a, b) => {
          const out = cloneHost(a);
          addInPlaceCpu(out, b);
          return out;
        },
        gpu: (a, b) => {
          addInPlace(a, b);
          return copyOut(a);
        },
      },
      {
        op: 'scale in place',
        shape: l,
        tolerance: TOL_ELEMENTWISE,
        make: (r) => [randn(r, shape)],
        cpu: (a) => {
          const out = cloneHost(a);
          scaleInPlaceCpu(out, 0.29);
          return out;
        },
        gpu: (a) => {
          scaleInPlace(a, 0.29);
          return copyOut(a);
        },
      },
    );
  }

  for (const [rows, dim] of [[1, 8], [7, 100], [33, 257]]) {
    multi(
      'layernorm backward',
      label([rows, dim]),
      TOL_REDUCTION,
      ['dx', 'dw'],
      (r) => [randn(r, [rows, dim]), randn(r, [rows, dim], 2), randn(r, [dim])],
      (dy, x, w) => layerNormBackwardCpu(dy, x, w, 1e-5),
      (dy, x, w) => layerNormBackward(dy, x, w, 1e-5),
    );
  }

  for (const [shape, pos0] of [[[1, 5, 3, 8], 0], [[2, 7, 2, 16], 11]] as Array<[number[], number]>) {
    const table = ropeTableCpu(64, shape[3], 10000);
    checks.push({
      op: 'rope backward',
      shape: `${label(shape)} pos0=${pos0}`,
      tolerance: TOL_ELEMENTWISE,
      make: (r) => [randn(r, shape), table.cos, table.sin],
      cpu: (dy, cos, sin) => ropeBackwardCpu(dy, { cos, sin }, pos0),
      gpu: (dy, cos, sin) => ropeBackward(dy, { cos, sin }, pos0),
    });
  }

  const attn: Array<[number[], number[], number | undefined]> = [
    [[1, 5, 2, 8], [1, 5, 2, 8], 0], // plain causal, full sequence (training)
    [[2, 7, 4, 16], [2, 7, 2, 16], 0], // GQA, 2 query heads per KV head
    [[1, 3, 3, 6], [1, 10, 1, 6], undefined], // 3 new tokens after 7 (pos0 = S − T), multi-query
    [[1, 4, 2, 12], [1, 6, 1, 12], 0], // pos0 = 0 with S > T: the last keys are never seen
  ];
  for (const [qs, ks, pos0] of attn) {
    multi(
      'attention backward',
      `${label(qs, ks)}${pos0 === undefined ? '' : ` pos0=${pos0}`}`,
      TOL_REDUCTION,
      ['dq', 'dk', 'dv'],
      (r) => [randn(r, qs), randn(r, qs), randn(r, ks), randn(r, ks)],
      (dout, q, k, v) => attentionBackwardCpu(dout, q, k, v, pos0),
      (dout, q, k, v) => attentionBackward(dout, q, k, v, pos0),
    );
  }

  for (const [n, vocab, dim] of [[1, 10, 4], [60, 7, 5], [40, 300, 33]]) {
    let hostIdsOf: ArrayLike<number> = [];
    checks.push({
      op: 'embedding backward',
      shape: `ids[${n}] table${shapeStr([vocab, dim])}`,
      tolerance: TOL_REDUCTION,
      make: (r) => {
        const i = ids(r, n, vocab);
        hostIdsOf = i.data;
        return [randn(r, [n, dim]), i];
      },
      cpu: (dout, i) => embeddingBackwardCpu(dout, i.data, vocab),
      gpu: (dout) => embeddingBackward(dout, hostIdsOf, vocab),
    });
  }

  for (const [rows, vocab] of [[1, 7], [9, 100], [17, 1031]]) {
    // Some rows masked (weight 0), and masked rows may carry a padding target outside the vocabulary.
    const make = (r: Rng): HostTensor[] => {
      const w = new Float32Array(rows);
      const t = new Uint32Array(rows);
      for (let i = 0; i < rows; i++) {
        const keep = rows === 1 || r.uniform() < 0.7;
        w[i] = keep ? (0.5 + r.uniform()) / rows : 0;
        t[i] = !keep && r.uniform() < 0.5 ? vocab + r.int(5) : r.int(vocab);
      }
      return [randn(r, [rows, vocab], 2), { shape: [rows], data: t }, { shape: [rows], data: w }];
    };
    const l = label([rows, vocab]);
    checks.push(
      { op: 'cross-entropy masked', shape: l, tolerance: TOL_REDUCTION, make, cpu: crossEntropyMaskedCpu, gpu: crossEntropyMasked },
      {
        op: 'cross-entropy masked backward',
        shape: l,
        tolerance: TOL_REDUCTION,
        make,
        cpu: (x, t, w) => crossEntropyMaskedBackwardCpu(x, t, w, 1.3),
        gpu: (x, t, w) => crossEntropyMaskedBackward(x, t, w, 1.3),
      },
    );
  }

  for (const shapes of [[[1]], [[3, 300]], [[7, 4097], [1000], [5]], [[1, 70001]]]) {
    checks.push({
      op: 'sum of squares',
      shape: label(...shapes),
      tolerance: TOL_REDUCTION,
      make: (r) => shapes.map((s) => randn(r, s)),
      cpu: sumOfSquaresCpu,
      gpu: sumOfSquares,
    });
  }
  for (const maxNorm of [1, 1e3]) {
    checks.push({
      op: 'clip factor',
      shape: `${label([5, 77])} max_norm=${maxNorm}`,
      tolerance: TOL_REDUCTION,
      make: (r) => [randn(r, [5, 77])],
      cpu: (g) => clipFactorCpu(sumOfSquaresCpu(g), maxNorm),
      gpu: (g) => {
        const ss = sumOfSquares(g);
        const f = clipFactor(ss, maxNorm);
        ss.release();
        return f;
      },
    });
  }

  // Three AdamW steps (t = 1..3) with weight decay and a changing clipping factor, given as a number
  // or as a [1] tensor (the GPU-side clip factor).
  for (const shape of [[5], [3, 333]]) {
    for (const key of ['param', 'm', 'v'] as const) {
      for (const tensorScale of shape.length === 1 ? [false, true] : [false]) {
        const opts = { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };
        const scales = [1, 0.6, 0.85];
        const idx = ['param', 'm', 'v'].indexOf(key);
        checks.push({
          op: `adamw ${key}`,
          shape: `${label(shape)} 3 steps${tensorScale ? ' gscale tensor' : ''}`,
          tolerance: TOL_ELEMENTWISE,
          make: (r) => {
            const v = randn(r, shape, 0.1);
            for (let i = 0; i < v.data.length; i++) v.data[i] = Math.abs(v.data[i]);
            return [randn(r, shape), randn(r, shape), randn(r, shape, 0.1), v, { shape: [3], data: Float32Array.from(scales) }];
          },
          cpu: (p, g, m, v, gs) => {
            const [pc, mc, vc] = [p, m, v].map(cloneHost);
            for (let t = 1; t <= 3; t++) {
              const gscale = tensorScale ? { shape: [1], data: gs.data.slice(t - 1, t) } : scales[t - 1];
              adamwCpu(pc, g, mc, vc, { ...opts, step: t, gscale });
            }
            return [pc, mc, vc][idx];
          },
          gpu: (p, g, m, v, gs) => {
            for (let t = 1; t <= 3; t++) {
              let gscale: number | Tensor = scales[t - 1];
              if (tensorScale) {
                gscale = p.ctx.empty([1]);
                p.ctx.copy(gs, t - 1, gscale, 0, 1);
              }
              adamw(p, g, m, v, { ...opts, step: t, gscale });
              if (typeof gscale !== 'number') gscale.release();
            }
            return copyOut([p, m, v][idx]);
          },
        });
      }
    }
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
