// How Evaluate writes its numbers, in one place (the chart, the summary and the list agree).
import type { WinRate } from '../../eval/headToHead.ts';
import { LANGUAGES } from '../../data/languages.ts';

/** 0.625 → "62.5%"; NaN → "—". */
export function pct(x: number, digits = 1): string {
  return Number.isFinite(x) ? `${(100 * x).toFixed(digits)}%` : '—';
}

export function intervalText(ci: [number, number]): string {
  return Number.isFinite(ci[0]) && Number.isFinite(ci[1]) ? `${pct(ci[0])} – ${pct(ci[1])}` : '—';
}

/** Below this many prompts a percentile bootstrap is too coarse to trust (all agreeing → zero width). */
export const FEW_PROMPTS = 10;

export type Separation = 'a' | 'b' | 'none';

/** Whether the 95% interval excludes 50%, and on which side. */
export function separation(w: WinRate): Separation {
  if (w.ci[0] > 0.5) return 'a';
  if (w.ci[1] < 0.5) return 'b';
  return 'none';
}

export function languageName(code: string): string {
  return LANGUAGES.find((l) => l.code === code)?.name ?? code;
}

/** "3 W · 1 T · 0 L" is opaque; the words are short enough. */
export function wtl(w: WinRate): string {
  return `${w.wins} / ${w.ties} / ${w.losses}`;
}
