// Model folders in IndexedDB (idb-keyval): an index of summaries plus one record of files per
// model. Files are written before the index entry, so a failed write (e.g. a full quota) leaves
// every earlier model intact and no dangling entry behind.
import { del, get, set, update } from 'idb-keyval';
import type { ModelStore, ModelSummary } from '../engine/models.ts';
import type { ModelFiles } from '../model/folder.ts';

const INDEX = 'models:index';
const filesKey = (id: string) => `models:files:${id}`;

function describe(e: unknown, what: string): Error {
  const err = e as DOMException;
  if (err?.name === 'QuotaExceededError') {
    return new Error(`Browser storage is full: ${what} was not saved. Models saved earlier are kept; delete some under Models or free space in the browser's site settings.`);
  }
  return new Error(`${what} could not be saved to browser storage: ${err?.message ?? String(e)}`);
}

export const indexedDbModelStore: ModelStore = {
  async list(): Promise<ModelSummary[]> {
    return (((await get(INDEX)) as ModelSummary[] | undefined) ?? []).map((m) => ({ ...m, location: 'this browser (IndexedDB)' }));
  },

  async files(id: string): Promise<ModelFiles> {
    const rec = (await get(filesKey(id))) as Record<string, Uint8Array> | undefined;
    if (!rec) throw new Error(`model '${id}' is not in this browser's storage`);
    return new Map(Object.entries(rec));
  },

  async put(summary: ModelSummary, files: ModelFiles): Promise<void> {
    const existed = ((await get(INDEX)) as ModelSummary[] | undefined)?.some((m) => m.id === summary.id) ?? false;
    try {
      await set(filesKey(summary.id), Object.fromEntries(files));
    } catch (e) {
      throw describe(e, `model '${summary.name}'`);
    }
    try {
      await update(INDEX, (list: ModelSummary[] | undefined) => [...(list ?? []).filter((m) => m.id !== summary.id), summary]);
    } catch (e) {
      // A new model leaves nothing behind; an overwritten one (a checkpoint) keeps its new files,
      // which its index entry still describes well enough to load.
      if (!existed) await del(filesKey(summary.id)).catch(() => undefined);
      throw describe(e, `model '${summary.name}'`);
    }
  },

  async delete(id: string): Promise<void> {
    await update(INDEX, (list: ModelSummary[] | undefined) => (list ?? []).filter((m) => m.id !== id));
    await del(filesKey(id));
  },
};
