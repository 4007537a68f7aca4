// The Merge panel's data: hand-computed grids, task-vector statistics and pictures.
import { describe, expect, it } from 'vitest';
import { darePicture, downsample, layerGroupOf, slerpPicture, TaskVectorStats, tiesPicture } from '../../src/merge/inspect.ts';
import { dareKey } from '../../src/merge/config.ts';

const f = (xs: number[]) => Float32Array.from(xs);

describe('merge inspection', () => {
  it('downsample averages cells; small tensors keep one cell per element', () => {
    // 4×4 → 2×2: cell (0,0) = mean(0, 1, 4, 5) = 2.5, (0,1) = mean(2, 3, 6, 7) = 4.5, …
    const g = downsample(Array.from({ length: 16 }, (_, i) => i), [4, 4], 2);
    expect(g).toEqual({ rows: 2, cols: 2, values: [2.5, 4.5, 10.5, 12.5] });
    // 1-D of 6 into 4 cells: columns map ⌊c·4/6⌋ → [0,0,1,2,2,3] → means [0.5, 2, 3.5, 5]
    expect(downsample([0, 1, 2, 3, 4, 5], [6], 4)).toEqual({ rows: 1, cols: 4, values: [0.5, 2, 3.5, 5] });
    expect(downsample([1, 2, 3], [3], 64)).toEqual({ rows: 1, cols: 3, values: [1, 2, 3] });
  });

  it('task-vector cosine and sign conflicts, by hand', () => {
    const s = new TaskVectorStats(2);
    // τa = [1, 0, −1, 2], τb = [1, 1, 1, 0]: dot = 1 − 1 = 0 → cos 0; ‖τa‖ = √6, ‖τb‖ = √3
    // signs: (+,+) (0,+) (−,+) (+,0) → one conflict in 4
    s.add(f([0, 0, 0, 0]), [f([1, 0, -1, 2]), f([1, 1, 1, 0])]);
    const r = s.summary();
    expect(r.cosine).toEqual([[1, 0], [0, 1]]);
    expect(r.norms[0]).toBeCloseTo(Math.sqrt(6), 12);
    expect(r.norms[1]).toBeCloseTo(Math.sqrt(3), 12);
    expect(r.signConflict).toBe(0.25);
    // Adding a second tensor accumulates: τa = [3], τb = [3] → dot 9; cos = 9 / (√15·√12)
    s.add(f([1]), [f([4]), f([4])]);
    expect(s.summary().cosine[0][1]).toBeCloseTo(9 / Math.sqrt(15 * 12), 12);
    expect(s.summary().signConflict).toBe(0.2);
  });

  it('layer groups', () => {
    expect(layerGroupOf('model.embed_tokens.weight', 2).key).toBe('embed');
    expect(layerGroupOf('model.layers.1.mlp.up_proj.weight', 2)).toEqual({ key: 'layer.1', label: 'layer 1', layer: 1 });
    expect(layerGroupOf('model.norm.weight', 2).key).toBe('norm');
  });

  it('slerp picture: the quarter circle, the chord through its middle', () => {
    const p = slerpPicture(f([1, 0, 0]), f([0, 1, 0]), 3);
    expect(p.theta).toBeCloseTo(Math.PI / 2, 12);
    expect(p.colinear).toBe(false);
    expect(p.ts).toEqual([0, 0.5, 1]);
    // arc at ½: (√2/2, √2/2); chord at ½: (½, ½)
    expect(p.arc[1][0]).toBeCloseTo(Math.SQRT1_2, 12);
    expect(p.arc[1][1]).toBeCloseTo(Math.SQRT1_2, 12);
    expect(p.chord[1]).toEqual([0.5, 0.5]);
    expect(p.arcNorms.map((x) => Math.round(x * 1e9) / 1e9)).toEqual([1, 1, 1]);
    expect(p.chordNorms[1]).toBeCloseTo(Math.SQRT1_2, 12);
    expect(slerpPicture(f([1, 2]), f([2, 4])).colinear).toBe(true);
  });

  it('ties picture: trim, elect and disjoint masks of the hand-computed TIES example', () => {
    // τA = [3, −1, 0, −2] → trim keeps [1, 0, 0, 1]; τB = [−1.5, 2, −0.25, 0] → keeps [1, 1, 0, 0]
    // weights [2, 1]: votes [4.5, 2, 0, −4] → elected [+, +, +, −]; A agrees at 0, 3; B at 1
    const p = tiesPicture(f([1, 1, 1, 1]), [f([4, 0, 1, -1]), f([-0.5, 3, 0.75, 1])], { shape: [4], densities: [0.5, 0.5], weights: [2, 1] });
    expect(p.trim.map((g) => g.values)).toEqual([[1, 0, 0, 1], [1, 1, 0, 0]]);
    expect(p.elect.values).toEqual([1, 1, 1, -1]);
    expect(p.disjoint.map((g) => g.values)).toEqual([[1, 0, 0, 1], [0, 1, 0, 0]]);
    expect(p.keptFraction).toEqual([0.5, 0.5]);
    expect(p.contributes).toEqual([0.5, 0.25]);
  });

  it('dare picture: density 1 drops nothing; otherwise both rescale factors', () => {
    const base = f([0, 0, 0, 0]);
    const model = f([1, -2, 3, -4]);
    const none = darePicture(base, model, { shape: [4], density: 1, key: 1 });
    expect([none.dropped, none.rescaleL1, none.rescaleInverseDensity]).toEqual([0, 1, 1]);
    // dareKey(7, 0, 'x') at density ½ keeps elements 0, 2, 3 (see merge.methods.test.ts)
    const half = darePicture(base, model, { shape: [4], density: 0.5, key: dareKey(7, 0, 'x') });
    expect(half.dropped).toBe(0.25);
    expect(half.rescaleL1).toBeCloseTo(10 / 8, 12);
    expect(half.rescaleInverseDensity).toBe(2);
    expect(half.kept.values).toEqual([1, 0, 1, 1]);
  });
});
