import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { crossEntropyMaskedBackwardCpu, crossEntropyMaskedCpu } from '../../src/ops/xent.ts';
import { dpoLossCpu, dpoPairLoss, DPO_LOSSES } from '../../src/ops/dpo.ts';
import type { ModelConfig } from '../../src/model/config.ts';
import { initWeights } from '../../src/model/init.ts';
import { BpeTokenizer } from '../../src/tokenizer/bpe.ts';
import { dpoBatch, dpoForwards, parseDpoPairsJsonl, runDpo, sequenceSums } from '../../src/train/dpo.ts';
import { backward, forward, gpuTrainOps, lossAndGrads, releaseTape, tokenLosses } from '../../src/model/backprop.ts';
import { ropeTableCpu, uploadRopeTable } from '../../src/ops/rope.ts';
import type { Tensor } from '../../src/gpu/context.ts';
import { pairExample } from '../../src/train/data.ts';
import { Rng } from '../../src/util/rng.ts';
import { gpu } from './gpu.ts';
import { overOptimisation } from '../../src/train/dpoEval.ts';
import { validatePreferenceSpec } from '../../src/train/preference.ts';

describe('DPO losses (hand-computed values)', () => {
  it('sigmoid: −log σ(βΔ); at Δ = 0 the loss is log 2 and ∂/∂π_chosen = −β/2', () => {
    const [l, dc, dr] = dpoPairLoss('sigmoid', 0.1, -10, -12, -10, -12);
    expect(l).toBeCloseTo(Math.LN2, 12);
    expect(dc).toBeCloseTo(-0.05, 12);
    expect(dr).toBeCloseTo(0.05, 12);
    // Δ = (−8 − −10) − (−14 − −12) = 4, βΔ = 0.4: loss = log(1 + e^−0.4).
    expect(dpoPairLoss('sigmoid', 0.1, -8, -14, -10, -12)[0]).toBeCloseTo(Math.log1p(Math.exp(-0.4)), 12);
    expect(dpoPairLoss('sigmoid', 0.1, 0, -1e5, 0, 0)[0]).toBeCloseTo(0, 12); // no overflow
    expect(dpoPairLoss('sigmoid', 0.1, -1e5, 0, 0, 0)[0]).toBeCloseTo(1e4, 6);
  });
  it('hinge: max(0, 1 − βΔ), flat beyond the margin', () => {
    expect(dpoPairLoss('hinge', 0.1, -10, -12, -10, -12)).toEqual([1, -0.1, 0.1]);
    expect(dpoPairLoss('hinge', 0.5, -8, -14, -10, -12).map(Math.abs)).toEqual([0, 0, 0]); // βΔ = 2 > 1: no gradient
  });
  it('ipo: (Δ̄ − 1/(2β))² with length-averaged log-ratios', () => {
    // Δ̄ = (−8 − −10)/4 − (−14 − −12)/2 = 0.5 + 1 = 1.5; 1/(2β) = 5 → (−3.5)² = 12.25.
    const [l, dc, dr] = dpoPairLoss('ipo', 0.1, -8, -14, -10, -12, 4, 2);
    expect(l).toBeCloseTo(12.25, 12);
    expect(dc).toBeCloseTo((2 * -3.5) / 4, 12);
    expect(dr).toBeCloseTo((-2 * -3.5) / 2, 12);
  });
  it('the CPU op matches the pair function and rejects bad inputs', () => {
    const x = { shape: [2, 6], data: Float64Array.from([-8, -14, -10, -12, 4, 2, -1, -1, -1, -1, 1, 1]) };
    const out = dpoLossCpu(x, 'ipo', 0.1);
    expect(Array.from(out.data.subarray(0, 3))).toEqual(dpoPairLoss('ipo', 0.1, -8, -14, -10, -12, 4, 2));
    expect(() => dpoLossCpu({ shape: [2, 5], data: new Float64Array(10) }, 'ipo', 0.1)).toThrow(/\[pairs, 6\]/);
    expect(() => dpoLossCpu(x, 'ipo', 0)).toThrow(/β must be/);
    expect(() => dpoLossCpu(x, 'kto' as never, 0.1)).toThrow(/unknown loss 'kto'/);
  });
});

