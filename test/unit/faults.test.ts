// Fault drills that only the tab's engine may run: a worker crash on purpose would take the CLI's or
// the runtime's whole process (and every client's jobs) with it, so both refuse it.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.ts';
import { nodePlatform } from '../../src/cli/platform.ts';
import { startRuntime } from '../../src/runtime/server.ts';
import { wsClient } from './runtimeClient.ts';

describe('simulated worker crash', () => {
  it('is refused by the CLI and by the desktop runtime, which keep serving', async () => {
    const engine = new Engine(nodePlatform);
    await expect(engine.simulateWorkerCrash()).rejects.toThrow(/for the tab's engine worker, not the CLI/);
    engine.dispose();

    const runtime = await startRuntime({ port: 0, roots: [mkdtempSync(join(tmpdir(), 'aya-faults-'))], zooDir: null, appDir: null });
    const api = wsClient(runtime);
    try {
      await expect(api.simulateWorkerCrash()).rejects.toThrow(/not the desktop runtime/);
      await new Promise((r) => setTimeout(r, 50));
      expect(await api.listModels()).toEqual([]);
    } finally {
      api.close();
      await runtime.close();
    }
  });
});
