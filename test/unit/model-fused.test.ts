// The model's fused forward (one q/k/v matmul split by RoPE into the cache, one gate/up matmul,
// both residuals in one add) gives exactly the bits of the plain layer built from the separate ops
// — prefill and KV-cache decoding, batch 1 and 2 — so fusing changed no output.
import { describe, expect, it } from 'vitest';
import type { GpuContext, Tensor } from '../../src/gpu/context.ts';
import { hostIds } from '../../src/gpu/host.ts';
import { headDim, type ModelConfig } from '../../src/model/config.ts';
import type { HostWeights } from '../../src/model/init.ts';
import { AyaModel } from '../../src/model/model.ts';
import { add, scale, swiglu } from '../../src/ops/elementwise.ts';
import { embedding } from '../../src/ops/embedding.ts';
import { layerNorm } from '../../src/ops/layernorm.ts';
import { matmul } from '../../src/ops/matmul.ts';
import { rope, ropeTableCpu, uploadRopeTable } from '../../src/ops/rope.ts';
import { attention } from '../../src/ops/attention.ts';
import { gpu } from './gpu.ts';
import { loadFolder } from './oracle/llamacpp.ts';

/** The unfused forward, op by op, with an explicit KV cache (arrays of [batch, cap, hkv, hd]). */
function plainForward(ctx: GpuContext, c: ModelConfig, host: HostWeights, ids: number[][], cache: { k: Tensor[]; v: Tensor[]; length: number; cap: number }): Tensor {
  const w = (name: string) => ctx.upload(host.get(name)!);
  const batch = ids.length;
  const t = ids[0].length;
  const n = batch * t;
  const hd = headDim(c);
  const table = uploadRopeTable(ctx, ropeTableCpu(c.maxPositionEmbeddings, hd, c.ropeTheta));
  const pos0 = cache.length;
  let x = embedding(ctx.upload(hostIds([n], ids.flat())), w('model.embed_tokens.weight'));
  for (let l = 0; l < c.numHiddenLayers; l++) {
    const p = `model.layers.${l}`;
    const h = layerNorm(x, w(`${p}.input_layernorm.weight`), c.layerNormEps);
    const proj = (name: string) => matmul(h, w(`${p}.${name}.weight`), { transB: true });
    const q = rope(proj('self_attn.q_proj').reshape([batch, t, c.numAttentionHeads, hd]), table, pos0);
    const k = rope(proj('self_attn.k_proj').reshape([batch, t, c.numKeyValueHeads, hd]), table, pos0);
    const v = proj('self_attn.v_proj');
    const row = c.numKeyValueHeads * hd;
    for (let b = 0; b < batch; b++) {
      ctx.copy(k, b * t * row, cache.k[l], (b * cache.cap + pos0) * row, t * row);
      ctx.copy(v, b * t * row, cache.v[l], (b * cache.cap + pos0) * row, t * row);
    }
    const kv = [batch, pos0 + t, c.numKeyValueHeads, hd];
    const a = attention(q, cache.k[l].view(kv), cache.v[l].view(kv), pos0, cache.cap);
    const ao = matmul(a.reshape([n, c.numAttentionHeads * hd]), w(`${p}.self_attn.o_proj.weight`), { transB: true });
    const mo = matmul(swiglu(proj('mlp.gate_proj'), proj('mlp.up_proj')), w(`${p}.mlp.down_proj.weight`), { transB: true });
    x = add(add(x, ao), mo);
  }
  cache.length = pos0 + t;
  const logits = matmul(layerNorm(x, w('model.norm.weight'), c.layerNormEps), w('model.embed_tokens.weight'), { transB: true });
  return c.logitScale === 1 ? logits : scale(logits, c.logitScale);
}

describe('fused model forward', () => {
  for (const batch of [1, 2]) {
    it(`is bit-identical to the plain op-by-op forward: prefill then 3 decoding steps, batch ${batch}`, async () => {
      const ctx = await gpu();
      const m = await loadFolder('public/models/teacher-romance', 'teacher-romance');
      const c = m.folder.config;
      const model = AyaModel.fromHost(ctx, c, m.folder.weights);
      const cap = 32;
      const fused = model.createCache(batch, cap);
      const plain = { k: [] as Tensor[], v: [] as Tensor[], length: 0, cap };
      for (let l = 0; l < c.numHiddenLayers; l++) {
        plain.k.push(ctx.empty([batch, cap, c.numKeyValueHeads, headDim(c)]));
        plain.v.push(ctx.empty([batch, cap, c.numKeyValueHeads, headDim(c)]));
      }
      const steps = [Array.from({ length: batch }, (_, b) => [1, 8 + b, 300, 41, 977, 12]), ...[5, 6, 7].map((s) => Array.from({ length: batch }, (_, b) => [s * 100 + b]))];
      for (const ids of steps) {
        const got = Array.from((await model.forward(ids, { cache: fused }).read()).data);
        const want = Array.from((await plainForward(ctx, c, m.folder.weights, ids, plain).read()).data);
        expect(got.length).toBe(want.length);
        expect(got.every((v, i) => Object.is(v, want[i])), `step with ${ids[0].length} tokens`).toBe(true);
      }
      // And without a cache (the whole sequence at once).
      const whole = steps.map((s) => s.map((r) => r)).reduce((acc, s) => acc.map((r, b) => [...r, ...s[b]]));
      const noCache = Array.from((await model.forward(whole).read()).data);
      const fresh = { k: [] as Tensor[], v: [] as Tensor[], length: 0, cap };
      for (let l = 0; l < c.numHiddenLayers; l++) {
        fresh.k.push(ctx.empty([batch, cap, c.numKeyValueHeads, headDim(c)]));
        fresh.v.push(ctx.empty([batch, cap, c.numKeyValueHeads, headDim(c)]));
      }
      const want = Array.from((await plainForward(ctx, c, m.folder.weights, whole, fresh).read()).data);
      expect(noCache.every((v, i) => Object.is(v, want[i]))).toBe(true);
      fused.release();
      model.dispose();
    });
  }
});
