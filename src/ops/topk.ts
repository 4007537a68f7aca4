// The k highest logits of each row, ranked as the host sampler ranks them (logit descending, lower
// id first on ties), and each row's first NaN: sampling reads back k pairs instead of the whole
// vocabulary and sorts only those. Kernel: shaders/topk.wgsl (radix select).
import type { Tensor } from '../gpu/context.ts';
import type { HostTensor } from '../gpu/host.ts';
import { packUniforms } from './uniforms.ts';
import { rowsDim } from './softmax.ts';

/** One row's candidates, best first; firstNaN is −1 when the row has none. */
export interface RankedRow {
  ids: number[];
  values: number[];
  firstNaN: number;
}

/** The largest k sampling asks the GPU for: beyond it the host sorts the full row. */
export const TOPK_MAX = 256;
const NONE = 0xffffffff;

/** Ranks each row of logits [..., n] on the GPU → u32 [rows, 1 + 2k] (see the shader); `suppress`
 *  is a token whose logit counts as −inf. */
export function topk(logits: Tensor, k: number, suppress?: number): Tensor {
  const { rows, dim } = rowsDim(logits.shape);
  if (!Number.isInteger(k) || k < 1 || k > Math.min(TOPK_MAX, dim)) throw new Error(`topk: k must be in 1..${Math.min(TOPK_MAX, dim)}, got ${k}`);
  const out = logits.ctx.empty([rows, 1 + 2 * k], 'u32', 'topk');
  logits.ctx.dispatch({
    shader: 'topk',
    entry: 'topk_rows',
    bindings: [logits, out],
    uniforms: packUniforms([dim, k, suppress ?? NONE, rows]),
    workgroups: [rows],
  });
  return out;
}

/** The host view of topk's output. */
export function decodeTopk(out: HostTensor): RankedRow[] {
  const [rows, width] = out.shape;
  const k = (width - 1) / 2;
  const u = Uint32Array.from(out.data);
  const f = new Float32Array(u.buffer);
  const result: RankedRow[] = [];
  for (let r = 0; r < rows; r++) {
    const o = r * width;
    // The kernel's k candidates are unordered: rank them as the host sampler does.
    const order = Array.from({ length: k }, (_, j) => j).sort((a, b) => f[o + 2 + 2 * b] - f[o + 2 + 2 * a] || u[o + 1 + 2 * a] - u[o + 1 + 2 * b]);
    result.push({ ids: order.map((j) => u[o + 1 + 2 * j]), values: order.map((j) => f[o + 2 + 2 * j]), firstNaN: u[o] === NONE ? -1 : u[o] });
  }
  return result;
}

/** Ranks on the GPU and reads the candidates back (one small readback for every row). */
export async function rankRows(logits: Tensor, k: number, suppress?: number): Promise<RankedRow[]> {
  const out = topk(logits, k, suppress);
  try {
    return decodeTopk(await out.read());
  } finally {
    out.release();
  }
}

/** CPU reference: the same ranking by a full sort in float64. */
export function topkCpu(logits: HostTensor, k: number, suppress?: number): RankedRow[] {
  const { rows, dim } = rowsDim(logits.shape);
  const result: RankedRow[] = [];
  for (let r = 0; r < rows; r++) {
    const row = Array.from(logits.data.subarray(r * dim, (r + 1) * dim));
    if (suppress !== undefined) row[suppress] = -Infinity;
    const firstNaN = row.findIndex(Number.isNaN);
    const ids = Array.from({ length: dim }, (_, i) => i)
      .sort((a, b) => row[b] - row[a] || a - b)
      .slice(0, k);
    result.push({ ids, values: ids.map((i) => row[i] + 0), firstNaN }); // + 0: −0 as +0, as the kernel reports it
  }
  return result;
}
