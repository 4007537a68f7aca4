// Strict UTF-8 decoding whose error says where the first bad byte is (a fuzzed or corrupt file
// should be refused with a place, not only a verdict).

const strict = new TextDecoder('utf-8', { fatal: true });

/** The offset of the first byte that is not part of a well-formed UTF-8 sequence, or -1. */
export function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i];
    let n: number;
    let min: number;
    if (c < 0x80) {
      i++;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) [n, min] = [1, 0x80];
    else if (c >= 0xe0 && c <= 0xef) [n, min] = [2, 0x800];
    else if (c >= 0xf0 && c <= 0xf4) [n, min] = [3, 0x10000];
    else return i;
    if (i + n >= b.length) return i;
    let cp = c & (0x3f >> n);
    for (let k = 1; k <= n; k++) {
      const x = b[i + k];
      if (x === undefined || (x & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (x & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += n + 1;
  }
  return -1;
}

/** Decodes UTF-8 or throws `${where}: not valid UTF-8 at byte N` (N counted from `offset`). */
export function decodeUtf8(bytes: Uint8Array, where: string, offset = 0): string {
  try {
    return strict.decode(bytes);
  } catch {
    throw new Error(`${where}: not valid UTF-8 at byte ${offset + Math.max(0, firstInvalidUtf8(bytes))}`);
  }
}
