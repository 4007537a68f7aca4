// Offline preference pairs from what the playground already holds: an arbitrage run's best vs worst
// completion per prompt (the rule of the Arbitrage panel's preference export) and the human
// "left / right better" clicks from Compare (ties say nothing about which is better: not pairs).
import type { PromptOutcome } from '../../arbitrage/arbitrage.ts';
import type { DpoPair } from '../../train/dpo.ts';
import type { PreferenceClick } from '../compare/preferences.svelte.ts';

/** Chosen = the Arbiter's best, rejected = its worst, where the two differ (as `preferenceJsonl`). */
export function arbitragePairs(outcomes: readonly PromptOutcome[]): DpoPair[] {
  return outcomes
    .filter((o) => o.worst && o.worst.completion !== o.best.completion)
    .map((o) => ({ prompt: o.prompt, chosen: o.best.completion, rejected: o.worst!.completion, language: o.language }));
}

/** One pair per decided click; ties are left out. */
export function clickPairs(clicks: readonly PreferenceClick[]): DpoPair[] {
  return clicks
    .filter((c) => c.verdict !== 'tie' && c.left.completion !== c.right.completion)
    .map((c) => {
      const [chosen, rejected] = c.verdict === 'left' ? [c.left, c.right] : [c.right, c.left];
      return { prompt: c.prompt, chosen: chosen.completion, rejected: rejected.completion, language: c.language };
    });
}

export function countByLanguage(pairs: readonly { language: string }[]): Record<string, number> {
  const c: Record<string, number> = {};
  for (const p of pairs) c[p.language] = (c[p.language] ?? 0) + 1;
  return c;
}
