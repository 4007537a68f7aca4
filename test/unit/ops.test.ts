import { describe, expect, it } from 'vitest';
import { checkAvailable, opChecks, runOpCheck } from '../../src/ops/checks.ts';
import { gpu } from './gpu.ts';

// Fresh random inputs on every run; the seed is printed on failure so a case can be replayed.
const seed = Number(process.env.OPS_SEED ?? Math.floor(Math.random() * 2 ** 31));

describe(`ops vs CPU reference (seed ${seed})`, () => {
  opChecks().forEach((check, i) => {
    it(`${check.op} ${check.shape}`, async (t) => {
      const ctx = await gpu();
      if (!checkAvailable(ctx, check)) t.skip(`needs ${check.requires?.join(', ')}`);
      const r = await runOpCheck(ctx, check, seed + i);
      expect(r.error).toBeUndefined();
      expect(r.relError, `relative error of ${check.op} ${check.shape}, seed ${seed + i}`).toBeLessThan(check.tolerance);
    });
  });
});
