// The merge math made visible: what a Merge panel draws, computed on the host from the same
// functions the merge uses (methods.ts), so the pictures show exactly what the merge does.
//
// Public API:
//   TaskVectorStats                 accumulates pairwise cosine and sign conflicts of task vectors
//   layerGroupOf(name, numLayers)   which group (embeddings, layer i, final norm) a tensor belongs to
//   downsample(values, shape, maxCells)            a tensor as at most maxCells × maxCells cell means
//   slerpPicture(v0, v1, steps)     the arc (SLERP) and the chord (lerp) in the plane of v0 and v1
//   tiesPicture(base, models, opts) trim / elect / disjoint masks as grids
//   darePicture(base, model, opts)  the drop mask, dropped fraction and both rescale factors
import { bernoulliMaskCpu, magnitudeMaskCpu, rescaleFactorCpu, slerpCoefficients, taskVector } from './methods.ts';
import { tensorPosition } from './config.ts';

/** A tensor reduced to cells: values[r * cols + c] is the mean over the cell's elements. */
export interface Grid {
  rows: number;
  cols: number;
  values: number[];
}

/** Cell means of a tensor viewed as [rows, cols] (the last axis is cols; 1-D tensors are one row). */
export function downsample(values: ArrayLike<number>, shape: readonly number[], maxCells = 64): Grid {
  const cols = shape.length ? shape[shape.length - 1] : 1;
  const rows = values.length / cols;
  const gr = Math.min(rows, maxCells);
  const gc = Math.min(cols, maxCells);
  const sums = new Float64Array(gr * gc);
  const counts = new Float64Array(gr * gc);
  for (let r = 0; r < rows; r++) {
    const cr = Math.floor((r * gr) / rows);
    for (let c = 0; c < cols; c++) {
      const cell = cr * gc + Math.floor((c * gc) / cols);
      sums[cell] += values[r * cols + c];
      counts[cell]++;
    }
  }
  return { rows: gr, cols: gc, values: Array.from(sums, (s, i) => s / counts[i]) };
}

// ---- task-vector statistics (per layer) ----------------------------------------------------------

export interface TaskVectorSummary {
  /** cosine[a][b] between task vectors a and b (1 on the diagonal; 0 for a zero vector). */
  cosine: number[][];
  /** Mean of the off-diagonal cosines (NaN with fewer than 2 models). */
  meanCosine: number;
  /** Fraction of elements where the non-zero task-vector entries do not all have the same sign. */
  signConflict: number;
  /** ‖τ_i‖ per model. */
  norms: number[];
  elements: number;
}

/** Accumulates over any number of tensors (e.g. all of one layer) and summarises them together. */
export class TaskVectorStats {
  private readonly gram: Float64Array;
  private conflicts = 0;
  private elements = 0;

  constructor(readonly models: number) {
    this.gram = new Float64Array(models * models);
  }

  add(base: Float32Array, models: Float32Array[]): void {
    const N = this.models;
    if (models.length !== N) throw new Error(`TaskVectorStats: ${models.length} models, expected ${N}`);
    const tau = new Float64Array(N);
    for (let i = 0; i < base.length; i++) {
      let pos = false;
      let neg = false;
      for (let a = 0; a < N; a++) {
        tau[a] = Math.fround(models[a][i] - base[i]);
        if (tau[a] > 0) pos = true;
        else if (tau[a] < 0) neg = true;
      }
      if (pos && neg) this.conflicts++;
      for (let a = 0; a < N; a++) for (let b = a; b < N; b++) this.gram[a * N + b] += tau[a] * tau[b];
    }
    this.elements += base.length;
  }

  summary(): TaskVectorSummary {
    const N = this.models;
    const g = (a: number, b: number) => this.gram[Math.min(a, b) * N + Math.max(a, b)];
    const norms = Array.from({ length: N }, (_, a) => Math.sqrt(g(a, a)));
    const cosine = Array.from({ length: N }, (_, a) =>
      Array.from({ length: N }, (_, b) => (a === b ? 1 : norms[a] > 0 && norms[b] > 0 ? g(a, b) / (norms[a] * norms[b]) : 0)),
    );
    let sum = 0;
    let pairs = 0;
    for (let a = 0; a < N; a++) for (let b = a + 1; b < N; b++) {
      sum += cosine[a][b];
      pairs++;
    }
    return { cosine, meanCosine: pairs ? sum / pairs : Number.NaN, signConflict: this.elements ? this.conflicts / this.elements : 0, norms, elements: this.elements };
  }
}

export interface LayerGroup {
  /** 'embed', 'layer.3', 'norm' … */
  key: string;
  label: string;
  layer: number | null;
}

export function layerGroupOf(name: string, numLayers: number): LayerGroup {
  const { layer } = tensorPosition(name, numLayers);
  if (layer !== null) return { key: `layer.${layer}`, label: `layer ${layer}`, layer };
  if (name.includes('embed')) return { key: 'embed', label: 'embeddings', layer: null };
  return { key: 'norm', label: 'final norm', layer: null };
}

// ---- SLERP ---------------------------------------------------------------------------------------

