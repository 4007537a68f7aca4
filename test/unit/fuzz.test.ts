// A slice of `npm run fuzz`: every door on a few dozen seeded cases, and every kept regression
// fixture replayed (test/fuzz/regressions/). The full run (≥ 1000 cases per door) is
// docs/results/fuzz.md.
import { afterAll, describe, expect, it } from 'vitest';
import { ALL_DOORS, REGRESSIONS_DIR } from '../fuzz/allDoors.ts';
import { fixtures, fuzzDoor, runCase } from '../fuzz/harness.ts';
import { readModelFolder, writeModelFolder } from '../../src/model/folder.ts';
import { tinyModel } from '../fuzz/fixtures.ts';
import { releaseNodeGpu } from '../../src/gpu/node.ts';

const SLICE: Record<string, number> = { 'cli-arguments': 20, 'runtime-http': 20, onnx: 40 };

afterAll(() => releaseNodeGpu());

describe('fuzzing: a slice of every door', () => {
  for (const door of ALL_DOORS) {
    it(`${door.name}: every case accepted or refused with the file and the place`, async () => {
      const r = await fuzzDoor(door, { cases: SLICE[door.name] ?? 60, seed: 4 });
      expect(r.failure?.reason ?? null).toBeNull();
      expect(r.cases).toBe(SLICE[door.name] ?? 60);
      // Every case ended one way or the other, and the mutations do reach the door's refusals.
      expect(r.accepted + r.refused).toBe(r.cases);
      expect(r.refused).toBeGreaterThan(0);
    }, 300_000);
  }
});

describe('fuzzing: the kept regression fixtures', () => {
  it('exist (the failures fuzzing found are kept)', () => {
    expect(ALL_DOORS.reduce((n, d) => n + fixtures(REGRESSIONS_DIR, d.name).length, 0)).toBeGreaterThanOrEqual(10);
  });
  for (const door of ALL_DOORS) {
    const cases = fixtures(REGRESSIONS_DIR, door.name);
    if (cases.length === 0) continue;
    it(`${door.name}: ${cases.length} fixture(s) now end in acceptance or a clear refusal`, async () => {
      await door.setup?.();
      try {
        for (const c of cases) {
          const outcome = await runCase(door, c.input as never).catch((e: Error) => `failure: ${e.message}`);
          expect(outcome, `${c.file} (was: ${c.reason})`).toMatch(c.expect ?? /^(accepted|refused)$/);
        }
      } finally {
        await door.teardown?.();
      }
    }, 120_000);
  }
});

describe('weights that are not finite', () => {
  it('are refused on import, naming the tensor and the element', () => {
    const { files, folder } = tinyModel();
    const name = 'model.norm.weight';
    const w = new Map(folder.weights);
    const data = Float32Array.from(w.get(name)!.data);
    data[3] = Number.POSITIVE_INFINITY;
    w.set(name, { shape: w.get(name)!.shape, data });
    expect(() => readModelFolder(files, 'ok')).not.toThrow();
    // writeModelFolder checks shapes only, so a diverged run's weights can still be written and inspected.
    const bad = new Map(files);
    for (const [k, v] of writeModelFolder({ ...folder, weights: w })) bad.set(k, v);
    expect(() => readModelFolder(bad, 'm')).toThrow(/^m\/model\.safetensors: tensor 'model\.norm\.weight' holds Infinity at element 3 \[3\]/);
  });
});
