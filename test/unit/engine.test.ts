// The engine's plumbing without a GPU: the job registry (history, re-subscription, one cancel
// semantic, pause), the WebSocket codec, and the streaming text decoder.
import { describe, expect, it } from 'vitest';
import { JobRegistry, type JobMessage } from '../../src/engine/jobRegistry.ts';
import { JobCancelled } from '../../src/engine/api.ts';
import { CodecError, decodeFrame, encodeFrame } from '../../src/engine/codec.ts';
import { TextStream } from '../../src/tokenizer/stream.ts';

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('JobRegistry', () => {
  it('replays a job’s whole history to a late subscriber, then follows it to its end', async () => {
    const reg = new JobRegistry();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const rec = reg.start<number, string>('sample', 'j1', {}, '', async (ctl) => {
      ctl.emit(1);
      ctl.emit(2);
      await gate;
      ctl.emit(3);
      return 'ok';
    });
    await tick();
    const seen: JobMessage[] = [];
    rec.follow((m) => seen.push(m));
    expect(seen).toEqual([{ type: 'event', seq: 0, data: 1 }, { type: 'event', seq: 1, data: 2 }, { type: 'state', state: 'running' }]);
    const fromOne: JobMessage[] = [];
    rec.follow((m) => fromOne.push(m), 1)();
    expect(fromOne).toEqual([{ type: 'event', seq: 1, data: 2 }, { type: 'state', state: 'running' }]);
    release();
    expect(await rec.done).toEqual({ status: 'done', result: 'ok' });
    expect(seen.slice(3)).toEqual([{ type: 'event', seq: 2, data: 3 }, { type: 'end', outcome: { status: 'done', result: 'ok' } }]);
    const late: JobMessage[] = [];
    rec.follow((m) => late.push(m));
    expect(late.map((m) => m.type)).toEqual(['event', 'event', 'event', 'end']);
    expect(reg.list()[0]).toMatchObject({ id: 'j1', state: 'done', events: 3 });
  });

  it('one cancel semantic: a partial result, or none; failures keep their message', async () => {
    const reg = new JobRegistry();
    const partial = reg.start('train', 'a', {}, '', async (ctl) => {
      while (!ctl.shouldStop()) await tick();
      return 'half';
    });
    partial.cancel();
    expect(await partial.done).toEqual({ status: 'cancelled', result: 'half' });
    const none = reg.start('merge', 'b', {}, '', async (ctl) => {
      for (;;) {
        ctl.throwIfStopped();
        await tick();
      }
    });
    none.cancel();
    expect(await none.done).toEqual({ status: 'cancelled', result: null });
    const thrown = reg.start('bench', 'c', {}, '', async () => {
      throw new JobCancelled('c', 'partial rows');
    });
    expect(await thrown.done).toEqual({ status: 'cancelled', result: 'partial rows' });
    const failed = reg.start('bench', 'd', {}, '', async () => {
      throw new Error('no GPU');
    });
    expect(await failed.done).toEqual({ status: 'failed', error: 'no GPU' });
    expect(() => reg.start('bench', 'd', {}, '', async () => 1)).toThrow(/exists already/);
    expect(() => reg.start('bench', 'bad id!', {}, '', async () => 1)).toThrow(/bad job id/);
    expect(() => reg.get('zzz')).toThrow(/no job 'zzz'/);
  });

  it('pause waits between steps until resume; the state is reported; pause is refused where it makes no sense', async () => {
    const reg = new JobRegistry();
    const states: string[] = [];
    reg.onChange((jobs) => states.push(jobs[0].state));
    let steps = 0;
    const rec = reg.start('train', 't', {}, '', async (ctl) => {
      for (let i = 0; i < 3; i++) {
        await ctl.waitIfPaused();
        steps++;
        await tick();
      }
      return steps;
    });
    rec.pause();
    await tick();
    await tick();
    expect(rec.state).toBe('paused');
    const before = steps;
    await new Promise((r) => setTimeout(r, 30));
    expect(steps).toBe(before);
    rec.resume();
    expect(await rec.done).toEqual({ status: 'done', result: 3 });
    expect(states).toContain('paused');
    const sample = reg.start('sample', 's', {}, '', async () => 1);
    sample.pause();
    expect(sample.pauseRequested).toBe(false);
  });

  it('keeps only the most recent finished jobs', async () => {
    const reg = new JobRegistry(2);
    for (const id of ['a', 'b', 'c']) await reg.start('bench', id, {}, '', async () => id).done;
    await tick();
    expect(reg.list().map((j) => j.id)).toEqual(['b', 'c']);
  });
});

describe('the WebSocket codec', () => {
  it('round-trips Maps, byte arrays, typed arrays and non-finite numbers; text frames when there are no bytes', () => {
    const msg = { id: 1, files: new Map([['model.safetensors', new Uint8Array([1, 2, 3])], ['x', new Uint8Array(0)]]), f: new Float32Array([1.5, -2]), n: [NaN, Infinity, -Infinity, 0], s: 'ü', nested: { $t: 'looks like a tag' } };
    const frame = encodeFrame(msg);
    expect(frame).toBeInstanceOf(Uint8Array);
    const back = decodeFrame(frame) as typeof msg;
    expect([...back.files.keys()]).toEqual(['model.safetensors', 'x']);
    expect([...back.files.get('model.safetensors')!]).toEqual([1, 2, 3]);
    expect(back.f).toBeInstanceOf(Float32Array);
    expect([...back.f]).toEqual([1.5, -2]);
    expect(back.n).toEqual([NaN, Infinity, -Infinity, 0]);
    expect(back.nested).toEqual({ $t: 'looks like a tag' });
    expect(typeof encodeFrame({ a: 1 })).toBe('string');
  });

  it('refuses malformed frames with a message that says what is wrong', () => {
    expect(() => decodeFrame('{not json')).toThrow(CodecError);
    expect(() => decodeFrame('{"$t":"bytes","i":0,"c":"Uint8Array"}')).toThrow(/no binary part 0/);
    expect(() => decodeFrame('{"$t":"weird"}')).toThrow(/unknown tag/);
    expect(() => decodeFrame(new Uint8Array([1, 0]))).toThrow(/too short/);
    const header = new TextEncoder().encode('{"m":1,"b":[10]}');
    const f = new Uint8Array(4 + header.length + 3);
    new DataView(f.buffer).setUint32(0, header.length, true);
    f.set(header, 4);
    expect(() => decodeFrame(f)).toThrow(/runs past the end/);
    expect(() => decodeFrame('['.repeat(300) + ']'.repeat(300))).toThrow(/nested deeper/);
  });
});

describe('TextStream', () => {
  it('holds back an incomplete UTF-8 character until it is complete', () => {
    // Tokens that are single bytes of "é" (C3 A9) then "a".
    const bytes: Record<number, number[]> = { 1: [0xc3], 2: [0xa9], 3: [0x61] };
    const dec = new TextDecoder();
    const s = new TextStream((ids) => dec.decode(new Uint8Array(ids.flatMap((i) => bytes[i]))));
    expect(s.push(1)).toBe('');
    expect(s.push(2)).toBe('é');
    expect(s.push(3)).toBe('a');
    expect(s.text).toBe('éa');
  });
});
