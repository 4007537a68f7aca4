// One GPU context per test file, created lazily and destroyed after the file's tests.
import { afterAll } from 'vitest';
import type { GpuContext } from '../../src/gpu/context.ts';
import { createNodeContext } from '../../src/gpu/node.ts';
import { checkDecodeKernels } from '../../src/ops/matmul.ts';

let ctx: Promise<GpuContext> | null = null;

export function gpu(): Promise<GpuContext> {
  if (!ctx) {
    // As the Engine does with every new device: the vec4 decoding kernels are checked against v1.
    ctx = createNodeContext().then(async (c) => (await checkDecodeKernels(c), c));
    afterAll(async () => (await ctx)?.destroy());
  }
  return ctx;
}
