// Autoregressive generation with a KV cache: prefill the prompt, then one token at a time.
import { Rng } from '../util/rng.ts';
import type { AyaModel } from './model.ts';
import type { ChoiceConstraint } from './constrained.ts';
import { eosSuppressedUntil, type SamplingOptions, sampleToken, validateSampling } from './sample.ts';

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
      const row = (await logits.read()).data;
      logits.release();
      // min_new_tokens (HF's semantics): <eos> cannot be picked yet. One uniform is drawn per token
      // either way, so the seed's stream stays aligned.
      if (constraint) constraint.mask(row);
      else if (index < minNew) row[c.eosTokenId] = -Infinity;
      const id = sampleToken(row, opts, rng.uniform());
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