describe('DPO gradient with respect to the policy logits (finite differences, float64)', () => {
  // A chosen and a rejected sequence of T positions over a vocabulary of V; the policy's logits are
  // the variables, the reference's sequence log-probs are constants. The trainer's path: the masked
  // cross-entropy backward with per-token weights −∂loss/∂π.
  const V = 7;
  const T = 5;
  const rng = new Rng(11);
  const logits = Float64Array.from({ length: 2 * T * V }, () => 2 * rng.normal());
  const targets = Float64Array.from({ length: 2 * T }, () => rng.int(V));
  const mask = [0, 1, 1, 1, 0, 0, 0, 1, 1, 1];
  // References that put every loss in its active region (hinge: βΔ < 1).
  const refC = -2.3;
  const refR = -30.1;
  const lossOf = (lg: Float64Array, type: (typeof DPO_LOSSES)[number]) => {
    const nll = crossEntropyMaskedCpu({ shape: [2 * T, V], data: lg }, { shape: [2 * T], data: Uint32Array.from(targets) }, { shape: [2 * T], data: Float64Array.from(mask) });
    const s = sequenceSums(nll.data, mask, 2, T);
    return dpoPairLoss(type, 0.5, s.logps[0], s.logps[1], refC, refR, s.counts[0], s.counts[1]);
  };
  for (const type of DPO_LOSSES) {
    it(`${type}: analytic = central differences on every logit`, () => {
      const [, dc, dr] = lossOf(logits, type);
      const w = Float64Array.from(mask.map((m, i) => (m ? (i < T ? -dc : -dr) : 0)));
      const grad = crossEntropyMaskedBackwardCpu({ shape: [2 * T, V], data: logits }, { shape: [2 * T], data: Uint32Array.from(targets) }, { shape: [2 * T], data: w }).data;
      const h = 1e-6;
      let maxErr = 0;
      for (let i = 0; i < logits.length; i++) {
        const p = Float64Array.from(logits);
        const m = Float64Array.from(logits);
        p[i] += h;
        m[i] -= h;
        const fd = (lossOf(p, type)[0] - lossOf(m, type)[0]) / (2 * h);
        maxErr = Math.max(maxErr, Math.abs(fd - grad[i]));
      }
      expect(maxErr).toBeLessThan(1e-7);
      expect(Math.max(...Array.from(grad).map(Math.abs))).toBeGreaterThan(1e-3); // not trivially zero
    });
  }
});

