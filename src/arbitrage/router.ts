// The learned router of multilingual arbitrage: predicts which teacher will write the best completion
// from the prompt alone, so only that teacher generates. A linear softmax over the teachers on
// features of the prompt (its language, one-hot, and hashed character 1–3-grams, L2-normalised),
// trained by full-batch gradient descent on KL(q ‖ p) where q = softmax(rewards / τ) of a
// reward-based run (the arbitrage paper's loss) — a KL to soft targets, not a cross-entropy to the
// arg-max.
import { LANGUAGE_CODES } from '../data/languages.ts';
import { hashString } from '../util/hash.ts';

export const ROUTER_HASH_BUCKETS = 512;

export interface RouterExample {
  prompt: string;
  language: string;
  /** Mean reward of each teacher on this prompt, in `teachers` order. */
  rewards: number[];
}

export interface RouterOptions {
  /** Temperature of the target distribution softmax(rewards/τ). */
  tau: number;
  epochs: number;
  lr: number;
  l2: number;
}

export const DEFAULT_ROUTER: RouterOptions = { tau: 0.05, epochs: 300, lr: 0.5, l2: 1e-4 };

export interface RouterJson {
  teachers: string[];
  buckets: number;
  weights: number[];
  bias: number[];
  options: RouterOptions;
}

const FEATURES = LANGUAGE_CODES.length + ROUTER_HASH_BUCKETS;

/** Sparse features: [index, value] pairs. */
export function routerFeatures(prompt: string, language: string): Array<[number, number]> {
  const li = LANGUAGE_CODES.indexOf(language);
  if (li < 0) throw new Error(`router: unknown language '${language}'`);
  const counts = new Map<number, number>();
  const cs = Array.from(prompt.toLowerCase());
  for (let n = 1; n <= 3; n++) {
    for (let i = 0; i + n <= cs.length; i++) {
      const b = LANGUAGE_CODES.length + (hashString(n + ':' + cs.slice(i, i + n).join('')) % ROUTER_HASH_BUCKETS);
      counts.set(b, (counts.get(b) ?? 0) + 1);
    }
  }
  let norm = 0;
  for (const v of counts.values()) norm += v * v;
  norm = Math.sqrt(norm) || 1;
  return [[li, 1], ...[...counts].map(([i, v]): [number, number] => [i, v / norm])];
}

export function softmax(z: readonly number[]): number[] {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/** KL(q ‖ p) in nats. */
export function klDivergence(q: readonly number[], p: readonly number[]): number {
  let kl = 0;
  for (let i = 0; i < q.length; i++) if (q[i] > 0) kl += q[i] * Math.log(q[i] / Math.max(p[i], 1e-300));
  return kl;
}

export class Router {
  private constructor(
    readonly teachers: string[],
    private readonly w: Float64Array, // [FEATURES, T]
    private readonly b: Float64Array,
    readonly options: RouterOptions,
  ) {}

  /** Probability of each teacher (in `teachers` order) for this prompt. */
  predict(prompt: string, language: string): number[] {
    const t = this.teachers.length;
    const z = Array.from(this.b);
    for (const [i, v] of routerFeatures(prompt, language)) for (let k = 0; k < t; k++) z[k] += v * this.w[i * t + k];
    return softmax(z);
  }

  /** The teacher the router sends this prompt to (arg-max). */
  route(prompt: string, language: string): string {
    const p = this.predict(prompt, language);
    return this.teachers[p.indexOf(Math.max(...p))];
  }

  /** Mean KL(q ‖ p) over examples. */
  loss(examples: readonly RouterExample[]): number {
    if (examples.length === 0) return 0;
    let s = 0;
    for (const ex of examples) s += klDivergence(softmax(ex.rewards.map((r) => r / this.options.tau)), this.predict(ex.prompt, ex.language));
    return s / examples.length;
  }

  static train(teachers: string[], examples: readonly RouterExample[], options: RouterOptions = DEFAULT_ROUTER, onEpoch?: (epoch: number, loss: number) => void): Router {
    const t = teachers.length;
    if (t < 2) throw new Error('router: needs at least 2 teachers');
    if (examples.length === 0) throw new Error('router: no training examples (run reward-based arbitrage first)');
    for (const ex of examples) {
      if (ex.rewards.length !== t) throw new Error(`router: an example has ${ex.rewards.length} rewards for ${t} teachers`);
    }
    if (!(options.tau > 0)) throw new Error(`router: τ must be > 0, got ${options.tau}`);
    const w = new Float64Array(FEATURES * t);
    const b = new Float64Array(t);
    const router = new Router([...teachers], w, b, options);
    const feats = examples.map((ex) => routerFeatures(ex.prompt, ex.language));
    const targets = examples.map((ex) => softmax(ex.rewards.map((r) => r / options.tau)));
    const gw = new Float64Array(w.length);
    const gb = new Float64Array(t);
    for (let epoch = 0; epoch < options.epochs; epoch++) {
      gw.fill(0);
      gb.fill(0);
      // d KL(q‖softmax(z)) / dz = p − q
      for (let e = 0; e < examples.length; e++) {
        const z = Array.from(b);
        for (const [i, v] of feats[e]) for (let k = 0; k < t; k++) z[k] += v * w[i * t + k];
        const p = softmax(z);
        for (let k = 0; k < t; k++) {
          const d = (p[k] - targets[e][k]) / examples.length;
          gb[k] += d;
          for (const [i, v] of feats[e]) gw[i * t + k] += d * v;
        }
      }
      for (let j = 0; j < w.length; j++) w[j] -= options.lr * (gw[j] + options.l2 * w[j]);
      for (let k = 0; k < t; k++) b[k] -= options.lr * gb[k];
      if (onEpoch && (epoch % 50 === 0 || epoch === options.epochs - 1)) onEpoch(epoch, router.loss(examples));
    }
    return router;
  }

  toJson(): RouterJson {
    return { teachers: this.teachers, buckets: ROUTER_HASH_BUCKETS, weights: Array.from(this.w), bias: Array.from(this.b), options: this.options };
  }

  static fromJson(j: RouterJson): Router {
    if (j.buckets !== ROUTER_HASH_BUCKETS || j.weights.length !== FEATURES * j.teachers.length) throw new Error('router: the saved router does not match this version’s features');
    return new Router(j.teachers, Float64Array.from(j.weights), Float64Array.from(j.bias), j.options);
  }
}
