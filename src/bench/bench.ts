// The benchmark harness: the adapter's measured FMA peak, then matmul GFLOP/s for every kernel
// variant at square sizes and at the model's projection shapes, each as a fraction of that peak.
// Timings are medians of repeated runs after a warm-up; nothing here asserts a speed.
import type { GpuContext, Tensor } from '../gpu/context.ts';
import { grid1d } from '../gpu/context.ts';
import type { HostTensor } from '../gpu/host.ts';
import { availableVariants, defaultVariant, matmul } from '../ops/matmul.ts';
import { f32, packUniforms } from '../ops/uniforms.ts';
import { PEAK_CONFIGS, PEAK_WORKGROUP, peakFlops, peakShaderName } from './peakKernel.ts';
import { benchModel, type ModelBenchResult } from './modelBench.ts';

/** The zoo's model: the tiny preset with the universal tokenizer's 4096-token vocabulary. */
const ZOO_PRESET = 'tiny';
const ZOO_VOCAB = 4096;
import { Rng } from '../util/rng.ts';

export interface PeakResult {
  gflops: number;
  kernel: string;
  invocations: number;
  iters: number;
  ms: number;
}

export interface MatmulBenchRow {
  group: 'square' | 'model';
  label: string;
  m: number;
  n: number;
  k: number;
  batch: number;
  transB: boolean;
  variant: string;
  ms: number;
  gflops: number;
  /** gflops / measured peak */
  ratio: number;
}

export interface BenchReport {
  peak: PeakResult;
  matmul: MatmulBenchRow[];
  /** Whole-model throughput at the zoo's configuration (tiny preset, batch 8 × 64). */
  model: ModelBenchResult | null;
  defaultVariant: string;
  /** Best A·B variant at 512³ (the yardstick). */
  at512: { variant: string; gflops: number; ratio: number } | null;
  startedAt: string;
  seconds: number;
}

export interface BenchOptions {
  /** Square sizes to time (default 256, 512, 1024). */
  sizes?: number[];
  /** Variants to time (default: all). */
  variants?: string[];
  /** Include the model-shape rows (default true). */
  modelShapes?: boolean;
  /** Target seconds of timed work per row (default 0.4). */
  secondsPerRow?: number;
  /** Time the whole model (forward, training step, decoding) at the zoo configuration (default true). */
  model?: boolean;
}

export interface BenchProgress {
  fraction: number;
  message: string;
  row?: MatmulBenchRow;
  peak?: PeakResult;
}

/** Projections of the playground's default small model (hidden 256, 4 heads of 64, 2 KV heads,
 *  MLP 1024, vocabulary 4096) over a 128-token batch, plus one decoding step (M = 1). */
export const MODEL_SHAPES: ReadonlyArray<{ label: string; m: number; n: number; k: number }> = [
  { label: 'q/o proj 128×256 · (256×256)ᵀ', m: 128, n: 256, k: 256 },
  { label: 'k/v proj 128×256 · (128×256)ᵀ', m: 128, n: 128, k: 256 },
  { label: 'gate/up 128×256 · (1024×256)ᵀ', m: 128, n: 1024, k: 256 },
  { label: 'down 128×1024 · (256×1024)ᵀ', m: 128, n: 256, k: 1024 },
  { label: 'logits 128×256 · (4096×256)ᵀ', m: 128, n: 4096, k: 256 },
  { label: 'decode gate/up 1×256 · (1024×256)ᵀ', m: 1, n: 1024, k: 256 },
];

function randomHost(rng: Rng, shape: number[]): HostTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = rng.uniform() * 2 - 1;
  return { shape, data };
}

/** Runs `work` repeatedly (after one warm-up) until `seconds` have passed (at least 3 runs);
 *  returns the median milliseconds per run. Each timed run is its own submission. */
