// The Arbiter's component weights the person chose, kept across reloads and shared by the panels
// that score (Compare, Arbitrage, Evaluate).
import { COMPONENTS, DEFAULT_WEIGHTS, type ArbiterWeights, type ComponentName } from '../../arbiter/arbiter.ts';
import { loadPref, savePref } from './localPref.ts';

const KEY = 'aya.arbiter.weights';

export const COMPONENT_LABELS: Record<ComponentName, { name: string; help: string }> = {
  language: { name: 'Language', help: 'franc’s score that the completion is in the target language (1 = best guess; 0 = another script)' },
  fluency: { name: 'Fluency', help: 'mean log-probability per character (nats/char) under the language’s character 4-gram model, mapped so that 0 = uniformly random characters of the language’s alphabet and 1 = as likely as held-out UDHR text (clamped); on completions under 20 characters even genuine text often scores 0' },
  adequacy: { name: 'Adequacy', help: 'chrF against the reference continuation ÷ 100 (only when the prompt has a reference)' },
};

export function loadWeights(): ArbiterWeights {
  const w = loadPref<Partial<ArbiterWeights>>(KEY, {});
  const out = { ...DEFAULT_WEIGHTS };
  for (const c of COMPONENTS) if (typeof w[c] === 'number' && Number.isFinite(w[c]) && (w[c] as number) >= 0) out[c] = w[c] as number;
  return COMPONENTS.some((c) => out[c] > 0) ? out : { ...DEFAULT_WEIGHTS };
}

export function saveWeights(w: ArbiterWeights): string | null {
  return savePref(KEY, w);
}
