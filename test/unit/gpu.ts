// One GPU context per test file, created lazily and destroyed after the file's tests.
import { afterAll } from 'vitest';
import type { GpuContext } from '../../src/gpu/context.ts';
import { createNodeContext } from '../../src/gpu/node.ts';

let ctx: Promise<GpuContext> | null = null;

export function gpu(): Promise<GpuContext> {
  if (!ctx) {
    ctx = createNodeContext();
    afterAll(async () => (await ctx)?.destroy());
  }
  return ctx;
}
