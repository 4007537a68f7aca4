// A client of the desktop runtime whose connection drops mid-job: it reconnects by itself, follows
// the job again from the event it had reached (none lost, none twice), and the job, which never
// noticed, ends as usual. A job the runtime does not know after a reconnect ends "failed", saying so.
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { connectEngine } from '../../src/engine/protocol.ts';
import { webSocketPort, type WebSocketLike } from '../../src/engine/webSocketPort.ts';
import { startRuntime, type Runtime } from '../../src/runtime/server.ts';

let runtime: Runtime;
beforeAll(async () => {
  const lib = join(mkdtempSync(join(tmpdir(), 'aya-reconnect-')), 'lib');
  mkdirSync(lib);
  runtime = await startRuntime({ port: 0, roots: [lib], zooDir: null, appDir: null });
});
afterAll(async () => runtime?.close());

describe('reconnecting to the desktop runtime', () => {
  it('follows a running job again after the connection drops, missing no event and repeating none', async () => {
    let socket: WebSocket | null = null;
    let opens = 0;
    const api = connectEngine(
      () => {
        opens++;
        socket = new WebSocket(`${runtime.engineUrl}?token=${runtime.token}`);
        return webSocketPort(socket as unknown as WebSocketLike);
      },
      { lostMessage: 'the runtime went away', reconnect: { delaysMs: [50] } },
    );
    try {
      const statuses: string[] = [];
      api.connection.onStatus((s) => statuses.push(s));
      const base = await api.createModel({ name: 'reconnect-base', preset: 'tiny', seed: 2 });
      const job = api.start('train', { modelId: base.id, name: 'reconnected', mix: [{ language: 'eng', weight: 1 }], useCorpus: true, steps: 6, batchSize: 2, seqLen: 16, lr: 3e-3, seed: 1, evalEvery: 0, checkpointEvery: 0 });
      const steps: number[] = [];
      job.on((e) => {
        if (e.type !== 'step') return;
        steps.push(e.point.step);
        if (e.point.step === 2) socket!.terminate(); // the link drops; the job on the runtime goes on
      });
      const r = await job.result();
      expect(r.steps).toBe(6);
      expect(steps).toEqual([1, 2, 3, 4, 5, 6]);
      expect(opens).toBeGreaterThanOrEqual(2);
      expect(statuses).toContain('reconnecting');
      expect(api.connection.status).toBe('connected');
      // Calls work again on the new connection.
      expect((await api.listModels()).map((m) => m.id)).toContain(r.model!.id);

      // A job started on a new client before its first connection is open runs as usual (it is not
      // mistaken for a job the engine forgot).
      const early = connectEngine(() => webSocketPort(new WebSocket(`${runtime.engineUrl}?token=${runtime.token}`) as unknown as WebSocketLike), { lostMessage: 'gone', reconnect: { delaysMs: [50] } });
      try {
        const o = await early.start('sample', { modelId: base.id, prompt: 'Hello', lang: 'eng', sampling: { temperature: 0, topK: 0, topP: 1, maxNewTokens: 3, seed: 1 } }).outcome;
        expect(o.status).toBe('done');
      } finally {
        early.close();
      }
    } finally {
      api.close();
    }
  });
});
