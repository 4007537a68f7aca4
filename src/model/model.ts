// The Aya-style transformer on the GPU (HF CohereForCausalLM): prefill of whole sequences and
// KV-cache decoding. Parallel attention and SwiGLU MLP read the same LayerNorm output. Fused where
// it saves dispatches without changing a bit: one q/k/v matmul whose output RoPE splits into the
// cache, one gate/up matmul, both residual adds and the next LayerNorm in one pass (ops checked
// against their references; the whole forward against the plain one in test/unit/model-fused.test.ts).
import type { GpuContext, Tensor } from '../gpu/context.ts';
import { type HostTensor, hostIds, like } from '../gpu/host.ts';
import { scale, swigluHalves } from '../ops/elementwise.ts';
import { embedding } from '../ops/embedding.ts';
import { addLayerNorm, layerNorm } from '../ops/layernorm.ts';
import { matmul } from '../ops/matmul.ts';
import { type RopeTable, ropeQkv, ropeTableCpu, uploadRopeTable } from '../ops/rope.ts';
import { attention } from '../ops/attention.ts';
import { type ModelConfig, headDim, parameterShapes, validateConfig } from './config.ts';
import type { HostWeights } from './init.ts';

/** Keys and values of every layer for `batch` sequences, up to `capacity` positions. */
export class KvCache {
  /** Positions filled so far (the same for every sequence in the batch). */
  length = 0;
  readonly k: Tensor[] = [];
  readonly v: Tensor[] = [];

  constructor(
    readonly model: AyaModel,
    readonly batch: number,
    readonly capacity: number,
  ) {
    const c = model.config;
    const shape = [batch, capacity, c.numKeyValueHeads, headDim(c)];
    for (let l = 0; l < c.numHiddenLayers; l++) {
      this.k.push(model.ctx.empty(shape, 'f32', `kv.k${l}`));
      this.v.push(model.ctx.empty(shape, 'f32', `kv.v${l}`));
    }
  }

  release(): void {
    for (const t of [...this.k, ...this.v]) t.release();
    this.k.length = 0;
    this.v.length = 0;
  }
}

export interface ForwardOptions {
  /** Continue these sequences: keys/values are appended and attention sees the whole cache. */
  cache?: KvCache;
  /** Only the last position's logits ([batch, 1, vocab]) — all sampling needs. */
  lastOnly?: boolean;
  /** The matmul variant of every projection (batched decoding asks for a row-exact one). */
  matmulVariant?: string;
}

export class AyaModel {
  private readonly table: RopeTable<Tensor>;
  private disposed = false;

  private constructor(
    readonly ctx: GpuContext,
    readonly config: ModelConfig,
    readonly weights: Map<string, Tensor>,
  ) {
    this.table = uploadRopeTable(ctx, ropeTableCpu(config.maxPositionEmbeddings, headDim(config), config.ropeTheta));
  }

