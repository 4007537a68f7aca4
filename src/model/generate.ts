// Autoregressive generation with a KV cache: prefill the prompt, then one token at a time.
import type { Tensor } from '../gpu/context.ts';
import { decodeVariant } from '../ops/matmul.ts';
import { rankRows, TOPK_MAX } from '../ops/topk.ts';
import { Rng } from '../util/rng.ts';
import { headDim } from './config.ts';
import type { AyaModel, KvCache } from './model.ts';
import type { ChoiceConstraint } from './constrained.ts';
import { candidatesNeeded, chooseRanked, eosSuppressedUntil, nanError, rankedIds, type SamplingOptions, sampleToken, validateSampling } from './sample.ts';

export interface GeneratedToken {
  id: number;
  /** Index of this token among the new ones. */
  index: number;
  /** Wall time since generation started (prefill included). */
  ms: number;
}

export type StopReason = 'eos' | 'max-tokens' | 'context-full' | 'cancelled';

/** Yields each new token as soon as it is sampled; returns why generation stopped. */
export async function* generate(
  model: AyaModel,
  promptIds: number[],
  opts: SamplingOptions,
  shouldStop?: () => boolean,
  /** Only texts the constraint allows (min_new_tokens does not apply: the choices set the length). */
  constraint?: ChoiceConstraint,
): AsyncGenerator<GeneratedToken, StopReason> {
  validateSampling(opts);
  if (promptIds.length === 0) throw new Error('generate: empty prompt');
  const c = model.config;
  const capacity = Math.min(c.maxPositionEmbeddings, promptIds.length + opts.maxNewTokens);
  if (promptIds.length >= c.maxPositionEmbeddings) {
    throw new Error(`the prompt has ${promptIds.length} tokens; this model's context is ${c.maxPositionEmbeddings}`);
  }
  const rng = new Rng(opts.seed);
  const minNew = eosSuppressedUntil(opts);
  const cache = model.createCache(1, capacity);
  const t0 = performance.now();
  try {
    let input = promptIds;
    for (let index = 0; index < opts.maxNewTokens; index++) {
      if (shouldStop?.()) return 'cancelled';
      if (constraint?.complete()) return 'eos';
      if (cache.length + input.length > capacity) return 'context-full';
      const logits = model.forward([input], { cache, lastOnly: true });
      // min_new_tokens (HF's semantics): <eos> cannot be picked yet. One uniform is drawn per token
      // either way, so the seed's stream stays aligned.
      const suppress = index < minNew ? c.eosTokenId : undefined;
      const [id] = await sampleRows(logits, opts, [rng.uniform()], suppress, constraint && ((row) => constraint.mask(row)));
      constraint?.accept(id);
      yield { id, index, ms: performance.now() - t0 };
      if (id === c.eosTokenId) return 'eos';
      input = [id];
    }
    return 'max-tokens';
  } finally {
    cache.release();
  }
}

/** One token per row of logits [rows, 1, vocab], row r drawing `draws[r]` (one row serves every
 *  draw: samples of one prefill); the logits are released. When the settings need only the top k
 *  (greedy, or top-k ≤ TOPK_MAX) the k candidates are ranked either on the GPU (only they come
 *  back) or on the host from the full rows, whichever measured faster on this device for this
 *  shape (`rankingPath`); top-k off or a constraint's mask rank the full rows on the host. All
 *  paths pick the same token for the same draw (test/unit/topk.test.ts). `suppress`: a token that
 *  cannot be picked (its logit counts as −inf). */
export async function sampleRows(
  logits: Tensor,
  opts: Pick<SamplingOptions, 'temperature' | 'topK' | 'topP'>,
  draws: readonly number[],
  suppress?: number,
  mask?: (row: Float32Array) => void,
): Promise<number[]> {
  const vocab = logits.shape[logits.shape.length - 1];
  const rowOf = (i: number) => (logits.size === vocab ? 0 : i);
  const need = candidatesNeeded(opts);
  const k = need > 0 ? Math.min(need, vocab) : 0;
  try {
    if (!mask && k > 0 && k <= TOPK_MAX && (await rankingPath(logits, k, suppress)) === 'gpu') {
      const ranked = await rankRows(logits, k, suppress);
      return draws.map((u, i) => {
        const r = ranked[rowOf(i)];
        if (r.firstNaN >= 0) throw nanError(r.firstNaN);
        return chooseRanked(r.ids, r.values, opts, u);
      });
    }
    const data = (await logits.read()).data as Float32Array;
    return draws.map((u, i) => {
      const row = data.slice(rowOf(i) * vocab, (rowOf(i) + 1) * vocab);
      if (mask) mask(row);
      else if (suppress !== undefined) row[suppress] = -Infinity;
      return sampleToken(row, opts, u);
    });
  } finally {
    logits.release();
  }
}

export type RankingPath = 'gpu' | 'host';

/** The key of ctx.choices under which sampling's ranking of `rows` rows of `vocab` logits,
 *  k candidates, is cached. */
export function rankingKey(rows: number, vocab: number, k: number): string {
  return `sampling ranks ${rows}×${vocab}, top ${k}`;
}

/** Where to rank: cached per device and shape, else timed now on these logits (best of 3 each;
 *  both give the same candidates, so the choice changes speed only). */