async function timeMedian(ctx: GpuContext, work: () => void, seconds: number, shouldStop?: () => boolean): Promise<number> {
  work();
  await ctx.sync();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < 3 || (performance.now() - start < seconds * 1000 && times.length < 50)) {
    if (shouldStop?.()) break;
    const t0 = performance.now();
    work();
    await ctx.sync();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

export async function measurePeak(ctx: GpuContext, seconds = 0.4): Promise<PeakResult> {
  const invocations = 8192;
  const sink = ctx.empty([invocations * 4]);
  let best: PeakResult | null = null;
  for (const cfg of PEAK_CONFIGS) {
    let iters = 4;
    const run = (): void =>
      ctx.dispatch({
        shader: peakShaderName(cfg),
        entry: 'main',
        bindings: [sink],
        uniforms: packUniforms([iters, f32(0.9999), f32(0.0001)]),
        workgroups: grid1d(invocations / PEAK_WORKGROUP),
      });
    run(); // compiles the pipeline; not timed
    await ctx.sync();
    // Grow the loop until one run takes ≥ 40 ms, so dispatch overhead is noise.
    for (;;) {
      const t0 = performance.now();
      run();
      await ctx.sync();
      if (performance.now() - t0 >= 40 || iters >= 1 << 20) break;
      iters *= 2;
    }
    const ms = await timeMedian(ctx, run, seconds / PEAK_CONFIGS.length);
    const gflops = peakFlops(cfg, invocations, iters) / (ms * 1e6);
    if (!best || gflops > best.gflops) {
      best = { gflops, kernel: `${cfg.chains} vec4 FMA chains, body unrolled ×${cfg.unroll} (src/bench/peakKernel.ts)`, invocations, iters, ms };
    }
  }
  sink.release();
  return best as PeakResult;
}

export async function runBench(
  ctx: GpuContext,
  opts: BenchOptions = {},
  onProgress?: (p: BenchProgress) => void,
  shouldStop?: () => boolean,
): Promise<BenchReport> {
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const sizes = opts.sizes ?? [256, 512, 1024];
  const variants = availableVariants(ctx).filter((v) => !opts.variants || opts.variants.includes(v.name));
  const seconds = opts.secondsPerRow ?? 0.4;
  const cases: Array<Omit<MatmulBenchRow, 'ms' | 'gflops' | 'ratio'>> = [];
  for (const s of sizes) {
    for (const transB of [false, true]) {
      for (const v of variants) {
        cases.push({ group: 'square', label: `${s}³ ${transB ? 'A·Bᵀ' : 'A·B'}`, m: s, n: s, k: s, batch: 1, transB, variant: v.name });
      }
    }
  }
  if (opts.modelShapes !== false) {
    for (const sh of MODEL_SHAPES) {
      for (const v of variants) cases.push({ group: 'model', ...sh, batch: 1, transB: true, variant: v.name });
    }
  }
  onProgress?.({ fraction: 0, message: 'measuring the FMA peak' });
  const peak = await measurePeak(ctx, seconds);
  onProgress?.({ fraction: 1 / (cases.length + 1), message: `peak ${peak.gflops.toFixed(2)} GFLOP/s`, peak });

  const rng = new Rng(1234);
  const rows: MatmulBenchRow[] = [];
  for (let i = 0; i < cases.length; i++) {
    if (shouldStop?.()) break;
    const c = cases[i];
    const a = ctx.upload(randomHost(rng, [c.m, c.k]));
    const b = ctx.upload(randomHost(rng, c.transB ? [c.n, c.k] : [c.k, c.n]));
    let out: Tensor | null = null;
    const ms = await timeMedian(
      ctx,
      () => {
        out?.release();
        out = matmul(a, b, { transB: c.transB, variant: c.variant });
      },
      seconds,
      shouldStop,
    );
    (out as Tensor | null)?.release();
    a.release();
    b.release();
    const gflops = (2 * c.m * c.n * c.k * c.batch) / (ms * 1e6);
    const row: MatmulBenchRow = { ...c, ms, gflops, ratio: gflops / peak.gflops };
    rows.push(row);
    onProgress?.({ fraction: (i + 2) / (cases.length + 1), message: `${c.label} ${c.variant}: ${gflops.toFixed(2)} GFLOP/s`, row });
  }
  let model: ModelBenchResult | null = null;
  if (opts.model !== false && !shouldStop?.()) {
    onProgress?.({ fraction: 0.99, message: 'model: forward, training step, decoding (tiny preset, batch 8 × 64)' });
    model = await benchModel(ctx, ZOO_PRESET, ZOO_VOCAB, 8, 64, peak.gflops);
  }
  const at512Rows = rows.filter((r) => r.group === 'square' && r.m === 512 && !r.transB);
  const best = at512Rows.sort((x, y) => y.gflops - x.gflops)[0];
  return {
    peak,
    matmul: rows,
    model,
    defaultVariant: defaultVariant(ctx),
    at512: best ? { variant: best.variant, gflops: best.gflops, ratio: best.ratio } : null,
    startedAt,
    seconds: (performance.now() - started) / 1000,
  };
}
