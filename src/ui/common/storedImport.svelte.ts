// An imported file a panel keeps across reloads. It can be large: IndexedDB, not localStorage. Read
// back when the panel mounts (unless a file was imported first), then saved on every change (removed
// when set to null). Call it while the component initialises (it uses onMount and $effect).
import { onMount, untrack } from 'svelte';
import { load, remove, save } from '../../store/persist.ts';

export interface StoredImport<T> {
  value: T | null;
  /** What went wrong reading or saving it, in words (null: nothing). */
  error: string | null;
}

export function storedImport<T>(key: string, messages: { read?: (e: Error) => string; write: (e: Error) => string }): StoredImport<T> {
  const stored = $state<StoredImport<T>>({ value: null, error: null });
  let restored = $state(false);

  onMount(() => {
    load<T>(key).then(
      (v) => {
        if (v && !stored.value) stored.value = v;
        restored = true;
      },
      (e) => {
        if (messages.read) stored.error = messages.read(e as Error);
        restored = true;
      },
    );
  });

  $effect(() => {
    const v = $state.snapshot(stored.value);
    if (!untrack(() => restored)) return;
    (v ? save(key, v) : remove(key)).then(
      () => (stored.error = null),
      (e) => (stored.error = messages.write(e as Error)),
    );
  });

  return stored;
}
