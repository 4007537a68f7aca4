// Per-token log-probabilities of a sequence under the model, and the over-optimisation indicators
// of arXiv 2410.11677 at each position: entropy (log2) of the top-10 next-token probabilities and
// their total mass. Entry i describes p(· | ids[<i]); entry 0 has no context and is null.
import type { AyaModel } from './model.ts';

export interface LogprobsResult {
  ids: number[];
  logprobs: Array<number | null>;
  top10_entropy: Array<number | null>;
  top10_mass: Array<number | null>;
}

/** log-softmax of one row, in float64. */
export function logSoftmax(row: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) max = Math.max(max, row[i]);
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i] - max);
  const lse = max + Math.log(sum);
  const out = new Float64Array(row.length);
  for (let i = 0; i < row.length; i++) out[i] = row[i] - lse;
  return out;
}

/** H = −Σ_{i≤10} p_i log2 p_i over the 10 largest probabilities (not renormalised), and Σ p_i. */
export function top10Stats(logp: Float64Array): { entropy: number; mass: number } {
  const top = Array.from(logp).sort((a, b) => b - a).slice(0, 10);
  let entropy = 0;
  let mass = 0;
  for (const lp of top) {
    const p = Math.exp(lp);
    mass += p;
    if (p > 0) entropy -= p * (lp / Math.LN2);
  }
  return { entropy, mass };
}

export async function sequenceLogprobs(model: AyaModel, ids: number[]): Promise<LogprobsResult> {
  if (ids.length === 0) throw new Error('logprobs: empty sequence');
  const v = model.config.vocabSize;
  const logits = model.forward([ids]);
  const data = (await logits.read()).data;
  logits.release();
  const result: LogprobsResult = { ids, logprobs: [null], top10_entropy: [null], top10_mass: [null] };
  for (let i = 1; i < ids.length; i++) {
    const logp = logSoftmax(data.subarray((i - 1) * v, i * v));
    const { entropy, mass } = top10Stats(logp);
    result.logprobs.push(logp[ids[i]]);
    result.top10_entropy.push(entropy);
    result.top10_mass.push(mass);
  }
  return result;
}

/** One generated token's log-probability and the `k` most likely alternatives (OpenAI's
 *  `logprobs` / `top_logprobs`), under the model's own distribution (before temperature). */
export interface TokenLogprob {
  id: number;
  logprob: number;
  top: Array<{ id: number; logprob: number }>;
}

export function tokenLogprob(logp: ArrayLike<number>, id: number, k: number): TokenLogprob {
  const top: Array<{ id: number; logprob: number }> = [];
  if (k > 0) {
    for (let t = 0; t < logp.length; t++) {
      const lp = logp[t];
      if (top.length < k || lp > top[top.length - 1].logprob) {
        top.push({ id: t, logprob: lp });
        top.sort((a, b) => b.logprob - a.logprob || a.id - b.id);
        if (top.length > k) top.pop();
      }
    }
  }
  return { id, logprob: logp[id], top };
}

/** Log-probabilities of `generated` after `prompt`, one forward pass over both. */
export async function generatedLogprobs(model: AyaModel, prompt: number[], generated: number[], k: number): Promise<TokenLogprob[]> {
  if (generated.length === 0) return [];
  const v = model.config.vocabSize;
  const logits = model.forward([[...prompt, ...generated]]);
  const data = (await logits.read()).data;
  logits.release();
  return generated.map((id, i) => tokenLogprob(logSoftmax(data.subarray((prompt.length - 1 + i) * v, (prompt.length + i) * v)), id, k));
}
