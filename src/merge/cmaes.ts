// CMA-ES (Hansen's (μ/μ_w, λ)-CMA-ES with cumulative step-size adaptation and rank-one + rank-μ
// covariance updates, as in "The CMA Evolution Strategy: A Tutorial", arXiv 1604.00772, and the
// reference `purecma.py`), plus the two maps from an unconstrained search space onto the
// probability simplex that the merge-weight search uses. Khalifa et al. (arXiv 2412.04144) optimise
// merge weights on the simplex with CMA-ES; mergekit-evolve does the same over mergekit parameters.
//
// Everything is deterministic: samples come from the seeded Rng (src/util/rng.ts), so a seed fixes
// every candidate. Plain TypeScript, no GPU, no DOM.
//
// Public API:
//   class CmaEs { ask(), tell(candidates, fitness), mean, sigma, generation, best }   minimises
//   defaultPopulationSize(dim) = 4 + ⌊3 ln dim⌋
//   minimize(f, x0, sigma0, budget, rng) → { x, f, evaluations }   a whole run (for tests and small jobs)
//   softmaxSimplex(z) → weights           z ∈ R^{n−1}, weights = softmax([z, 0])
//   projectToSimplex(x) → weights         Euclidean projection onto {w ≥ 0, Σw = 1}
//   symmetricEigen(A) → { values, vectors }   Jacobi rotations (small dense symmetric matrices)
import { Rng } from '../util/rng.ts';

export function defaultPopulationSize(dim: number): number {
  return 4 + Math.floor(3 * Math.log(Math.max(1, dim)));
}

/** Eigen-decomposition of a symmetric matrix by cyclic Jacobi rotations: A = V diag(values) Vᵀ,
 *  eigenvectors in the columns of `vectors` (vectors[row][col]). Exact enough for the ≤ 8×8
 *  covariance matrices here, and free of any dependency. */
export function symmetricEigen(A: number[][]): { values: number[]; vectors: number[][] } {
  const n = A.length;
  const a = A.map((row) => [...row]);
  const v: number[][] = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p][q] * a[p][q];
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        if (Math.abs(a[p][q]) < 1e-300) continue;
        const theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k][p];
          const akq = a[k][q];
          a[k][p] = c * akp - s * akq;
          a[k][q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p][k];
          const aqk = a[q][k];
          a[p][k] = c * apk - s * aqk;
          a[q][k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k][p];
          const vkq = v[k][q];
          v[k][p] = c * vkp - s * vkq;
          v[k][q] = s * vkp + c * vkq;
        }
      }
    }
  }
  return { values: a.map((row, i) => row[i]), vectors: v };
}

export interface CmaEsOptions {
  /** λ, candidates per generation (default 4 + ⌊3 ln dim⌋). */
  populationSize?: number;
}

/** Minimises a function of `mean.length` real variables. ask() → evaluate → tell(), repeatedly. */
export class CmaEs {
  readonly dim: number;
  readonly lambda: number;
  readonly mu: number;
  mean: number[];
  sigma: number;
  generation = 0;
  /** The best candidate told so far. */
  best: { x: number[]; f: number } | null = null;

  private readonly weights: number[];
  private readonly mueff: number;
  private readonly cc: number;
  private readonly cs: number;
  private readonly c1: number;
  private readonly cmu: number;
  private readonly damps: number;
  private readonly chiN: number;
  private C: number[][];
  private B: number[][];
  private D: number[];
  private pc: number[];
  private ps: number[];
  private readonly rng: Rng;

