// The CPU reference forward: the same architecture written with the ops' plain TypeScript
// references, for tests and for checking a GPU. Slow and clear, never used for serving.
import type { HostTensor } from '../gpu/host.ts';
import { hostIds } from '../gpu/host.ts';
import { addCpu, scaleCpu, swigluCpu } from '../ops/elementwise.ts';
import { embeddingCpu } from '../ops/embedding.ts';
import { layerNormCpu } from '../ops/layernorm.ts';
import { matmulCpu } from '../ops/matmul.ts';
import { ropeCpu, ropeTableCpu } from '../ops/rope.ts';
import { attentionCpu } from '../ops/attention.ts';
import { type ModelConfig, headDim } from './config.ts';
import type { HostWeights } from './init.ts';

function w(weights: HostWeights, name: string): HostTensor {
  const t = weights.get(name);
  if (!t) throw new Error(`missing weight ${name}`);
  return t;
}

/** Logits [batch, T, vocab] for token ids [batch][T] (all rows the same length). */
export function forwardCpu(config: ModelConfig, weights: HostWeights, ids: number[][]): HostTensor {
  const batch = ids.length;
  const t = ids[0].length;
  const hd = headDim(config);
  const table = ropeTableCpu(t, hd, config.ropeTheta);
  const flat = hostIds([batch * t], ids.flat());
  let x = embeddingCpu(flat, w(weights, 'model.embed_tokens.weight')); // [B·T, H]
  for (let l = 0; l < config.numHiddenLayers; l++) {
    const p = `model.layers.${l}`;
    const h = layerNormCpu(x, w(weights, `${p}.input_layernorm.weight`), config.layerNormEps);
    const proj = (name: string) => matmulCpu(h, w(weights, `${p}.${name}.weight`), { transB: true });
    const as4 = (m: HostTensor, heads: number): HostTensor => ({ shape: [batch, t, heads, hd], data: m.data });
    const q = ropeCpu(as4(proj('self_attn.q_proj'), config.numAttentionHeads), table);
    const k = ropeCpu(as4(proj('self_attn.k_proj'), config.numKeyValueHeads), table);
    const v = as4(proj('self_attn.v_proj'), config.numKeyValueHeads);
    const a = attentionCpu(q, k, v, 0);
    const ao = matmulCpu({ shape: [batch * t, config.numAttentionHeads * hd], data: a.data }, w(weights, `${p}.self_attn.o_proj.weight`), {
      transB: true,
    });
    const m = swigluCpu(proj('mlp.gate_proj'), proj('mlp.up_proj'));
    const mo = matmulCpu(m, w(weights, `${p}.mlp.down_proj.weight`), { transB: true });
    x = addCpu(addCpu(x, ao), mo);
  }
  const xn = layerNormCpu(x, w(weights, 'model.norm.weight'), config.layerNormEps);
  const logits = scaleCpu(matmulCpu(xn, w(weights, 'model.embed_tokens.weight'), { transB: true }), config.logitScale);
  return { shape: [batch, t, config.vocabSize], data: logits.data };
}
