import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const run = (...args: string[]): string => execFileSync('node', ['bin/aya-playground.js', ...args], { encoding: 'utf8', timeout: 120_000 });

describe('aya-playground CLI', () => {
  it('info --json prints the adapter, limits and versions', () => {
    const info = JSON.parse(run('info', '--json'));
    expect(info.adapter.runtime).toBe('node-dawn');
    expect(typeof info.adapter.vendor).toBe('string');
    expect(info.adapter.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
    expect(info.versions.app).toMatch(/^\d+\.\d+\.\d+/);
    expect(info.matmul.variants).toContain(info.matmul.default);
  });

  it('rejects an unknown command with usage and exit code 2', () => {
    expect(() => run('frobnicate')).toThrow(/unknown command 'frobnicate'/);
    try {
      run('frobnicate');
    } catch (e) {
      expect((e as { status: number }).status).toBe(2);
    }
  });

  it('bench --json reports the peak and matmul rows with ratios (tiny sizes)', () => {
    const r = JSON.parse(run('bench', '--json', '--sizes', '32', '--no-model-shapes', '--seconds', '0.01'));
    expect(r.peak.gflops).toBeGreaterThan(0);
    expect(r.matmul.length).toBe(2 * r.matmul.filter((x: { transB: boolean }) => !x.transB).length);
    for (const row of r.matmul) {
      expect(row.gflops).toBeGreaterThan(0);
      expect(row.ratio).toBeCloseTo(row.gflops / r.peak.gflops, 10);
    }
  });
});
