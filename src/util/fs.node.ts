// Node file-system helpers shared by the CLI, the runtime and the model/merge writers.
import { access, constants, mkdir, readFile, rmdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';

/**
 * `mkdir -p` without Node's recursive mode, which never returns where a parent answers ENOENT to
 * every attempt (under /proc, say): each missing folder is made in turn, and a refusal is an error.
 * Returns the folders it made, outermost first (for removeMadeDirs after a failed write).
 */
export async function makeDirs(dir: string): Promise<string[]> {
  const missing: string[] = [];
  let d = resolve(dir);
  for (;;) {
    try {
      if (!(await stat(d)).isDirectory()) throw new Error(`cannot create ${resolve(dir)}: ${d} is not a folder`);
      break;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOTDIR') throw new Error(`cannot create ${resolve(dir)}: a part of the path is a file, not a folder`);
      if (code !== 'ENOENT') throw new Error(`cannot create ${resolve(dir)}: ${(e as Error).message}`);
      missing.unshift(d);
      const up = dirname(d);
      if (up === d) break;
      d = up;
    }
  }
  const made: string[] = [];
  for (const m of missing) {
    try {
      await mkdir(m);
      made.push(m);
    } catch (e) {
      // Made meanwhile is fine, if it is a folder (not a file, not a dangling link).
      const there = (e as NodeJS.ErrnoException).code === 'EEXIST' && (await stat(m).then((s) => s.isDirectory(), () => false));
      if (!there) {
        await removeMadeDirs(made);
        throw new Error(`cannot create ${m}: ${(e as Error).message}`);
      }
    }
  }
  return made;
}

/** Undoes makeDirs after a failed write (a full disk, say): the folders it made, innermost first,
 *  each only if empty, so the destination is as it was. */
export async function removeMadeDirs(made: readonly string[]): Promise<void> {
  for (const d of [...made].reverse()) await rmdir(d).catch(() => undefined);
}

/** A text file given on the command line; an error names the path (EISDIR alone does not). */
export async function readTextFile(path: string, option?: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'EISDIR' ? 'it is a folder, not a file' : code === 'ENOENT' ? 'no such file' : (e as Error).message;
    throw new Error(`${option ? `${option}: ` : ''}cannot read '${path}': ${why}`);
  }
}

/**
 * Checks, before a long job, that its output folder can be made where it is asked for: the
 * nearest existing parent is a writable folder (and the folder itself, if it exists, is one).
 * The destination is not created (a refusal leaves it untouched); a probe folder is made and
 * removed in that parent, since some places (/proc) refuse folders whatever they claim.
 */
export async function checkOutputFolder(dir: string, option = '--out'): Promise<void> {
  const target = resolve(dir);
  let d = target;
  for (;;) {
    let s;
    try {
      s = await stat(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`${option}: cannot use '${dir}': ${(e as Error).message}`);
      const up = dirname(d);
      if (up === d) throw new Error(`${option}: cannot use '${dir}': no existing parent folder`);
      d = up;
      continue;
    }
    if (!s.isDirectory()) throw new Error(`${option}: cannot use '${dir}': ${d === target ? 'it is a file, not a folder' : `${d} is a file, not a folder`}`);
    try {
      await access(d, constants.W_OK);
    } catch {
      throw new Error(`${option}: cannot write to '${d}' (read-only or not yours)`);
    }
    // Some places refuse new folders whatever their permissions say (/proc, /sys): try one.
    if (d !== target) {
      const probe = join(d, `.aya-playground-probe-${process.pid}-${Date.now()}`);
      try {
        await mkdir(probe);
      } catch (e) {
        throw new Error(`${option}: cannot create folders in '${d}': ${(e as Error).message}`);
      }
      await rmdir(probe).catch(() => undefined);
    }
    return;
  }
}
