import { describe, expect, it } from 'vitest';
import { hostTensor } from '../../src/gpu/host.ts';
import { createNodeContext } from '../../src/gpu/node.ts';
import { gpu } from './gpu.ts';
import { matmul } from '../../src/ops/matmul.ts';
import { add as addOp } from '../../src/ops/elementwise.ts';

describe('gpu context', () => {
  it('counts dispatches (matmuls among them) and submissions, for the bench to explain', async () => {
    const ctx = await gpu();
    await ctx.sync();
    const before = { ...ctx.counters };
    const a = ctx.upload(hostTensor([4, 8], Array.from({ length: 32 }, (_, i) => i / 32)));
    const b = ctx.upload(hostTensor([8, 4], Array.from({ length: 32 }, (_, i) => 1 - i / 32)));
    const c = matmul(a, b);
    const d = addOp(c, c);
    await d.read(); // one submission for the recorded work (the read flushes)
    expect(ctx.counters.dispatches - before.dispatches).toBe(2);
    expect(ctx.counters.matmulDispatches - before.matmulDispatches).toBe(1);
    expect(ctx.counters.submissions - before.submissions).toBeGreaterThanOrEqual(1);
    for (const t of [a, b, c, d]) t.release();
  });

  it('reports the adapter and raised limits', async () => {
    const ctx = await gpu();
    expect(ctx.adapter.runtime).toBe('node-dawn');
    expect(ctx.adapter.vendor.length).toBeGreaterThan(0);
    expect(ctx.adapter.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 1024 * 1024);
    expect(ctx.adapter.limits.maxComputeWorkgroupSizeX).toBeGreaterThanOrEqual(256);
  });

  it('round-trips f32 and u32 data and reuses pooled buffers', async () => {
    const ctx = await gpu();
    const data = Float32Array.from({ length: 37 }, (_, i) => i * 0.5 - 3);
    const t = ctx.upload(hostTensor([37], data));
    const back = await t.read();
    expect(Array.from(back.data)).toEqual(Array.from(data));
    const buffer = t.buffer;
    t.release();
    const again = ctx.upload({ shape: [37], data: Uint32Array.from({ length: 37 }, (_, i) => i * 1000) });
    expect(again.buffer).toBe(buffer);
    expect(again.dtype).toBe('u32');
    expect((await again.read()).data[36]).toBe(36000);
    again.release();
  });

  it('poisons new outputs with NaN when asked', async () => {
    const ctx = await gpu();
    ctx.poisonOutputs = true;
    const t = ctx.empty([5]);
    ctx.poisonOutputs = false;
    expect(Array.from((await t.read()).data).every(Number.isNaN)).toBe(true);
    t.release();
  });

  it('turns a GPU validation error into an exception at the next readback', async () => {
    const ctx = await gpu();
    const t = ctx.upload(hostTensor([4], [1, 2, 3, 4]));
    const wrong = ctx.upload(hostTensor([4], [1, 2, 3, 4]));
    // Binding one buffer as both read-only and writable storage in a dispatch is a validation error
    // that the device reports asynchronously.
    ctx.dispatch({ shader: 'elementwise', entry: 'add', bindings: [t, wrong, t], uniforms: new Uint32Array(1), workgroups: [1] });
    await expect(t.read()).rejects.toThrow(/GPU error/);
    t.release();
    wrong.release();
  });

  it('reports a lost device, and a new context can be created afterwards', async () => {
    const ctx = await createNodeContext();
    ctx.device.destroy();
    const loss = await ctx.lost;
    expect(loss.reason).toBe('destroyed');
    expect(() => ctx.dispatch({ shader: 'elementwise', entry: 'add', bindings: [], workgroups: [1] })).toThrow(/lost/);
    const fresh = await createNodeContext();
    const t = fresh.upload(hostTensor([2], [7, 8]));
    expect(Array.from((await t.read()).data)).toEqual([7, 8]);
    fresh.destroy();
  });
});