  constructor(mean: number[], sigma: number, rng: Rng, opts: CmaEsOptions = {}) {
    const n = mean.length;
    if (n < 1) throw new Error('CMA-ES needs at least one dimension');
    if (!(sigma > 0) || !Number.isFinite(sigma)) throw new Error(`CMA-ES: the initial step size must be a positive number, got ${sigma}`);
    this.dim = n;
    this.mean = [...mean];
    this.sigma = sigma;
    this.rng = rng;
    this.lambda = opts.populationSize ?? defaultPopulationSize(n);
    if (!Number.isInteger(this.lambda) || this.lambda < 2) throw new Error(`CMA-ES: the population size must be an integer ≥ 2, got ${this.lambda}`);
    this.mu = Math.floor(this.lambda / 2);
    const raw = Array.from({ length: this.mu }, (_, i) => Math.log((this.lambda + 1) / 2) - Math.log(i + 1));
    const sum = raw.reduce((a, b) => a + b, 0);
    this.weights = raw.map((w) => w / sum);
    this.mueff = 1 / this.weights.reduce((a, w) => a + w * w, 0);
    const me = this.mueff;
    this.cc = (4 + me / n) / (n + 4 + (2 * me) / n);
    this.cs = (me + 2) / (n + me + 5);
    this.c1 = 2 / ((n + 1.3) ** 2 + me);
    this.cmu = Math.min(1 - this.c1, (2 * (me - 2 + 1 / me)) / ((n + 2) ** 2 + me));
    this.damps = 1 + 2 * Math.max(0, Math.sqrt((me - 1) / (n + 1)) - 1) + this.cs;
    this.chiN = Math.sqrt(n) * (1 - 1 / (4 * n) + 1 / (21 * n * n));
    this.C = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j): number => (i === j ? 1 : 0)));
    this.B = this.C.map((r) => [...r]);
    this.D = new Array(n).fill(1);
    this.pc = new Array(n).fill(0);
    this.ps = new Array(n).fill(0);
  }

  /** λ new candidates x = m + σ·B·D·z, z ~ N(0, I). */
  ask(): number[][] {
    const n = this.dim;
    const out: number[][] = [];
    for (let k = 0; k < this.lambda; k++) {
      const z = Array.from({ length: n }, () => this.rng.normal());
      const x = new Array(n);
      for (let i = 0; i < n; i++) {
        let y = 0;
        for (let j = 0; j < n; j++) y += this.B[i][j] * this.D[j] * z[j];
        x[i] = this.mean[i] + this.sigma * y;
      }
      out.push(x);
    }
    return out;
  }

  /** Updates the distribution from one generation's candidates and their fitness (lower is
   *  better). Fewer than λ candidates are accepted (a budget cut the generation short) as long as
   *  there are at least μ of them. */
  tell(candidates: number[][], fitness: number[]): void {
    const n = this.dim;
    if (candidates.length !== fitness.length) throw new Error('CMA-ES: one fitness value per candidate');
    if (candidates.length < this.mu) throw new Error(`CMA-ES: need at least μ = ${this.mu} candidates, got ${candidates.length}`);
    for (let k = 0; k < candidates.length; k++) {
      if (!Number.isFinite(fitness[k])) throw new Error(`CMA-ES: fitness ${fitness[k]} of candidate ${k} is not finite`);
      if (!this.best || fitness[k] < this.best.f) this.best = { x: [...candidates[k]], f: fitness[k] };
    }
    // Stable sort by fitness, ties by index, so equal values never depend on the engine's sort.
    const order = candidates.map((_, k) => k).sort((a, b) => fitness[a] - fitness[b] || a - b);
    const old = this.mean;
    const mean = new Array(n).fill(0);
    for (let r = 0; r < this.mu; r++) for (let i = 0; i < n; i++) mean[i] += this.weights[r] * candidates[order[r]][i];
    this.mean = mean;
    const yw = mean.map((m, i) => (m - old[i]) / this.sigma);

    // C^{-1/2}·y_w = B·D⁻¹·Bᵀ·y_w
    const bty = new Array(n).fill(0);
    for (let j = 0; j < n; j++) for (let i = 0; i < n; i++) bty[j] += this.B[i][j] * yw[i];
    const invSqrtCy = new Array(n).fill(0);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) invSqrtCy[i] += (this.B[i][j] * bty[j]) / this.D[j];

    const csFactor = Math.sqrt(this.cs * (2 - this.cs) * this.mueff);
    for (let i = 0; i < n; i++) this.ps[i] = (1 - this.cs) * this.ps[i] + csFactor * invSqrtCy[i];
    const psNorm = Math.sqrt(this.ps.reduce((a, x) => a + x * x, 0));
    const g = this.generation + 1;
    const hsig = psNorm / Math.sqrt(1 - (1 - this.cs) ** (2 * g)) / this.chiN < 1.4 + 2 / (n + 1) ? 1 : 0;
    const ccFactor = Math.sqrt(this.cc * (2 - this.cc) * this.mueff);
    for (let i = 0; i < n; i++) this.pc[i] = (1 - this.cc) * this.pc[i] + hsig * ccFactor * yw[i];

    const ys = order.slice(0, this.mu).map((k) => candidates[k].map((x, i) => (x - old[i]) / this.sigma));
    const c1a = this.c1 * (1 - (1 - hsig) * this.cc * (2 - this.cc));
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let rankMu = 0;
        for (let r = 0; r < this.mu; r++) rankMu += this.weights[r] * ys[r][i] * ys[r][j];
        this.C[i][j] = (1 - c1a - this.cmu) * this.C[i][j] + this.c1 * this.pc[i] * this.pc[j] + this.cmu * rankMu;
      }
    }
    this.sigma *= Math.exp(Math.min(1, (this.cs / this.damps) * (psNorm / this.chiN - 1)));
    this.generation = g;

    // Symmetrise against rounding, then refresh B and D (cheap at these sizes: every generation).
    for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) this.C[i][j] = this.C[j][i] = (this.C[i][j] + this.C[j][i]) / 2;
    const { values, vectors } = symmetricEigen(this.C);
    this.D = values.map((v) => Math.sqrt(Math.max(v, 1e-20)));
    this.B = vectors;
  }
}

