// Kernels chosen by measurement: every variant is timed and validated per row class, only variants
// bit-identical to v1 can be chosen, the choice steers the ops, and the Engine keeps it per
// adapter (a file here) and applies it to the next device.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.ts';
import { nodePlatform } from '../../src/cli/platform.ts';
import { kernelChoicesFile } from '../../src/cli/kernelStore.ts';
import { availableVariants, decodeVariant, defaultVariant, ROW_EXACT_VARIANTS } from '../../src/ops/matmul.ts';
import { adapterSignature, applyKernelChoices, MATMUL_CLASSES, tuneMatmul } from '../../src/ops/tune.ts';
import { gpu } from './gpu.ts';
import { memoryStore } from './memoryStore.ts';

const small = { hidden: 16, qkv: 32, intermediate: 24, vocab: 40 };

describe('kernel choice by measurement', () => {
  it('times and validates every variant in every class and picks an exact one', async () => {
    const ctx = await gpu();
    const r = await tuneMatmul(ctx, small, { reps: 2 });
    const names = availableVariants(ctx).map((v) => v.name);
    for (const c of MATMUL_CLASSES) {
      const rows = r.rows.filter((x) => x.cls === c.name);
      expect(rows.map((x) => x.variant).sort()).toEqual([...names].sort());
      const chosen = rows.find((x) => x.variant === r.choices[c.name])!;
      expect(chosen.exact).toBe(true);
      // The fastest of the eligible ones: exact, and for decoding row-exact.
      if (c.name !== 'bulk') expect(ROW_EXACT_VARIANTS).toContain(chosen.variant);
      const eligible = rows.filter((x) => x.exact && x.ms !== null && (c.name === 'bulk' || (ROW_EXACT_VARIANTS as readonly string[]).includes(x.variant)));
      for (const x of eligible) expect(chosen.ms!).toBeLessThanOrEqual(x.ms!);
    }
    expect(r.adapter).toBe(adapterSignature(ctx.adapter));
    // The choice steers the ops; another adapter's is refused.
    const forced = { ...r, choices: { decode: 'v6', batched: 'v8', bulk: 'v2' } };
    applyKernelChoices(ctx, forced);
    expect([defaultVariant(ctx, 1), defaultVariant(ctx, 9), defaultVariant(ctx, 500), decodeVariant(ctx, 3), decodeVariant(ctx, 12)]).toEqual(['v6', 'v8', 'v2', 'v6', 'v8']);
    ctx.choices.clear();
    expect(() => applyKernelChoices(ctx, { ...r, adapter: 'another | adapter' })).toThrow(/another adapter/);
    expect(() => applyKernelChoices(ctx, { ...r, kernels: '00000000' })).toThrow(/other versions of the kernels/);
  });

  it('a cancel keeps nothing', async () => {
    const ctx = await gpu();
    let calls = 0;
    await expect(tuneMatmul(ctx, small, { shouldStop: () => ++calls > 3 })).rejects.toThrow(/cancelled/);
  });

  it('the Engine measures as a job, stores the choice for this adapter, and a new engine applies it', async () => {
    rmSync(kernelChoicesFile(), { force: true });
    const engine = new Engine({ ...nodePlatform, models: memoryStore() });
    expect((await engine.info()).matmul.choices).toBeNull();
    const job = engine.start('tuneKernels', { shapes: small });
    const fractions: number[] = [];
    job.on((p) => fractions.push(p.fraction));
    const k = await job.result();
    expect(fractions.at(-1)).toBe(1);
    const info = await engine.info();
    expect(info.matmul.choices).toEqual(k);
    expect(info.matmul.choicesStored).toBe(kernelChoicesFile());
    expect(JSON.parse(readFileSync(kernelChoicesFile(), 'utf8'))[k.adapter]).toEqual(k);
    engine.dispose();

    const again = new Engine({ ...nodePlatform, models: memoryStore() });
    expect((await again.info()).matmul.choices).toEqual(k);
    const ctx = await again.core.device.context();
    expect(defaultVariant(ctx, 1)).toBe(k.choices.decode);
    expect(defaultVariant(ctx, 200)).toBe(k.choices.bulk);
    await expect(again.start('tuneKernels', { shapes: { ...small, hidden: 0 } }).result()).rejects.toThrow(/shapes.hidden/);
    again.dispose();
    rmSync(kernelChoicesFile(), { force: true });
    expect(existsSync(kernelChoicesFile())).toBe(false);
  });
});
