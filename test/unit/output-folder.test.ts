// Output folders the CLI cannot write: refused before the job runs, with the option and the path,
// and nothing left behind; folders under a parent that refuses them (/proc) do not hang.
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkOutputFolder, makeDirs } from '../../src/util/fs.node.ts';
import { firstInvalidUtf8 } from '../../src/util/utf8.ts';
import { main } from '../../src/cli/main.ts';

async function cli(args: string[]): Promise<{ code: number; stderr: string }> {
  const write = process.stderr.write;
  let stderr = '';
  process.stderr.write = ((c: string | Uint8Array) => ((stderr += String(c)), true)) as typeof process.stderr.write;
  try {
    return { code: await main(args), stderr };
  } finally {
    process.stderr.write = write;
  }
}

describe('output folders', () => {
  it('makeDirs makes nested folders and refuses (does not hang) under /proc', async () => {
    const base = mkdtempSync(join(tmpdir(), 'aya-out-'));
    await makeDirs(join(base, 'a', 'b', 'c'));
    expect(existsSync(join(base, 'a', 'b', 'c'))).toBe(true);
    await expect(makeDirs('/proc/self/aya-nope/x')).rejects.toThrow(/cannot create \/proc\/self\/aya-nope/);
    writeFileSync(join(base, 'file'), 'x');
    await expect(makeDirs(join(base, 'file', 'x'))).rejects.toThrow(/cannot create .*(is not a folder|is a file, not a folder)/);
  });

  it('checkOutputFolder refuses a file, a parent that is a file and /proc, and creates nothing', async () => {
    const base = mkdtempSync(join(tmpdir(), 'aya-out-'));
    writeFileSync(join(base, 'file'), 'x');
    await expect(checkOutputFolder(join(base, 'file'))).rejects.toThrow(/^--out: cannot use .*it is a file, not a folder/);
    await expect(checkOutputFolder(join(base, 'file', 'x'), '--dest')).rejects.toThrow(/^--dest: cannot use/);
    await expect(checkOutputFolder('/proc/self/aya-nope')).rejects.toThrow(/^--out: cannot (write to|create folders in) '\/proc\/self'/);
    await checkOutputFolder(join(base, 'new', 'deeper'));
    expect(existsSync(join(base, 'new'))).toBe(false);
  });

  it('train and merge refuse an unusable --out before any work, leaving it untouched', async () => {
    for (const args of [
      ['train', '--model', 'public/models/teacher-romance', '--out', '/proc/self/aya-train', '--steps', '1'],
      ['merge', '--config', 'nothing.yml', '--out', '/proc/self/aya-merge'],
    ]) {
      const r = await cli(args);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^aya-playground ${args[0]}: --out: cannot (write to|create folders in) '/proc/self'`));
      expect(existsSync(args[args.indexOf('--out') + 1])).toBe(false);
    }
  });
});

describe('UTF-8 errors say where', () => {
  it('firstInvalidUtf8 agrees with a strict TextDecoder on random bytes', () => {
    const strict = new TextDecoder('utf-8', { fatal: true });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 24 }), fc.string({ unit: 'binary', maxLength: 8 }), (junk, text) => {
        const bytes = Uint8Array.from([...new TextEncoder().encode(text), ...junk]);
        let valid = true;
        try {
          strict.decode(bytes);
        } catch {
          valid = false;
        }
        const at = firstInvalidUtf8(bytes);
        expect(at === -1).toBe(valid);
        // Everything before the reported byte decodes.
        if (at >= 0) expect(() => strict.decode(bytes.subarray(0, at))).not.toThrow();
      }),
      { numRuns: 2000, seed: 5 },
    );
  });
});