  /** Uploads host weights (checked against the config's names and shapes). */
  static fromHost(ctx: GpuContext, config: ModelConfig, host: HostWeights): AyaModel {
    validateConfig(config);
    // Check everything before uploading anything, so a bad folder leaves no buffers behind.
    for (const { name, shape } of parameterShapes(config)) {
      const t = host.get(name);
      if (!t) throw new Error(`weights: missing ${name}`);
      if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
        throw new Error(`weights: ${name} has shape [${t.shape}], the config needs [${shape}]`);
      }
    }
    // q/k/v and gate/up are uploaded side by side ([q; k; v] and [gate; up] rows), so each is one
    // matmul: concatenating output columns changes no output's bits (each sums over K alone).
    const fused = new Map<string, string[]>();
    for (let l = 0; l < config.numHiddenLayers; l++) {
      const p = `model.layers.${l}`;
      fused.set(`${p}.self_attn.qkv_proj.weight`, ['q_proj', 'k_proj', 'v_proj'].map((n) => `${p}.self_attn.${n}.weight`));
      fused.set(`${p}.mlp.gate_up_proj.weight`, ['gate_proj', 'up_proj'].map((n) => `${p}.mlp.${n}.weight`));
    }
    const inFused = new Set([...fused.values()].flat());
    const weights = new Map<string, Tensor>();
    for (const { name } of parameterShapes(config)) if (!inFused.has(name)) weights.set(name, ctx.upload(host.get(name)!, name));
    for (const [name, parts] of fused) weights.set(name, ctx.upload(concatRows(parts.map((n) => host.get(n)!)), name));
    return new AyaModel(ctx, config, weights);
  }

  private w(name: string): Tensor {
    const t = this.weights.get(name);
    if (!t) throw new Error(`weights: missing ${name}`);
    return t;
  }

  createCache(batch = 1, capacity = this.config.maxPositionEmbeddings): KvCache {
    if (capacity > this.config.maxPositionEmbeddings) {
      throw new Error(`cache capacity ${capacity} exceeds max_position_embeddings ${this.config.maxPositionEmbeddings}`);
    }
    return new KvCache(this, batch, capacity);
  }

  /** Logits [batch, T, vocab] (or [batch, 1, vocab] with lastOnly) for ids [batch][T]. */
  forward(ids: number[][], opts: ForwardOptions = {}): Tensor {
    if (this.disposed) throw new Error('model was disposed');
    const c = this.config;
    const batch = ids.length;
    const t = ids[0]?.length ?? 0;
    if (t === 0) throw new Error('forward: empty sequence');
    if (ids.some((row) => row.length !== t)) throw new Error('forward: sequences in a batch must have the same length');
    for (const row of ids) {
      for (const id of row) {
        if (!Number.isInteger(id) || id < 0 || id >= c.vocabSize) throw new Error(`forward: token id ${id} is outside the vocabulary (${c.vocabSize})`);
      }
    }
    const cache = opts.cache;
    const pos0 = cache ? cache.length : 0;
    if (cache && cache.batch !== batch) throw new Error(`forward: cache is for batch ${cache.batch}, got ${batch}`);
    const capacity = cache ? cache.capacity : c.maxPositionEmbeddings;
    if (pos0 + t > capacity) throw new Error(`forward: ${pos0 + t} positions exceed the ${cache ? 'cache capacity' : 'max_position_embeddings'} ${capacity}`);

    const ctx = this.ctx;
    const mm = { transB: true, variant: opts.matmulVariant };
    const heads = { q: c.numAttentionHeads, kv: c.numKeyValueHeads };
    const hd = headDim(c);
    const n = batch * t;
    const idsT = ctx.upload(hostIds([n], ids.flat()), 'ids');
    let x = embedding(idsT, this.w('model.embed_tokens.weight')); // [n, H]
    idsT.release();
    // h: the LayerNorm of the residual stream that the next layer (or the output) reads.
    let h = layerNorm(x, this.w('model.layers.0.input_layernorm.weight'), c.layerNormEps);
    for (let l = 0; l < c.numHiddenLayers; l++) {
      const p = `model.layers.${l}`;
      const qkv = matmul(h, this.w(`${p}.self_attn.qkv_proj.weight`), mm).intoShape([batch, t, heads.q + 2 * heads.kv, hd]);
      let a: Tensor;
      if (cache) {
        // k and v go straight into the cache rows pos0…; attention reads the filled part.
        const q = ropeQkv(qkv, this.table, pos0, heads, cache.k[l], cache.v[l]);
        const kvShape = [batch, pos0 + t, c.numKeyValueHeads, hd];
        a = attention(q, cache.k[l].view(kvShape), cache.v[l].view(kvShape), pos0, capacity);
        q.release();
      } else {
        const k = ctx.empty([batch, t, c.numKeyValueHeads, hd]);
        const v = ctx.empty([batch, t, c.numKeyValueHeads, hd]);
        const q = ropeQkv(qkv, this.table, 0, heads, k, v);
        a = attention(q, k, v, 0);
        for (const r of [q, k, v]) r.release();
      }
      qkv.release();
      const ao = matmul(a.reshape([n, c.numAttentionHeads * hd]), this.w(`${p}.self_attn.o_proj.weight`), mm);
      a.release();
      const gu = matmul(h, this.w(`${p}.mlp.gate_up_proj.weight`), mm);
      h.release();
      const m = swigluHalves(gu);
      gu.release();
      const mo = matmul(m, this.w(`${p}.mlp.down_proj.weight`), mm);
      m.release();
      // Both residuals in one pass, (x + attention) + MLP rounded as two adds, and the next
      // LayerNorm (the next layer's input norm, or the final norm) in the same dispatch.
      const nextNorm = l + 1 < c.numHiddenLayers ? `model.layers.${l + 1}.input_layernorm.weight` : 'model.norm.weight';
      const next = addLayerNorm(x, ao, mo, this.w(nextNorm), c.layerNormEps);
      x.release();
      ao.release();
      mo.release();
      x = next.sum;
      h = next.normed;
    }
    x.release();
    if (cache) cache.length = pos0 + t;
    // The final norm is per row: normalising every position and keeping the last is the same.
    let xn = h;
    let tOut = t;
    if (opts.lastOnly && t > 1) {
      xn = ctx.empty([batch, c.hiddenSize]);
      for (let b = 0; b < batch; b++) ctx.copy(h, (b * t + t - 1) * c.hiddenSize, xn, b * c.hiddenSize, c.hiddenSize);
      h.release();
      tOut = 1;
    }
    const raw = matmul(xn, this.w('model.embed_tokens.weight'), mm);
    xn.release();
    if (c.logitScale === 1) return raw.intoShape([batch, tOut, c.vocabSize]);
    const logits = scale(raw, c.logitScale);
    raw.release();
    return logits.intoShape([batch, tOut, c.vocabSize]);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of this.weights.values()) t.release();
    this.table.cos.release();
    this.table.sin.release();
  }
}

/** [a; b; …] along the first axis (weights [out, in] stacked into one [Σ out, in]). */
function concatRows(parts: HostTensor[]): HostTensor {
  const cols = parts[0].shape[1];
  const data = like(parts[0].data, parts.reduce((n, t) => n + t.data.length, 0));
  let o = 0;
  for (const t of parts) {
    data.set(t.data, o);
    o += t.data.length;
  }
  return { shape: [data.length / cols, cols], data };
}