/** A whole CMA-ES run on `f` for `budget` evaluations (the last generation may be partial). */
export function minimize(f: (x: number[]) => number, x0: number[], sigma0: number, budget: number, rng: Rng, opts: CmaEsOptions = {}): { x: number[]; f: number; evaluations: number } {
  const es = new CmaEs(x0, sigma0, rng, opts);
  let evaluations = 0;
  let best = { x: [...x0], f: Number.POSITIVE_INFINITY };
  while (evaluations < budget) {
    const xs = es.ask().slice(0, budget - evaluations);
    const fs = xs.map((x) => f(x));
    evaluations += xs.length;
    xs.forEach((x, k) => fs[k] < best.f && (best = { x, f: fs[k] }));
    if (xs.length >= es.mu) es.tell(xs, fs);
  }
  return { ...best, evaluations };
}

/** weights = softmax([z₁ … z_{n−1}, 0]): every z is a point of the open simplex, z = 0 is the
 *  uniform mixture, and fixing the last logit at 0 removes softmax's shift invariance. */
export function softmaxSimplex(z: readonly number[]): number[] {
  const logits = [...z, 0];
  const max = Math.max(...logits);
  const e = logits.map((x) => Math.exp(x - max));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

/** Euclidean projection onto the probability simplex (Duchi et al. 2008): exact zeros are
 *  reachable, unlike with softmax. */
export function projectToSimplex(x: readonly number[]): number[] {
  const u = [...x].sort((a, b) => b - a);
  let cum = 0;
  let theta = 0;
  for (let i = 0; i < u.length; i++) {
    cum += u[i];
    const t = (cum - 1) / (i + 1);
    if (u[i] - t > 0) theta = t;
  }
  const w = x.map((v) => Math.max(v - theta, 0));
  // Divide out the rounding of the subtraction, so a vertex comes out as exactly 1.
  const sum = w.reduce((a, b) => a + b, 0);
  return w.map((v) => v / sum);
}