describe('DPO training', () => {
  const tok = BpeTokenizer.fromTokenizerJson(JSON.parse(readFileSync('public/tokenizers/universal-23/tokenizer.json', 'utf8')));
  const config: ModelConfig = {
    vocabSize: tok.vocabSize,
    hiddenSize: 16,
    intermediateSize: 32,
    numHiddenLayers: 1,
    numAttentionHeads: 2,
    numKeyValueHeads: 1,
    maxPositionEmbeddings: 64,
    ropeTheta: 10000,
    layerNormEps: 1e-5,
    logitScale: 1,
    bosTokenId: tok.bos,
    eosTokenId: tok.eos,
    padTokenId: tok.pad,
  };
  const pair = { prompt: 'Toute personne a droit', chosen: ' à la liberté.', rejected: ' zzz qqq xx.', language: 'fra' };

  it('batches chosen rows first, then rejected, masking only completion tokens', () => {
    const ex = { chosen: pairExample(tok, 'fra', pair.prompt, pair.chosen), rejected: pairExample(tok, 'fra', pair.prompt, pair.rejected) };
    const b = dpoBatch([ex], 24, tok.pad);
    expect(b.ids).toHaveLength(2);
    const counted = (row: number) => b.mask.slice(row * 24, row * 24 + 24).reduce((a, c) => a + c, 0);
    expect(counted(0)).toBe(tok.encode(pair.chosen).length + 1); // + <eos>
    expect(counted(1)).toBe(tok.encode(pair.rejected).length + 1);
  });

  it('a few DPO steps raise the margin on a fixed pair (the reference stays frozen)', async () => {
    const ctx = await gpu();
    const w = initWeights(config, 5);
    const points: number[] = [];
    const r = await runDpo(ctx, config, w, w, tok, [pair], { loss: 'sigmoid', beta: 0.1, steps: 6, batchPairs: 1, seqLen: 24, lr: 1e-2, seed: 1 }, { onStep: (p) => points.push(p['rewards/margins']) });
    expect(r.stopped).toBe('done');
    expect(points[0]).toBeCloseTo(0, 5); // policy = reference at the start
    expect(points.at(-1)!).toBeGreaterThan(0.05);
    expect(r.history.at(-1)!['rewards/accuracies']).toBe(1);
    expect(r.history.at(-1)!.loss).toBeLessThan(Math.LN2);
    // Weights moved; the reference (the same host map) did not.
    const name = 'model.embed_tokens.weight';
    expect(r.weights.get(name)!.data).not.toEqual(w.get(name)!.data);
  });

  it('one DPO step is two forwards and one backward, with gradients bit-identical to a third forward', async () => {
    const ctx = await gpu();
    const ops = gpuTrainOps(ctx);
    const up = (w: ReturnType<typeof initWeights>) => new Map<string, Tensor>([...w].map(([k, t]) => [k, ctx.upload(t)]));
    const policy = up(initWeights(config, 5));
    const ref = up(initWeights(config, 6));
    const table = uploadRopeTable(ctx, ropeTableCpu(24, 8, config.ropeTheta));
    const ex = { chosen: pairExample(tok, 'fra', pair.prompt, pair.chosen), rejected: pairExample(tok, 'fra', pair.prompt, pair.rejected) };
    const batch = dpoBatch([ex, ex], 24, tok.pad);
    const spec = { loss: 'sigmoid' as const, beta: 0.1, seqLen: 24 };

    const c0 = { ...ctx.counters };
    const f = forward(ops, config, policy, table, batch.ids);
    const forwardDispatches = ctx.counters.dispatches - c0.dispatches;
    const cl = ctx.counters.dispatches;
    const tg = ctx.upload({ shape: [batch.targets.length], data: Uint32Array.from(batch.targets) });
    const mk = ctx.upload({ shape: [batch.mask.length], data: Float32Array.from(batch.mask) });
    const terms = tokenLosses(ops, f.logits, tg, mk);
    const lossDispatches = ctx.counters.dispatches - cl;
    for (const t of [f.logits, terms.loss, terms.tokenLosses]) t.release();
    const c1 = { ...ctx.counters };
    const sft = lossAndGrads(ops, config, policy, table, batch);
    const sftDispatches = ctx.counters.dispatches - c1.dispatches;
    for (const g of sft.grads.values()) g.release();
    sft.loss.release();
    sft.tokenLosses.release();

    const c2 = { ...ctx.counters };
    const d = await dpoForwards(ops, config, policy, ref, table, batch, 2, spec);
    const dw = ctx.upload({ shape: [d.weights.length], data: Float32Array.from(d.weights) });
    const split = backward(ops, d.tape, d.targets, dw);
    releaseTape(ops, d.tape);
    const dpoDispatches = ctx.counters.dispatches - c2.dispatches;
    // The SFT step's work (forward + loss + backward), one more forward and its loss terms for the
    // reference, and the DPO loss kernel: nothing else. Uploads are not dispatches.
    expect(dpoDispatches).toBe(sftDispatches + forwardDispatches + lossDispatches + 1);
    expect(d.weights.some((w) => w < 0)).toBe(true); // the rejected side pushes down

    // The old way: a third forward of the policy with the DPO weights as loss weights.
    const old = lossAndGrads(ops, config, policy, table, { ids: batch.ids, targets: batch.targets, weights: d.weights });
    expect([...split.keys()].sort()).toEqual([...old.grads.keys()].sort());
    for (const [name, g] of split) {
      const a = (await g.read()).data;
      const b = (await old.grads.get(name)!.read()).data;
      expect(Array.from(a), name).toEqual(Array.from(b));
      g.release();
      old.grads.get(name)!.release();
    }
    old.loss.release();
    old.tokenLosses.release();
    expect(() => backward(ops, d.tape, d.targets, dw)).toThrow(/tape was released/);
    for (const t of [...policy.values(), ...ref.values(), table.cos, table.sin, tg, mk, dw, d.targets]) t.release();
  });

  it('reads TRL preference JSONL and names bad lines', () => {
    expect(parseDpoPairsJsonl('{"prompt":"a","chosen":"b","rejected":"c","language":"fra"}\n')).toEqual([{ prompt: 'a', chosen: 'b', rejected: 'c', language: 'fra' }]);
    expect(() => parseDpoPairsJsonl('{"prompt":"a","chosen":"b"}', 'p.jsonl')).toThrow(/p.jsonl:1: "rejected" must be a string/);
    expect(() => parseDpoPairsJsonl('{"prompt":"a","chosen":"b","rejected":"c"}', 'p.jsonl')).toThrow(/p.jsonl:1: no "language"/);
  });
});

