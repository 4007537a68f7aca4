// Seeded uniform random fill on the GPU, identical to the TypeScript Rng stream for the same seed
// (so initialisation and masks can be made on either side). Kernel: shaders/random.wgsl.
import { grid1d, type GpuContext, type Tensor } from '../gpu/context.ts';
import type { HostTensor } from '../gpu/host.ts';
import { numel } from '../gpu/host.ts';
import { Rng, rngKey } from '../util/rng.ts';
import { packUniforms } from './uniforms.ts';

export function randomUniform(ctx: GpuContext, shape: readonly number[], seed: number): Tensor {
  const n = numel(shape);
  const out = ctx.empty(shape);
  ctx.dispatch({ shader: 'random', entry: 'uniform_fill', bindings: [out], uniforms: packUniforms([n, rngKey(seed)]), workgroups: grid1d(Math.ceil(n / 256)) });
  return out;
}

export function randomUniformCpu(shape: readonly number[], seed: number): HostTensor {
  const rng = new Rng(seed);
  const data = new Float32Array(numel(shape));
  for (let i = 0; i < data.length; i++) data[i] = rng.uniform();
  return { shape: [...shape], data };
}
