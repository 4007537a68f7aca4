// The peers harness in Node (our engine on Dawn, onnxruntime-web's WASM backend): the same work is
// checked (logits, greedy tokens), throughputs and ratios are computed from the timings, and a
// runtime that cannot run here says why instead of a number.
import { describe, expect, it } from 'vitest';
import { gpu } from './gpu.ts';
import { loadFolder } from './oracle/llamacpp.ts';
import { runPeers } from '../../src/bench/peers/peers.ts';

describe('peers in one page (Node: ours and onnxruntime-web WASM)', () => {
  it('measures both on the same prompt, checks the work is the same, and names what cannot run here', async () => {
    const m = await loadFolder('public/models/teacher-romance', 'teacher-romance');
    const prompt = m.tok.encodePrompt('Toute personne a droit au travail, au libre choix de son travail', 'fra');
    const events: string[] = [];
    const rows = await runPeers(await gpu(), [{ name: m.name, config: m.folder.config, weights: m.folder.weights, prompt }], { runtimes: ['ort-wasm', 'ort-webgpu'], decodeTokens: 6, trainBatch: 2, trainSeq: 8, repeats: 1 }, (p) => events.push(p.message), () => false);
    expect(rows.map((r) => r.runtime)).toEqual(['ours', 'ort-wasm', 'ort-webgpu']);
    const [ours, wasm, webgpu] = rows;
    for (const r of [ours, wasm]) {
      expect(r.error).toBeNull();
      expect(r.prefillTokensPerSecond).toBeGreaterThan(0);
      expect(r.decodeTokensPerSecond).toBeGreaterThan(0);
    }
    expect(ours.trainTokensPerSecond).toBeGreaterThan(0);
    expect(wasm.trainTokensPerSecond).toBeNull(); // onnxruntime-web does not train
    expect(wasm.check).toMatchObject({ decodeSame: true, ok: true });
    expect(wasm.check.maxAbsLogit).toBeLessThan(1e-4);
    expect(wasm.oursOver.prefill).toBeCloseTo(ours.prefillTokensPerSecond! / wasm.prefillTokensPerSecond!, 9);
    expect(wasm.oursOver.decode).toBeCloseTo(ours.decodeTokensPerSecond! / wasm.decodeTokensPerSecond!, 9);
    expect(webgpu.error).toMatch(/webgpu/i); // onnxruntime-web has no WebGPU in Node
    expect(webgpu.check.ok).toBe(false);
    expect(events.at(-1)).toBe('done');
  }, 120_000);
});
