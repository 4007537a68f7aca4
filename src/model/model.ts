// The Aya-style transformer on the GPU (HF CohereForCausalLM): prefill of whole sequences and
// KV-cache decoding. Parallel attention and SwiGLU MLP read the same LayerNorm output.
import type { GpuContext, Tensor } from '../gpu/context.ts';
import { hostIds } from '../gpu/host.ts';
import { add, scale, swiglu } from '../ops/elementwise.ts';
import { embedding } from '../ops/embedding.ts';
import { layerNorm } from '../ops/layernorm.ts';
import { matmul } from '../ops/matmul.ts';
import { type RopeTable, rope, ropeTableCpu, uploadRopeTable } from '../ops/rope.ts';
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
    const weights = new Map<string, Tensor>();
    for (const { name } of parameterShapes(config)) weights.set(name, ctx.upload(host.get(name)!, name));
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
    const hd = headDim(c);
    const n = batch * t;
    const idsT = ctx.upload(hostIds([n], ids.flat()), 'ids');
    let x = embedding(idsT, this.w('model.embed_tokens.weight')); // [n, H]
    idsT.release();
    for (let l = 0; l < c.numHiddenLayers; l++) {
      const p = `model.layers.${l}`;
      const h = layerNorm(x, this.w(`${p}.input_layernorm.weight`), c.layerNormEps);
      const proj = (name: string) => matmul(h, this.w(`${p}.${name}.weight`), mm);
      const q0 = proj('self_attn.q_proj');
      const k0 = proj('self_attn.k_proj');
      const v = proj('self_attn.v_proj');
      const q = rope(q0.reshape([batch, t, c.numAttentionHeads, hd]), this.table, pos0);
      const k = rope(k0.reshape([batch, t, c.numKeyValueHeads, hd]), this.table, pos0);
      q0.release();
      k0.release();
      let a: Tensor;
      if (cache) {
        const row = c.numKeyValueHeads * hd;
        for (let b = 0; b < batch; b++) {
          ctx.copy(k, b * t * row, cache.k[l], (b * capacity + pos0) * row, t * row);
          ctx.copy(v, b * t * row, cache.v[l], (b * capacity + pos0) * row, t * row);
        }
        const kvShape = [batch, pos0 + t, c.numKeyValueHeads, hd];
        a = attention(q, cache.k[l].view(kvShape), cache.v[l].view(kvShape), pos0, capacity);
      } else {
        a = attention(q, k, v.reshape([batch, t, c.numKeyValueHeads, hd]), 0);
      }
      q.release();
      k.release();
      v.release();
      const ao = matmul(a.reshape([n, c.numAttentionHeads * hd]), this.w(`${p}.self_attn.o_proj.weight`), mm);
      a.release();
      const g = proj('mlp.gate_proj');
      const u = proj('mlp.up_proj');
      h.release();
      const m = swiglu(g, u);
      g.release();
      u.release();
      const mo = matmul(m, this.w(`${p}.mlp.down_proj.weight`), mm);
      m.release();
      const x1 = add(x, ao);
      x.release();
      ao.release();
      x = add(x1, mo);
      x1.release();
      mo.release();
    }
    if (cache) cache.length = pos0 + t;
    let rows = x;
    let tOut = t;
    if (opts.lastOnly && t > 1) {
      rows = ctx.empty([batch, c.hiddenSize]);
      for (let b = 0; b < batch; b++) ctx.copy(x, (b * t + t - 1) * c.hiddenSize, rows, b * c.hiddenSize, c.hiddenSize);
      x.release();
      tOut = 1;
    }
    const xn = layerNorm(rows, this.w('model.norm.weight'), c.layerNormEps);
    rows.release();
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
