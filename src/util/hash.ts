// Stable 32-bit hashes of strings, for deterministic per-item seeds and folds.
import { pcgHash } from './rng.ts';

/** FNV-1a over the UTF-16 code units, finished with the PCG hash. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return pcgHash(h);
}

/** A seed derived from a base seed and any number of parts (e.g. prompt id, model id, sample). */
export function deriveSeed(seed: number, ...parts: Array<string | number>): number {
  let h = pcgHash(seed >>> 0);
  for (const p of parts) h = pcgHash((h ^ hashString(String(p))) >>> 0);
  return h;
}
