// GPU ranking for sampling (src/ops/topk.ts) against its CPU reference, and the choices made from
// it against the host sampler's on the full row: the same token for the same draw, every time.
import { describe, expect, it } from 'vitest';
import { hostTensor } from '../../src/gpu/host.ts';
import { chooseRanked, sampleToken } from '../../src/model/sample.ts';
import { rankRows, topkCpu } from '../../src/ops/topk.ts';
import { Rng } from '../../src/util/rng.ts';
import { gpu } from './gpu.ts';

/** Logits with many exact ties, both zeros and −inf. */
function rows(rng: Rng, r: number, n: number): Float32Array {
  return Float32Array.from({ length: r * n }, () => {
    const u = rng.uniform();
    if (u < 0.03) return -Infinity;
    if (u < 0.06) return -0;
    if (u < 0.09) return 0;
    return Math.round((rng.uniform() * 2 - 1) * 24) / 4;
  });
}

describe('topk on the GPU', () => {
  const cases: [number, number, number, number | undefined][] = [
    [1, 5, 5, undefined],
    [3, 300, 1, 7],
    [2, 300, 40, 0],
    [4, 1000, 256, undefined],
    [1, 4109, 40, 2],
  ];
  for (const [r, n, k, suppress] of cases) {
    it(`ranks ${r}×${n} rows, k=${k}${suppress === undefined ? '' : `, token ${suppress} suppressed`}, like the CPU reference`, async () => {
      const ctx = await gpu();
      const host = hostTensor([r, n], rows(new Rng(n * 10 + k), r, n));
      const t = ctx.upload(host);
      const got = await rankRows(t, k, suppress);
      t.release();
      const want = topkCpu(host, k, suppress);
      expect(got).toEqual(want);
      expect(got[0].ids.length).toBe(k);
    });
  }

  it('reports the first NaN of each row (the suppressed token aside)', async () => {
    const ctx = await gpu();
    const data = rows(new Rng(3), 3, 600);
    data[17] = Number.NaN;
    data[590] = Number.NaN;
    data[600 + 333] = Number.NaN;
    data[1200 + 2] = Number.NaN;
    const host = hostTensor([3, 600], data);
    const t = ctx.upload(host);
    const got = await rankRows(t, 4, 2);
    t.release();
    expect(got.map((g) => g.firstNaN)).toEqual([17, 333, -1]);
    expect(topkCpu(host, 4, 2).map((g) => g.firstNaN)).toEqual([17, 333, -1]);
  });

  it('a choice from the GPU candidates is the host sampler’s choice on the full row', async () => {
    const ctx = await gpu();
    const rng = new Rng(11);
    const n = 512;
    const settings = [
      { temperature: 0, topK: 40, topP: 1 },
      { temperature: 0.8, topK: 40, topP: 0.95 },
      { temperature: 1.5, topK: 5, topP: 1 },
      { temperature: 0.3, topK: 200, topP: 0.5 },
    ];
    let differentChoices = 0;
    for (let trial = 0; trial < 8; trial++) {
      const data = Float32Array.from({ length: n }, () => (trial % 2 ? Math.round(rng.uniform() * 40) / 8 : rng.uniform() * 6 - 3));
      const t = ctx.upload(hostTensor([1, n], data));
      for (const o of settings) {
        const k = o.temperature === 0 ? 1 : o.topK;
        const [row] = await rankRows(t, k, 2);
        const full = Float32Array.from(data);
        full[2] = -Infinity;
        const seen = new Set<number>();
        for (let s = 0; s < 50; s++) {
          const u = rng.uniform();
          const id = chooseRanked(row.ids, row.values, o, u);
          expect(id).toBe(sampleToken(full, o, u));
          seen.add(id);
        }
        if (o.temperature > 0 && seen.size > 1) differentChoices++;
      }
      t.release();
    }
    // The draws did explore: a test that always picks the arg-max would prove little.
    expect(differentChoices).toBeGreaterThan(10);
  });
});