async function rankingPath(logits: Tensor, k: number, suppress: number | undefined): Promise<RankingPath> {
  const vocab = logits.shape[logits.shape.length - 1];
  const rows = logits.size / vocab;
  const key = rankingKey(rows, vocab, k);
  const known = logits.ctx.choices.get(key);
  if (known === 'gpu' || known === 'host') return known;
  let gpu = Infinity;
  let host = Infinity;
  for (let rep = 0; rep < 3; rep++) {
    let t0 = performance.now();
    await rankRows(logits, k, suppress);
    gpu = Math.min(gpu, performance.now() - t0);
    t0 = performance.now();
    const data = (await logits.read()).data;
    for (let r = 0; r < rows; r++) rankedIds(data.subarray(r * vocab, (r + 1) * vocab), k);
    host = Math.min(host, performance.now() - t0);
  }
  const path: RankingPath = gpu < host ? 'gpu' : 'host';
  logits.ctx.choices.set(key, path);
  return path;
}

/** One of generateBatch's sequences: its new tokens (a final <eos> included) and why it stopped. */
export interface BatchSequence {
  ids: number[];
  stop: StopReason;
}

/** Several samples of one prompt that differ only in their seed, decoded together: one prefill,
 *  then every step advances all unfinished sequences in one forward of `rows` rows. Sequence i is
 *  exactly what `generate(model, promptIds, {...sampling, seed: seeds[i]})` gives: the decoding
 *  matmuls are row-exact (src/ops/matmul.ts) and every other op works row by row. */
export async function generateBatch(
  model: AyaModel,
  promptIds: number[],
  sampling: Omit<SamplingOptions, 'seed'>,
  seeds: readonly number[],
  shouldStop?: () => boolean,
  onToken?: (sequence: number, token: GeneratedToken) => void,
): Promise<BatchSequence[]> {
  for (const seed of seeds) validateSampling({ ...sampling, seed });
  if (promptIds.length === 0) throw new Error('generate: empty prompt');
  const c = model.config;
  if (promptIds.length >= c.maxPositionEmbeddings) {
    throw new Error(`the prompt has ${promptIds.length} tokens; this model's context is ${c.maxPositionEmbeddings}`);
  }
  const capacity = Math.min(c.maxPositionEmbeddings, promptIds.length + sampling.maxNewTokens);
  const minNew = eosSuppressedUntil(sampling);
  const rngs = seeds.map((s) => new Rng(s));
  const out: BatchSequence[] = seeds.map(() => ({ ids: [], stop: 'max-tokens' }));
  if (seeds.length === 0) return out;
  const t0 = performance.now();
  // Sequences still running; `order` gives the sequence of each cache row (−1: the shared prompt).
  let live = seeds.map((_, i) => i);
  let order = [-1];
  let cache: KvCache = model.createCache(1, capacity);
  try {
    for (let index = 0; index < sampling.maxNewTokens && live.length > 0; index++) {
      if (shouldStop?.()) {
        for (const i of live) out[i].stop = 'cancelled';
        return out;
      }
      if (index > 0 && !(order.length === live.length && order.every((s, j) => s === live[j]))) {
        // Give each running sequence its own cache row: the prompt's copied after the prefill,
        // finished sequences dropped after that.
        const next = regroup(model, cache, order[0] === -1 ? live.map(() => 0) : live.map((s) => order.indexOf(s)));
        cache.release();
        cache = next;
        order = [...live];
      }
      const input = index === 0 ? [promptIds] : live.map((i) => [out[i].ids[index - 1]]);
      if (cache.length + input[0].length > capacity) {
        for (const i of live) out[i].stop = 'context-full';
        return out;
      }
      // The prefill is the prompt's alone (batch 1, as in generate); decoding asks for a row-exact
      // matmul so that a sequence's bits do not depend on how many run beside it.
      const logits = model.forward(input, { cache, lastOnly: true, matmulVariant: index === 0 ? undefined : decodeVariant(model.ctx, live.length) });
      const draws = live.map((i) => rngs[i].uniform());
      const ids = await sampleRows(logits, sampling, draws, index < minNew ? c.eosTokenId : undefined);
      const ms = performance.now() - t0;
      live.forEach((seq, j) => {
        out[seq].ids.push(ids[j]);
        onToken?.(seq, { id: ids[j], index, ms });
        if (ids[j] === c.eosTokenId) out[seq].stop = 'eos';
      });
      live = live.filter((seq) => out[seq].stop !== 'eos');
    }
    return out;
  } finally {
    cache.release();
  }
}

/** A cache whose row j holds row from[j] of `cache` (its filled positions). */
function regroup(model: AyaModel, cache: KvCache, from: readonly number[]): KvCache {
  const next = model.createCache(from.length, cache.capacity);
  const row = model.config.numKeyValueHeads * headDim(model.config);
  const stride = cache.capacity * row;
  for (let l = 0; l < cache.k.length; l++) {
    from.forEach((f, j) => {
      model.ctx.copy(cache.k[l], f * stride, next.k[l], j * stride, cache.length * row);
      model.ctx.copy(cache.v[l], f * stride, next.v[l], j * stride, cache.length * row);
    });
  }
  next.length = cache.length;
  return next;
}
