// Seeded initialisation: projections and embeddings ~ N(0, initializer_range²), norms = 1.
// Each tensor draws from its own stream, seeded from (seed, its index in parameterShapes), so the
// values of one tensor do not depend on the sizes of the others.
import type { HostTensor } from '../gpu/host.ts';
import { Rng, pcgHash } from '../util/rng.ts';
import { type ModelConfig, parameterShapes } from './config.ts';

export type HostWeights = Map<string, HostTensor>;

export function initWeights(config: ModelConfig, seed: number, std = 0.02): HostWeights {
  const weights: HostWeights = new Map();
  parameterShapes(config).forEach(({ name, shape }, index) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (name.endsWith('norm.weight')) data.fill(1);
    else {
      const rng = new Rng(pcgHash((seed >>> 0) ^ pcgHash(index + 1)));
      for (let i = 0; i < n; i++) data[i] = rng.normal() * std;
    }
    weights.set(name, { shape, data });
  });
  return weights;
}