export interface SlerpPicture {
  /** cos of the angle between the endpoints, the angle, and mergekit's lerp fallback. */
  dot: number;
  theta: number;
  colinear: boolean;
  norms: [number, number];
  /** Interpolation factors of the points below. */
  ts: number[];
  /** 2-D coordinates in the plane of v0 and v1 (x along v0, y toward v1's orthogonal part): exact,
   *  since every SLERP and lerp point lies in that plane. */
  arc: Array<[number, number]>;
  chord: Array<[number, number]>;
  /** ‖θ(t)‖ along each path: the arc keeps the norm (for equal endpoint norms), the chord shrinks. */
  arcNorms: number[];
  chordNorms: number[];
}

export function slerpPicture(v0: Float32Array, v1: Float32Array, steps = 21): SlerpPicture {
  let d = 0;
  let a = 0;
  let b = 0;
  for (let i = 0; i < v0.length; i++) {
    d += v0[i] * v1[i];
    a += v0[i] * v0[i];
    b += v1[i] * v1[i];
  }
  const n0 = Math.sqrt(a);
  const n1 = Math.sqrt(b);
  // Basis: e1 = v0/‖v0‖; e2 = the unit part of v1 orthogonal to e1.
  const v1x = n0 > 0 ? d / n0 : 0;
  const v1y = Math.sqrt(Math.max(0, b - v1x * v1x));
  const p0: [number, number] = [n0, 0];
  const p1: [number, number] = [v1x, v1y];
  const ts = Array.from({ length: steps }, (_, i) => i / (steps - 1));
  const at = (s0: number, s1: number): [number, number] => [s0 * p0[0] + s1 * p1[0], s0 * p0[1] + s1 * p1[1]];
  const arc = ts.map((t) => {
    const c = slerpCoefficients(t, d, a, b);
    return at(c.s0, c.s1);
  });
  const chord = ts.map((t) => at(1 - t, t));
  const c = slerpCoefficients(0.5, d, a, b);
  return { dot: c.dot, theta: c.colinear ? Math.acos(Math.min(1, Math.max(-1, c.dot))) : c.theta, colinear: c.colinear, norms: [n0, n1], ts, arc, chord, arcNorms: arc.map(([x, y]) => Math.hypot(x, y)), chordNorms: chord.map(([x, y]) => Math.hypot(x, y)) };
}

// ---- TIES ----------------------------------------------------------------------------------------

export interface TiesPicture {
  rows: number;
  cols: number;
  /** Per model: fraction of each cell kept by the magnitude trim. */
  trim: Grid[];
  /** Mean elected sign per cell (+1 all positive, −1 all negative). */
  elect: Grid;
  /** Per model: fraction of each cell that survives trim and agrees with the elected sign. */
  disjoint: Grid[];
  keptFraction: number[];
  /** Per model: fraction of all elements it contributes to the merge. */
  contributes: number[];
}

export function tiesPicture(
  base: Float32Array,
  models: Float32Array[],
  opts: { shape: readonly number[]; densities: number[]; weights: number[]; maxCells?: number; tensor?: string },
): TiesPicture {
  const n = base.length;
  const taus = models.map((m) => taskVector(m, base));
  const masks = taus.map((t, i) => magnitudeMaskCpu(t, opts.densities[i], opts.tensor));
  const elected = new Float64Array(n);
  const agree = models.map(() => new Float64Array(n));
  for (let j = 0; j < n; j++) {
    let vote = 0;
    for (let i = 0; i < models.length; i++) if (masks[i][j]) vote += opts.weights[i] * taus[i][j];
    const s = vote >= 0 ? 1 : -1;
    elected[j] = s;
    for (let i = 0; i < models.length; i++) {
      const wd = masks[i][j] ? opts.weights[i] * taus[i][j] : 0;
      agree[i][j] = Math.sign(wd) === s ? 1 : 0;
    }
  }
  const cells = opts.maxCells ?? 64;
  const trim = masks.map((m) => downsample(m, opts.shape, cells));
  const elect = downsample(elected, opts.shape, cells);
  return {
    rows: elect.rows,
    cols: elect.cols,
    trim,
    elect,
    disjoint: agree.map((a) => downsample(a, opts.shape, cells)),
    keptFraction: masks.map((m) => m.reduce((s, x) => s + x, 0) / n),
    contributes: agree.map((a) => a.reduce((s, x) => s + x, 0) / n),
  };
}

// ---- DARE ----------------------------------------------------------------------------------------

export interface DarePicture {
  density: number;
  /** The fraction actually dropped (≈ 1 − density). */
  dropped: number;
  /** mergekit's rescale (‖τ‖₁ / ‖kept τ‖₁) and the DARE paper's (1 / density). */
  rescaleL1: number;
  rescaleInverseDensity: number;
  /** Kept fraction per cell. */
  kept: Grid;
}

export function darePicture(base: Float32Array, model: Float32Array, opts: { shape: readonly number[]; density: number; key: number; maxCells?: number }): DarePicture {
  const tau = taskVector(model, base);
  const mask = bernoulliMaskCpu(tau.length, opts.key, opts.density);
  const kept = mask.reduce((s, x) => s + x, 0);
  return {
    density: opts.density,
    dropped: 1 - kept / tau.length,
    rescaleL1: opts.density >= 1 ? 1 : rescaleFactorCpu(tau, mask, 'l1', opts.density),
    rescaleInverseDensity: opts.density >= 1 ? 1 : rescaleFactorCpu(tau, mask, 'inverse_density', opts.density),
    kept: downsample(mask, opts.shape, opts.maxCells ?? 64),
  };
}
