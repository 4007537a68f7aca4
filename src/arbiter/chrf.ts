// chrF (Popović 2015) with sacreBLEU 2.x's defaults: character n-grams of order 1–6 over the text with
// whitespace removed, β = 2 (recall weighs more), precision and recall averaged over the orders that
// exist in both strings, then F_β; 0–100. Characters are Unicode code points, as in Python.

export const CHRF_CHAR_ORDER = 6;
export const CHRF_BETA = 2;

function ngramCounts(chars: string[], n: number): Map<string, number> {
  const m = new Map<string, number>();
  for (let i = 0; i + n <= chars.length; i++) {
    const g = chars.slice(i, i + n).join('');
    m.set(g, (m.get(g) ?? 0) + 1);
  }
  return m;
}

/** Sentence-level chrF of `hypothesis` against one `reference`. */
export function chrF(hypothesis: string, reference: string, order = CHRF_CHAR_ORDER, beta = CHRF_BETA): number {
  const hyp = Array.from(hypothesis.replace(/\s+/gu, ''));
  const ref = Array.from(reference.replace(/\s+/gu, ''));
  const factor = beta * beta;
  let avgPrec = 0;
  let avgRec = 0;
  let effective = 0;
  for (let n = 1; n <= order; n++) {
    const h = ngramCounts(hyp, n);
    const r = ngramCounts(ref, n);
    let nHyp = 0;
    let nRef = 0;
    let match = 0;
    for (const c of h.values()) nHyp += c;
    for (const c of r.values()) nRef += c;
    for (const [g, c] of h) match += Math.min(c, r.get(g) ?? 0);
    if (nHyp > 0 && nRef > 0) {
      avgPrec += match / nHyp;
      avgRec += match / nRef;
      effective++;
    }
  }
  if (effective === 0) return 0;
  avgPrec /= effective;
  avgRec /= effective;
  if (avgPrec + avgRec === 0) return 0;
  return (100 * (1 + factor) * avgPrec * avgRec) / (factor * avgPrec + avgRec);
}
