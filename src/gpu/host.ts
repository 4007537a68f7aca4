// Host-side tensors: what CPU references compute on and what readbacks return.

export type DType = 'f32' | 'u32';

/** Float64Array data is for CPU references only (finite-difference gradient checks); GPU tensors
 *  and readbacks are f32 or u32. */
export interface HostTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array | Float64Array | Uint32Array;
}

export type FloatArray = Float32Array | Float64Array;

/** A new zeroed float array of n elements, float64 when `data` is (so a CPU reference run on float64
 *  inputs stays in float64), float32 otherwise. */
export function like(data: ArrayLike<number>, n: number): FloatArray {
  return data instanceof Float64Array ? new Float64Array(n) : new Float32Array(n);
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function hostTensor(shape: readonly number[], data?: ArrayLike<number>): HostTensor {
  const n = numel(shape);
  if (data && data.length !== n) {
    throw new Error(`data has ${data.length} elements, shape [${shape.join(', ')}] needs ${n}`);
  }
  return { shape: [...shape], data: data ? Float32Array.from(data) : new Float32Array(n) };
}

export function hostIds(shape: readonly number[], data: ArrayLike<number>): HostTensor {
  if (data.length !== numel(shape)) throw new Error(`ids have ${data.length} elements, shape needs ${numel(shape)}`);
  return { shape: [...shape], data: Uint32Array.from(data) };
}

export function shapeStr(shape: readonly number[]): string {
  return `[${shape.join('×')}]`;
}

/** ‖a − b‖ / ‖b‖ over all elements; NaN anywhere (e.g. a poisoned, unwritten output) gives NaN. */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) return Number.NaN;
  let num = 0;
  let den = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = actual[i] - expected[i];
    num += d * d;
    den += expected[i] * expected[i];
  }
  if (den === 0) return Math.sqrt(num);
  return Math.sqrt(num / den);
}
