// Next-token sampling over one row of logits: temperature, top-k, top-p. Deterministic given the
// uniform draw `u` (the caller's seeded Rng supplies one per token), computed in float64 so Node and
// the browser pick the same token from the same logits.

export interface SamplingOptions {
  /** 0 means greedy (arg-max). */
  temperature: number;
  /** Keep the k most likely tokens; 0 keeps all. */
  topK: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p; 1 keeps all. */
  topP: number;
  maxNewTokens: number;
  /** Hugging Face's `min_new_tokens`: `<eos>` cannot be sampled before this many new tokens (capped
   *  by maxNewTokens). Absent: 0. */
  minNewTokens?: number;
  seed: number;
}

/** The zoo's teachers emit `<eos>` after a few tokens; a completion this long can be compared. */
export const DEFAULT_MIN_NEW_TOKENS = 16;

export const DEFAULT_SAMPLING: SamplingOptions = { temperature: 0.8, topK: 40, topP: 0.95, maxNewTokens: 48, minNewTokens: DEFAULT_MIN_NEW_TOKENS, seed: 1 };

/** The new tokens before which `<eos>` is suppressed. */
export function eosSuppressedUntil(o: Pick<SamplingOptions, 'minNewTokens' | 'maxNewTokens'>): number {
  return Math.min(o.minNewTokens ?? 0, o.maxNewTokens);
}

export function validateSampling(o: SamplingOptions): SamplingOptions {
  if (!Number.isFinite(o.temperature) || o.temperature < 0) throw new Error(`temperature must be ≥ 0, got ${o.temperature}`);
  if (!Number.isInteger(o.topK) || o.topK < 0) throw new Error(`top-k must be a non-negative integer, got ${o.topK}`);
  if (!(o.topP > 0 && o.topP <= 1)) throw new Error(`top-p must be in (0, 1], got ${o.topP}`);
  if (!Number.isInteger(o.maxNewTokens) || o.maxNewTokens < 1) throw new Error(`max new tokens must be a positive integer, got ${o.maxNewTokens}`);
  if (o.minNewTokens !== undefined && (!Number.isInteger(o.minNewTokens) || o.minNewTokens < 0)) throw new Error(`min new tokens must be an integer ≥ 0, got ${o.minNewTokens}`);
  if (!Number.isInteger(o.seed)) throw new Error(`seed must be an integer, got ${o.seed}`);
  return o;
}

/** Token ids ordered by logit, highest first (ties: lower id first); the first k (0: all). No NaN
 *  (callers check). With k set, a bounded insertion keeps the best k seen so far: one comparison
 *  per token for most of the row, instead of sorting the whole vocabulary. */
export function rankedIds(logits: ArrayLike<number>, k: number): number[] {
  const n = logits.length;
  if (k <= 0 || k >= n) {
    const idx = Array.from({ length: n }, (_, i) => i);
    return idx.sort((a, b) => logits[b] - logits[a] || a - b);
  }
  const best: number[] = [];
  for (let i = 0; i < n; i++) {
    const v = logits[i];
    // Ids come in ascending order, so a tie with the worst kept one never displaces it.
    if (best.length === k && !(v > logits[best[k - 1]])) continue;
    let lo = 0;
    let hi = best.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      // Goes after every kept logit ≥ v (those ties have lower ids).
      if (logits[best[mid]] >= v) lo = mid + 1;
      else hi = mid;
    }
    best.splice(lo, 0, i);
    if (best.length > k) best.pop();
  }
  return best;
}

export function nanError(index: number): Error {
  return new Error(`logits contain NaN (token ${index}): the model's weights or activations are broken`);
}

/** How many ranked candidates a choice needs: 1 when greedy, top-k's k, 0 (all) without top-k. */
export function candidatesNeeded(o: Pick<SamplingOptions, 'temperature' | 'topK'>): number {
  return o.temperature === 0 ? 1 : o.topK;
}

export function sampleToken(logits: ArrayLike<number>, o: Pick<SamplingOptions, 'temperature' | 'topK' | 'topP'>, u: number): number {
  for (let i = 0; i < logits.length; i++) {
    if (Number.isNaN(logits[i])) throw nanError(i);
  }
  const ids = rankedIds(logits, candidatesNeeded(o));
  return chooseRanked(ids, ids.map((i) => logits[i]), o, u);
}

/** The choice among candidates already ranked (ids with their logits, highest first, at least
 *  `candidatesNeeded(o)` of them): the GPU ranks on the device (src/ops/topk.ts) and the host
 *  finishes here in float64, so both paths pick the same token for the same draw. */
export function chooseRanked(ids: readonly number[], values: readonly number[], o: Pick<SamplingOptions, 'temperature' | 'topK' | 'topP'>, u: number): number {
  if (o.temperature === 0) return ids[0];
  const top = values[0];
  const w = values.map((v) => Math.exp((v - top) / o.temperature));
  const total = w.reduce((a, b) => a + b, 0);
  let keep = ids.length;
  if (o.topP < 1) {
    let cum = 0;
    for (let j = 0; j < ids.length; j++) {
      cum += w[j] / total;
      if (cum >= o.topP) {
        keep = j + 1;
        break;
      }
    }
  }
  const kept = w.slice(0, keep).reduce((a, b) => a + b, 0);
  let target = u * kept;
  for (let j = 0; j < keep; j++) {
    target -= w[j];
    if (target < 0) return ids[j];
  }
  return ids[keep - 1];
}