describe('over-optimisation indicators (arXiv 2410.11677)', () => {
  const ev = (step: number, top10Entropy: number, top10Mass: number) => ({ step, top10Entropy, top10Mass });
  it('warns when the top-10 entropy turns from rising to falling, naming the step', () => {
    expect(overOptimisation([ev(0, 1.0, 0.8), ev(10, 1.1, 0.8), ev(20, 1.2, 0.8)])).toEqual([]);
    const w = overOptimisation([ev(0, 1.0, 0.8), ev(10, 1.2, 0.8), ev(20, 1.1, 0.8)]);
    expect(w).toHaveLength(1);
    expect(w[0]).toMatchObject({ kind: 'entropy-turned', step: 20 });
    expect(w[0].message).toMatch(/rose until step 10 .* fell at step 20/);
    expect(overOptimisation([ev(0, 1.2, 0.8), ev(10, 1.1, 0.8), ev(20, 1.0, 0.8)])).toEqual([]); // falling from the start: no turn
  });
  it('warns when the top-10 mass falls below its start by more than the noise margin', () => {
    expect(overOptimisation([ev(0, 1, 0.8), ev(10, 1, 0.79)])).toEqual([]);
    const w = overOptimisation([ev(0, 1, 0.8), ev(10, 1, 0.75)]);
    expect(w).toEqual([expect.objectContaining({ kind: 'mass-falling', step: 10 })]);
    expect(w[0].message).toMatch(/code-switching/);
  });
  it('validates the preference spec with clear messages', () => {
    const spec = { mode: 'offline+online' as const, dpo: { loss: 'sigmoid' as const, beta: 0.1, batchPairs: 2, seqLen: 32, lr: 1e-3, seed: 1 }, offlineSteps: 2, onlineSteps: 2, iterations: 3, samplesPerPrompt: 4, sampling: { temperature: 1, topK: 0, topP: 1, maxNewTokens: 8 }, evalEvery: 0 };
    expect(() => validatePreferenceSpec(spec, 0, 5)).toThrow(/offline DPO needs preference pairs/);
    expect(() => validatePreferenceSpec({ ...spec, samplesPerPrompt: 1 }, 3, 5)).toThrow(/K ≥ 2/);
    expect(() => validatePreferenceSpec({ ...spec, mode: 'online' }, 0, 0)).toThrow(/needs prompts/);
    expect(() => validatePreferenceSpec(spec, 3, 5)).not.toThrow();
  });
});
