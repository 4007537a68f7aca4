import { beforeEach, describe, expect, it, vi } from 'vitest';

// An in-memory idb-keyval whose `set` can be made to fail the way a full IndexedDB does.
const db = new Map<string, unknown>();
let quotaFull = false;
vi.mock('idb-keyval', () => ({
  get: async (k: string) => db.get(k),
  set: async (k: string, v: unknown) => {
    if (quotaFull) throw Object.assign(new Error('quota'), { name: 'QuotaExceededError' });
    db.set(k, v);
  },
  del: async (k: string) => void db.delete(k),
  update: async (k: string, f: (v: unknown) => unknown) => {
    if (quotaFull) throw Object.assign(new Error('quota'), { name: 'QuotaExceededError' });
    db.set(k, f(db.get(k)));
  },
}));

const { indexedDbModelStore } = await import('../../src/store/models.ts');
const summary = (id: string) => ({ id, name: id }) as never;

describe('IndexedDB model store', () => {
  beforeEach(() => {
    db.clear();
    quotaFull = false;
  });

  it('stores files and the index, and reads them back', async () => {
    await indexedDbModelStore.put(summary('a'), new Map([['config.json', new Uint8Array([1, 2])]]));
    expect((await indexedDbModelStore.list()).map((m) => m.id)).toEqual(['a']);
    expect(Array.from((await indexedDbModelStore.files('a')).get('config.json')!)).toEqual([1, 2]);
    await expect(indexedDbModelStore.files('nope')).rejects.toThrow(/'nope' is not in this browser's storage/);
  });

  it('a full quota is reported clearly and loses nothing saved before', async () => {
    await indexedDbModelStore.put(summary('a'), new Map([['config.json', new Uint8Array([1])]]));
    quotaFull = true;
    await expect(indexedDbModelStore.put(summary('b'), new Map([['config.json', new Uint8Array([2])]]))).rejects.toThrow(
      /Browser storage is full: model 'b' was not saved\. Models saved earlier are kept/,
    );
    quotaFull = false;
    expect((await indexedDbModelStore.list()).map((m) => m.id)).toEqual(['a']);
    expect(Array.from((await indexedDbModelStore.files('a')).get('config.json')!)).toEqual([1]);
  });
});
