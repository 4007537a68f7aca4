// The bench's explanation of where decode and training time goes: the GPU work one decoded token
// and one training step record, counted by the context (not estimated).
import { describe, expect, it } from 'vitest';
import { gpu } from './gpu.ts';
import { benchModel } from '../../src/bench/modelBench.ts';
import { preset } from '../../src/model/presets.ts';

describe('whole-model bench: work per decoded token and per training step', () => {
  it('counts the same dispatches for every decoded token, one matmul per projection and the output', async () => {
    const r = await benchModel(await gpu(), 'tiny', 4096, 2, 32, 1);
    const layers = preset('tiny').config.numHiddenLayers;
    const d = r.perDecodedToken;
    expect(Number.isInteger(d.dispatches)).toBe(true); // every step records the same work
    expect(d.matmulDispatches).toBe(4 * layers + 1); // q·k·v fused, o, gate·up fused, down per layer; the tied output
    expect(d.dispatches).toBeGreaterThan(d.matmulDispatches);
    expect(d.submissions).toBeGreaterThanOrEqual(1); // each token's logits are read back
    expect(r.perTrainStep.matmulDispatches).toBeGreaterThan(2 * d.matmulDispatches); // forward + backward
    expect(r.perTrainStep.dispatches).toBeGreaterThan(r.perTrainStep.matmulDispatches);
    // A DPO step adds the reference's forward to the SFT step's forward + backward: its matmuls
    // are the training step's plus one training forward's (q, k, v, o, gate, up, down; the output).
    expect(r.perDpoStep.matmulDispatches).toBe(r.perTrainStep.matmulDispatches + 7 * layers + 1);
    expect(r.dpoOverSft).toBeCloseTo(r.dpoStepMs / r.trainStepMs, 12);
    // Batched decoding and the matmul share are measured, not left out.
    expect(r.batchedDecodeRows).toBe(8);
    expect(r.batchedDecodeTokensPerSecond).toBeGreaterThan(0);
    for (const share of [r.matmulShare!.decode, r.matmulShare!.train]) {
      expect(share).toBeGreaterThan(0);
      expect(share).toBeLessThan(1);
    }
  }, 120_000);
});
