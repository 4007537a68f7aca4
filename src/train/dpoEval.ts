// What DPO does to the policy's samples, measured every few steps on held-out prompts (DESIGN §9):
// a KL(π‖π_ref) estimate on samples from π, the over-optimisation indicators of arXiv 2410.11677
// (entropy over the top-10 next-token probabilities, log2, and their mass, averaged over generated
// positions) and the Arbiter's mean reward — plus the warning when those indicators turn.
import type { GpuContext } from '../gpu/context.ts';
import type { Arbiter } from '../arbiter/arbiter.ts';
import type { ArbitragePrompt } from '../arbitrage/arbitrage.ts';
import type { ModelConfig } from '../model/config.ts';
import type { HostWeights } from '../model/init.ts';
import { AyaModel } from '../model/model.ts';
import { generate } from '../model/generate.ts';
import { sequenceLogprobs } from '../model/logprobs.ts';
import type { SamplingOptions } from '../model/sample.ts';
import type { BpeTokenizer } from '../tokenizer/bpe.ts';
import { deriveSeed } from '../util/hash.ts';

export interface PolicyEval {
  step: number;
  /** Mean over samples of Σ_t log π(y_t) − log π_ref(y_t) (TRL's objective/kl), nats. */
  kl: number;
  /** Mean over generated positions of −Σ_{i≤10} p_i log2 p_i. */
  top10Entropy: number;
  /** Mean over generated positions of Σ_{i≤10} p_i. */
  top10Mass: number;
  meanReward: number;
  samples: number;
  /** A few completions, for the before/after view. */
  examples: Array<{ language: string; prompt: string; completion: string; reward: number }>;
}

export async function evaluatePolicy(
  ctx: GpuContext,
  config: ModelConfig,
  policy: HostWeights,
  reference: HostWeights,
  tok: BpeTokenizer,
  prompts: readonly ArbitragePrompt[],
  arbiter: Arbiter,
  sampling: Omit<SamplingOptions, 'seed'>,
  seed: number,
  step: number,
  shouldStop?: () => boolean,
): Promise<PolicyEval> {
  const pol = AyaModel.fromHost(ctx, config, policy);
  const ref = AyaModel.fromHost(ctx, config, reference);
  let kl = 0;
  let ent = 0;
  let mass = 0;
  let positions = 0;
  let reward = 0;
  let samples = 0;
  const examples: PolicyEval['examples'] = [];
  try {
    for (const p of prompts) {
      if (shouldStop?.()) break;
      const promptIds = tok.encodePrompt(p.prompt, p.language);
      const out: number[] = [];
      // The same seed per prompt at every evaluation: changes come from the policy, not the dice.
      for await (const t of generate(pol, promptIds, { ...sampling, seed: deriveSeed(seed, 'dpo-eval', p.id) }, shouldStop)) out.push(t.id);
      if (out.length === 0) continue;
      const ids = [...promptIds, ...out];
      const [lp, lr] = await Promise.all([sequenceLogprobs(pol, ids), sequenceLogprobs(ref, ids)]);
      for (let i = promptIds.length; i < ids.length; i++) {
        kl += (lp.logprobs[i] as number) - (lr.logprobs[i] as number);
        ent += lp.top10_entropy[i] as number;
        mass += lp.top10_mass[i] as number;
        positions++;
      }
      const text = tok.decode(out, { skipSpecial: true });
      const r = arbiter.score(p.prompt, text, p.language, p.reference).reward;
      reward += r;
      samples++;
      if (examples.length < 46) examples.push({ language: p.language, prompt: p.prompt, completion: text, reward: r });
    }
  } finally {
    pol.dispose();
    ref.dispose();
  }
  return {
    step,
    kl: samples ? kl / samples : NaN,
    top10Entropy: positions ? ent / positions : NaN,
    top10Mass: positions ? mass / positions : NaN,
    meanReward: samples ? reward / samples : NaN,
    samples,
    examples,
  };
}

export interface OverOptimisation {
  kind: 'entropy-turned' | 'mass-falling';
  step: number;
  message: string;
}

/** Mass drops smaller than this are noise on a handful of prompts. */
export const MASS_DROP = 0.02;

/**
 * The indicators of likelihood over-optimisation (arXiv 2410.11677) over a run's evaluations:
 * top-10 entropy that rose and then turned down, or top-10 mass that fell below its start.
 */
export function overOptimisation(evals: readonly Pick<PolicyEval, 'step' | 'top10Entropy' | 'top10Mass'>[]): OverOptimisation[] {
  const out: OverOptimisation[] = [];
  for (let k = 2; k < evals.length; k++) {
    const [a, b, c] = [evals[k - 2], evals[k - 1], evals[k]];
    if (b.top10Entropy > a.top10Entropy && c.top10Entropy < b.top10Entropy) {
      out.push({
        kind: 'entropy-turned',
        step: c.step,
        message:
          `Top-10 entropy rose until step ${b.step} (${b.top10Entropy.toFixed(3)} bits) and fell at step ${c.step} (${c.top10Entropy.toFixed(3)}). ` +
          'Early in DPO the entropy rises as the likelihood of the preferred text is spread over more tokens; when it turns down, the ' +
          'model starts over-prioritising a few tokens, and in arXiv 2410.11677 that turning point coincides with the quality ' +
          '(win probability) starting to fall. Consider stopping here, or a smaller learning rate / larger β.',
      });
    }
  }
  if (evals.length >= 2) {
    const first = evals[0];
    const last = evals[evals.length - 1];
    if (last.top10Mass < first.top10Mass - MASS_DROP) {
      out.push({
        kind: 'mass-falling',
        step: last.step,
        message:
          `Top-10 probability mass fell from ${first.top10Mass.toFixed(3)} (step ${first.step}) to ${last.top10Mass.toFixed(3)} (step ${last.step}). ` +
          'Probability is leaking to tokens outside the ten most likely, so samples draw more unlikely tokens: expect random-looking ' +
          'text and code-switching (language confusion) — the second over-optimisation signal of arXiv 2410.11677.',
      });
    }
  }
  return out;
}
