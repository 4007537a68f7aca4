// The inputs of one run of an ONNX decoder in the transformers.js layout (see onnxExport.ts): new
// token rows after `pastLen` cached positions. One builder for the ONNX teachers, the peers bench
// and the onnxruntime oracle, so all three feed the graph the same way. onnxruntime-web is passed
// in (it is loaded lazily where it is used).
import type * as Ort from 'onnxruntime-web';

export interface DecoderShape {
  layers: number;
  kvHeads: number;
  headDim: number;
  /** The KV cache's element type (default float32). */
  pastType?: 'float32' | 'float16';
  /** Whether the graph takes position_ids (default true). */
  positionIds?: boolean;
  /** Older merged decoders' `use_cache_branch` input. */
  cacheBranch?: boolean;
}

export type Feeds = Record<string, Ort.Tensor>;

/**
 * Feeds for `rows` (all the same length) after `pastLen` positions. `mask` covers past + rows
 * (default: all ones; 0 marks left padding); positions count unmasked tokens (cumsum(mask) − 1, as
 * transformers.js makes them). `past` is the previous run's outputs (present.N.*), null for none.
 */
export function decoderFeeds(ort: typeof Ort, d: DecoderShape, rows: number[][], past: Feeds | null, pastLen: number, mask?: number[][]): Feeds {
  const batch = rows.length;
  const seq = rows[0].length;
  const m = mask ?? rows.map(() => new Array(pastLen + seq).fill(1));
  const i64 = (v: number[], dims: number[]) => new ort.Tensor('int64', BigInt64Array.from(v.map(BigInt)), dims);
  const feeds: Feeds = { input_ids: i64(rows.flat(), [batch, seq]), attention_mask: i64(m.flat(), [batch, pastLen + seq]) };
  if (d.positionIds ?? true) {
    const pos = m.flatMap((row) => {
      let n = 0;
      return row.map((x) => (x ? n++ : 0)).slice(pastLen);
    });
    feeds.position_ids = i64(pos, [batch, seq]);
  }
  if (d.cacheBranch) feeds.use_cache_branch = new ort.Tensor('bool', [past !== null], [1]);
  const type = d.pastType ?? 'float32';
  for (let l = 0; l < d.layers; l++) {
    for (const n of ['key', 'value']) {
      feeds[`past_key_values.${l}.${n}`] = past?.[`present.${l}.${n}`] ?? new ort.Tensor(type, type === 'float16' ? new Uint16Array(0) : new Float32Array(0), [batch, d.kvHeads, 0, d.headDim]);
    }
  }
  return feeds;
}

/** The present.N.* outputs of a run: the next run's past. */
export function presentsOf(out: Feeds): Feeds {
  const present: Feeds = {};
  for (const [k, t] of Object.entries(out)) if (k.startsWith('present.')) present[k] = t;
  return present;
}

/** The .onnx graphs among `paths`, the transformers.js default (onnx/model.onnx) first. */
export function onnxGraphs(paths: Iterable<string>): string[] {
  return [...paths].filter((p) => p.toLowerCase().endsWith('.onnx')).sort((a, b) => (a === 'onnx/model.onnx' ? -1 : b === 'onnx/model.onnx' ? 1 : a.localeCompare(b)));
}
