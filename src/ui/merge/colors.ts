// Colour scales of the Merge panel's pictures (colour-blind safe: blue/orange, sequential blues).

type RGB = [number, number, number];

const mix = (a: RGB, b: RGB, t: number): RGB => [0, 1, 2].map((k) => Math.round(a[k] + (b[k] - a[k]) * t)) as RGB;

const WHITE: RGB = [250, 250, 248];
const BLUE: RGB = [23, 70, 160];
const ORANGE: RGB = [214, 96, 20];

/** 0 → near white, 1 → dark blue (a fraction kept / contributing). */
export function sequential(v: number): RGB {
  return mix(WHITE, BLUE, Math.max(0, Math.min(1, v)));
}

/** −1 → orange, 0 → white, +1 → blue (a mean sign). */
export function diverging(v: number): RGB {
  const x = Math.max(-1, Math.min(1, v));
  return x >= 0 ? mix(WHITE, BLUE, x) : mix(WHITE, ORANGE, -x);
}

export const css = (c: RGB) => `rgb(${c[0]},${c[1]},${c[2]})`;
