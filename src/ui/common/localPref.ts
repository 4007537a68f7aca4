// Small UI preferences in localStorage: synchronous, so a panel opens with its last settings
// instead of flashing the defaults first. Unreadable or missing values fall back to `fallback`.

export function loadPref<T>(key: string, fallback: T): T {
  try {
    const raw = localStorage.getItem(key);
    return raw === null ? fallback : (JSON.parse(raw) as T);
  } catch {
    return fallback;
  }
}

/** Returns an error message instead of throwing: losing a preference must not break a panel. */
export function savePref(key: string, value: unknown): string | null {
  try {
    localStorage.setItem(key, JSON.stringify(value));
    return null;
  } catch (e) {
    return `Could not save settings: ${(e as Error).message}`;
  }
}
