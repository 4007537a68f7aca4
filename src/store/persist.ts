// Small typed persistence over IndexedDB (idb-keyval). Failures (a full quota, private mode) are
// reported to the caller, never swallowed, and never touch what was saved before.
import { del, get, set } from 'idb-keyval';

export async function load<T>(key: string): Promise<T | undefined> {
  return (await get(key)) as T | undefined;
}

export async function save<T>(key: string, value: T): Promise<void> {
  try {
    await set(key, value);
  } catch (e) {
    const err = e as DOMException;
    if (err?.name === 'QuotaExceededError') {
      throw new Error(`Browser storage is full: could not save '${key}'. Earlier saves are kept; free space under Models or in the browser's site settings.`);
    }
    throw new Error(`Could not save '${key}' to browser storage: ${err?.message ?? String(e)}`);
  }
}

export async function remove(key: string): Promise<void> {
  await del(key);
}
