// Matmul kernels chosen by measurement (issue 14, item 1): when asked (the Engine panel, `aya-playground
// tune`), every variant this device runs is timed at the shapes a model uses, in three classes of
// row count — decoding one sequence, decoding a batch of samples, and prefill/training — and the
// fastest is kept per class. A variant is eligible only if its outputs equal v1's bit for bit at
// those shapes (and, for the decoding classes, it is one of the row-exact kernels): then a chosen
// variant gives v1's results, and batched decoding stays row-exact. The choice is kept per adapter
// and kernel source by the platform (IndexedDB in the tab, a file in the runtime and the CLI) and
// applied to every new device; the Engine panel shows it and can measure again.
import type { AdapterSummary, GpuContext, Tensor } from '../gpu/context.ts';
import { hostTensor } from '../gpu/host.ts';
import { Rng } from '../util/rng.ts';
import { shaderSource } from '../gpu/shaders.ts';
import { availableVariants, defaultVariant, type MatmulClass, matmul, matmulChoiceKey, matmulTN, ROW_EXACT_VARIANTS } from './matmul.ts';

/** Rows timed per class, and the row counts each class serves (matmulClassOf). */
export const MATMUL_CLASSES: ReadonlyArray<{ name: MatmulClass; m: number; serves: string }> = [
  { name: 'decode', m: 1, serves: '1–4 rows: decoding one sequence' },
  { name: 'batched', m: 8, serves: '5–16 rows: decoding samples together, short prompts' },
  { name: 'bulk', m: 64, serves: 'more than 16 rows: prefill and training' },
];

/** The model dimensions the timed shapes come from. */
export interface TuneShapes {
  hidden: number;
  /** q, k and v outputs side by side. */
  qkv: number;
  intermediate: number;
  vocab: number;
}

export interface TuneRow {
  cls: MatmulClass;
  variant: string;
  /** Summed median time over the class's shapes; null when the variant failed. */
  ms: number | null;
  /** Outputs equal v1's bit for bit (eligible). */
  exact: boolean;
  note?: string;
  error?: string;
}

export interface KernelChoices {
  /** Which adapter this was measured on (adapterSignature). */
  adapter: string;
  /** A hash of the matmul kernels' sources: a choice measured on other kernels is not applied. */
  kernels: string;
  measuredAt: string;
  shapes: TuneShapes;
  choices: Record<MatmulClass, string>;
  rows: TuneRow[];
  seconds: number;
}

export function adapterSignature(a: AdapterSummary): string {
  return [a.runtime, a.vendor, a.architecture, a.device, a.description, a.enabledFeatures.join('+')].join(' | ');
}

/** (M, N, K, kind) of every matmul a decoder layer and the output head run, for M rows. */
function shapesFor(s: TuneShapes, m: number, withGrads: boolean): Array<{ m: number; n: number; k: number; kind: 'nt' | 'nn' | 'tn' }> {
  const proj: Array<[number, number]> = [[s.qkv, s.hidden], [s.hidden, s.hidden], [2 * s.intermediate, s.hidden], [s.hidden, s.intermediate], [s.vocab, s.hidden]];
  const out: Array<{ m: number; n: number; k: number; kind: 'nt' | 'nn' | 'tn' }> = proj.map(([n, k]) => ({ m, n, k, kind: 'nt' }));
  // Training's backward: dX = dY·W (nn) and dW = dYᵀ·X (tn) for each projection.
  if (withGrads) for (const [n, k] of proj) out.push({ m, n: k, k: n, kind: 'nn' }, { m: n, n: k, k: m, kind: 'tn' });
  return out;
}

export interface TuneOptions {
  /** Timed runs per variant (the median counts). */
  reps?: number;
  onProgress?: (done: number, total: number) => void;
  shouldStop?: () => boolean;
}

/** A variant more than this many times slower than the best so far on its first timed run is not
 *  timed further (v3's workgroup tiling takes seconds per run on a CPU adapter). */
const GIVE_UP_RATIO = 2;

