// Number formatting for the Preference panel (TRL metrics are small and signed).
import { LANGUAGES } from '../../data/languages.ts';

export const f3 = (x: number | null | undefined) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(3) : '–');
export const f4 = (x: number | null | undefined) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(4) : '–');
/** Signed, for rewards and margins: +0.0123. */
export const s4 = (x: number | null | undefined) => (typeof x === 'number' && Number.isFinite(x) ? `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(4)}` : '–');
export const pct = (x: number | null | undefined) => (typeof x === 'number' && Number.isFinite(x) ? `${Math.round(x * 100)}%` : '–');
export const fLr = (x: number | null | undefined) => (typeof x === 'number' && Number.isFinite(x) ? x.toExponential(2) : '–');

export function secs(s: number): string {
  if (s < 100) return `${s.toFixed(1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${(s / 3600).toFixed(1)} h`;
}

export const langName = (code: string) => LANGUAGES.find((l) => l.code === code)?.name ?? code;
export const langDir = (code: string) => LANGUAGES.find((l) => l.code === code)?.direction ?? 'ltr';
