// The held-out loss heatmap's pure parts: column order, colour scale, best cell per column.
import { FAMILIES, LANGUAGES } from '../../data/languages.ts';

/** Languages grouped by family, in FAMILIES order: each teacher's own languages sit side by side. */
export const COLUMNS: Array<{ code: string; name: string; family: string }> = FAMILIES.flatMap((f) =>
  f.languages.map((code) => ({ code, name: LANGUAGES.find((l) => l.code === code)?.name ?? code, family: f.id })),
);

export interface HeatRow {
  key: string;
  label: string;
  /** Second line: role, family, how it was trained. */
  detail: string;
  source: 'manifest' | 'recomputed';
  losses: Record<string, number>;
  /** Languages the row's model was made for (a teacher's family, a fine-tune's mix): marked. */
  own: string[];
  modelId: string | null;
}

/** 0 = lowest loss (best) … 1 = highest, over `values`; a single value (or all equal) is the middle. */
export function scaler(values: number[]): (v: number) => number {
  const f = values.filter((v) => Number.isFinite(v));
  if (!f.length) return () => 0;
  const lo = Math.min(...f);
  const hi = Math.max(...f);
  return (v) => (hi > lo ? (v - lo) / (hi - lo) : 0.5);
}

// Sequential blues: dark = low loss (better), pale = high loss. Readable by colour-blind viewers.
const STOPS: Array<[number, [number, number, number]]> = [
  [0, [8, 48, 107]],
  [0.25, [33, 113, 181]],
  [0.5, [107, 174, 214]],
  [0.75, [198, 219, 239]],
  [1, [247, 251, 255]],
];

export function heatColor(t: number): { bg: string; fg: string } {
  const x = Math.max(0, Math.min(1, t));
  let i = 0;
  while (i < STOPS.length - 2 && x > STOPS[i + 1][0]) i++;
  const [a, ca] = STOPS[i];
  const [b, cb] = STOPS[i + 1];
  const u = (x - a) / (b - a);
  const rgb = ca.map((c, k) => Math.round(c + (cb[k] - c) * u));
  // WCAG relative luminance decides black or white text.
  const lin = rgb.map((c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  const lum = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2];
  return { bg: `rgb(${rgb.join(',')})`, fg: lum < 0.3 ? '#fff' : '#1d1f23' };
}

/** The row key with the lowest loss in each column (ties: the first row). */
export function bestPerColumn(rows: HeatRow[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { code } of COLUMNS) {
    let best: HeatRow | null = null;
    for (const r of rows) if (Number.isFinite(r.losses[code]) && (!best || r.losses[code] < best.losses[code])) best = r;
    if (best) out[code] = best.key;
  }
  return out;
}

export function rowMean(r: HeatRow): number | null {
  const v = COLUMNS.map((c) => r.losses[c.code]).filter((x) => Number.isFinite(x));
  return v.length === COLUMNS.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
}

/** Decimals that tell the shown values apart: 2, or 3 when the whole table spans less than 0.2 nats. */
export function decimalsFor(values: number[]): number {
  const f = values.filter((v) => Number.isFinite(v));
  if (f.length < 2) return 2;
  return Math.max(...f) - Math.min(...f) < 0.2 ? 3 : 2;
}