/** Times every available variant per class; a cancel throws (nothing half-measured is kept). */
export async function tuneMatmul(ctx: GpuContext, shapes: TuneShapes, opts: TuneOptions = {}): Promise<KernelChoices> {
  const t0 = performance.now();
  const reps = opts.reps ?? 3;
  const variants = availableVariants(ctx).map((v) => v.name);
  const rows: TuneRow[] = [];
  const choices = {} as Record<MatmulClass, string>;
  const rng = new Rng(1);
  const random = (shape: number[]) => hostTensor(shape, Float32Array.from({ length: shape[0] * shape[1] }, () => rng.uniform() * 2 - 1));
  let done = 0;
  const total = MATMUL_CLASSES.length * variants.length;
  for (const cls of MATMUL_CLASSES) {
    const work = shapesFor(shapes, cls.m, cls.name === 'bulk').map((w) => {
      const [as, bs] = w.kind === 'nt' ? [[w.m, w.k], [w.n, w.k]] : w.kind === 'nn' ? [[w.m, w.k], [w.k, w.n]] : [[w.k, w.m], [w.k, w.n]];
      return { ...w, a: ctx.upload(random(as)), b: ctx.upload(random(bs)) };
    });
    const run = (variant: string): Tensor[] => work.map((w) => (w.kind === 'tn' ? matmulTN(w.a, w.b, { variant }) : matmul(w.a, w.b, { transB: w.kind === 'nt', variant })));
    const bits = async (ts: Tensor[]) => {
      try {
        const out: Uint32Array[] = [];
        for (const t of ts) {
          const h = await t.read();
          out.push(new Uint32Array(h.data.buffer, h.data.byteOffset, h.data.length));
        }
        return out;
      } finally {
        for (const t of ts) t.release();
      }
    };
    const timed = async (variant: string) => {
      const s0 = performance.now();
      const ts = run(variant);
      try {
        await ctx.sync();
      } finally {
        for (const t of ts) t.release();
      }
      return performance.now() - s0;
    };
    try {
      const reference = await bits(run('v1'));
      // The built-in rule's pick first: the best so far is then a good one to give up against.
      const order = [defaultVariant(ctx, cls.m), ...variants.filter((v) => v !== defaultVariant(ctx, cls.m))];
      let best: { variant: string; ms: number } | null = null;
      for (const variant of order) {
        if (opts.shouldStop?.()) throw new Error('kernel measurement cancelled');
        try {
          const got = await bits(run(variant)); // compiles, and checks the bits
          const exact = got.every((g, i) => g.length === reference[i].length && g.every((x, j) => x === reference[i][j]));
          const times = [await timed(variant)];
          if (!best || times[0] <= GIVE_UP_RATIO * best.ms) while (times.length < reps) times.push(await timed(variant));
          const ms = times.sort((a, b) => a - b)[Math.floor((times.length - 1) / 2)];
          rows.push({ cls: cls.name, variant, ms, exact, ...(times.length < reps ? { note: `one run: over ${GIVE_UP_RATIO}× the best` } : {}) });
          const eligible = exact && (cls.name === 'bulk' || (ROW_EXACT_VARIANTS as readonly string[]).includes(variant));
          if (eligible && (!best || ms < best.ms)) best = { variant, ms };
        } catch (e) {
          rows.push({ cls: cls.name, variant, ms: null, exact: false, error: (e as Error).message });
        }
        opts.onProgress?.(++done, total);
      }
      choices[cls.name] = best?.variant ?? 'v1';
    } finally {
      for (const w of work) {
        w.a.release();
        w.b.release();
      }
    }
  }
  return { adapter: adapterSignature(ctx.adapter), kernels: kernelSourceHash(ctx), measuredAt: new Date().toISOString(), shapes, choices, rows, seconds: (performance.now() - t0) / 1000 };
}

/** Uses these choices for every matmul on this context (they must be for its adapter). */
export function applyKernelChoices(ctx: GpuContext, k: KernelChoices): void {
  if (k.adapter !== adapterSignature(ctx.adapter)) throw new Error(`kernel choices were measured on another adapter (${k.adapter})`);
  if (k.kernels !== kernelSourceHash(ctx)) throw new Error('kernel choices were measured on other versions of the kernels');
  const names = new Set(availableVariants(ctx).map((v) => v.name));
  for (const cls of MATMUL_CLASSES) {
    const v = k.choices[cls.name];
    if (names.has(v)) ctx.choices.set(matmulChoiceKey(cls.name), v);
    else ctx.choices.delete(matmulChoiceKey(cls.name));
  }
}

/** FNV-1a over the sources of every matmul kernel this device runs. */
export function kernelSourceHash(ctx: GpuContext): string {
  const modules = new Set(availableVariants(ctx).flatMap((v) => [v.nn.shader, v.nt.shader, v.tn.shader]));
  let h = 0x811c9dc5;
  for (const name of [...modules].sort()) {
    const src = `${name}\n${shaderSource(name)}`;
    for (let i = 0; i < src.length; i++) h = Math.imul(h ^ src.charCodeAt(i), 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}
