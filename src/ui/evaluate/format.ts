// How Evaluate writes its numbers, in one place (the chart, the summary and the list agree).
import { MIN_PROMPTS_TO_CALL, type WinRate, type WinVerdict, winVerdict } from '../../eval/headToHead.ts';
import { LANGUAGES } from '../../data/languages.ts';

/** 0.625 → "62.5%"; NaN → "—". */
export function pct(x: number, digits = 1): string {
  return Number.isFinite(x) ? `${(100 * x).toFixed(digits)}%` : '—';
}

export function intervalText(ci: [number, number]): string {
  return Number.isFinite(ci[0]) && Number.isFinite(ci[1]) ? `${pct(ci[0])} – ${pct(ci[1])}` : '—';
}

/** Below this many prompts no winner is called (src/eval/headToHead.ts). */
export const FEW_PROMPTS = MIN_PROMPTS_TO_CALL;

export type Separation = WinVerdict;

/** What the row's interval says (reports saved before the verdict existed: worked out here). */
export function separation(w: WinRate): Separation {
  return w.verdict ?? winVerdict(w.ci, w.prompts);
}

export const SEPARATION_TEXT: Record<Separation, string> = { a: 'A better', b: 'B better', none: 'no clear winner', 'too-few': 'too few prompts to call' };

export function languageName(code: string): string {
  return LANGUAGES.find((l) => l.code === code)?.name ?? code;
}

/** "3 W · 1 T · 0 L" is opaque; the words are short enough. */
export function wtl(w: WinRate): string {
  return `${w.wins} / ${w.ties} / ${w.losses}`;
}
