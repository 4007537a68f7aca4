// Counter-based RNG. The hash is PCG's output permutation ("PCG-RXS-M-XS 32"), chosen because it is
// a few integer ops that WGSL evaluates bit-identically, so a seed fixes the same stream in a shader
// and in TypeScript (DARE masks, sampling, init).

/** PCG hash of a 32-bit unsigned integer. Matches `pcg_hash` in shaders. */
export function pcgHash(input: number): number {
  const state = (Math.imul(input >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** The per-seed key of a stream (shaders receive it as a uniform). */
export function rngKey(seed: number): number {
  return pcgHash(((seed >>> 0) ^ 0x9e3779b9) >>> 0);
}

export interface RngState {
  counter: number;
  /** The second normal of a Box–Muller pair, when one is waiting. */
  spare: number | null;
}

/** Deterministic stream: value i is pcgHash(seed-mixed counter i). */
export class Rng {
  private counter = 0;
  private readonly key: number;
  private spare: number | null = null;

  constructor(seed: number) {
    this.key = rngKey(seed);
  }

  /** Next 32-bit unsigned integer. */
  u32(): number {
    return pcgHash((this.key + pcgHash(this.counter++)) >>> 0);
  }

  /** Uniform in [0, 1) with 24 bits of precision (exactly representable in f32). */
  uniform(): number {
    return (this.u32() >>> 8) / 16777216;
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    let u = this.uniform();
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Where the stream is (with its seed, all it takes to continue it: a resumed run). */
  state(): RngState {
    return { counter: this.counter, spare: this.spare };
  }

  /** Continues from a saved state (of a stream with the same seed). */
  restore(s: RngState): this {
    if (!Number.isSafeInteger(s?.counter) || s.counter < 0 || (s.spare !== null && typeof s.spare !== 'number')) throw new Error(`not an RNG state: ${JSON.stringify(s)?.slice(0, 80)}`);
    this.counter = s.counter;
    this.spare = s.spare;
    return this;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** 0..n−1 in a seeded random order (Fisher–Yates). */
  permutation(n: number): number[] {
    const a = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [a[i], a[j]] = [a[j], a[i]];
    }
    return a;
  }
}
