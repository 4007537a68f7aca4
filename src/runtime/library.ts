// The desktop runtime's model library: the folders given with `serve --models DIR` (listed, read and
// written in place as Hugging Face model folders) plus the shipped zoo (read-only). A model's id is
// "<root label>/<folder>" — never a path: every id is resolved inside its root, and a name with
// "..", an absolute path, or a symlink that leads out of the root is refused.
import { makeDirs } from '../util/fs.node.ts';
import { existsSync } from 'node:fs';
import { lstat, readFile, readdir, realpath } from 'node:fs/promises';
import { basename, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { ModelStore, ModelSummary } from '../engine/models.ts';
import type { ModelFiles } from '../model/folder.ts';
import { readModelDir, readTokenizerFiles, writeModelDir } from '../model/folder.node.ts';
import { slugify } from '../util/slug.ts';
import { folderSummary } from '../cli/dirStore.ts';
import type { ZooManifest } from '../store/builtinModels.ts';

export class PathRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PathRefused';
  }
}

export interface LibraryRoot {
  label: string;
  dir: string;
}

/** Labels from the folders' names, made unique ("models", "models-2"). */
export function labelRoots(dirs: string[]): LibraryRoot[] {
  const used = new Set<string>();
  return dirs.map((d) => {
    const dir = resolve(d);
    const base = basename(dir).replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[.-]+/, '') || 'models';
    let label = base;
    for (let i = 2; used.has(label); i++) label = `${base}-${i}`;
    used.add(label);
    return { label, dir };
  });
}

const inside = (root: string, p: string) => p === root || p.startsWith(root.endsWith(sep) ? root : root + sep);

/** The folder library over `roots` (the first is where new models are saved). */
export function folderLibrary(roots: LibraryRoot[]): ModelStore & { resolveId(id: string, forWrite?: boolean): Promise<string> } {
  if (roots.length === 0) throw new Error('the model library needs at least one folder');
  const byLabel = new Map(roots.map((r) => [r.label, r]));
  /** Ids handed out for new models whose folders may not exist yet (two runs of one name). */
  const reserved = new Set<string>();

  /** The id's folder, inside its root (a folder that may not exist yet when `forWrite`). */
  async function resolveId(id: string, forWrite = false): Promise<string> {
    if (typeof id !== 'string' || id.length === 0 || id.length > 1024) throw new PathRefused('a model id must be a non-empty string');
    if (id.includes('\0') || id.includes('\\')) throw new PathRefused(`model id '${id.slice(0, 80)}': bad characters`);
    if (isAbsolute(id)) throw new PathRefused(`model id '${id.slice(0, 80)}': an absolute path is not a model id; ids are "<library>/<folder>"`);
    const [label, ...rest] = id.split('/');
    const root = byLabel.get(label);
    if (!root) throw new PathRefused(`model id '${id.slice(0, 80)}': no library folder '${label}' (the runtime serves ${roots.map((r) => r.label).join(', ')})`);
    if (rest.length === 0 || rest.some((s) => s === '' || s === '.' || s === '..')) throw new PathRefused(`model id '${id.slice(0, 80)}': the path must stay inside the library folder (no '..', '.' or empty parts)`);
    const rootReal = await realpath(root.dir);
    const target = join(root.dir, ...rest);
    // Follow links: the deepest part that exists must resolve inside the root.
    let probe = target;
    while (!existsSync(probe)) {
      if (!forWrite) throw new Error(`no model '${id}' in the library (${target} does not exist)`);
      probe = resolve(probe, '..');
    }
    const real = await realpath(probe);
    if (!inside(rootReal, real)) throw new PathRefused(`model id '${id.slice(0, 80)}' leads outside the library folder ${root.dir} (through a symbolic link); refused`);
    // The files in it too: a link in a model folder must not lead out either.
    if (probe === target && (await lstat(target)).isDirectory()) {
      for (const name of await readdir(target)) {
        const f = join(target, name);
        if ((await lstat(f)).isSymbolicLink() && !inside(rootReal, await realpath(f).catch(() => f))) {
          throw new PathRefused(`${f} is a symbolic link that leads outside the library folder ${root.dir}; refused`);
        }
      }
    }
    return target;
  }

  async function list(): Promise<ModelSummary[]> {
    const out: ModelSummary[] = [];
    for (const root of roots) {
      let entries: string[];
      try {
        entries = (await readdir(root.dir)).sort();
      } catch {
        continue; // an unreadable root lists nothing; reading a model from it says why
      }
      for (const name of entries) {
        if (name.startsWith('.')) continue;
        const id = `${root.label}/${name}`;
        try {
          const dir = await resolveId(id);
          if (!(await lstat(dir).then((s) => s.isDirectory() || s.isSymbolicLink()))) continue;
          if (!existsSync(join(dir, 'config.json'))) continue;
          out.push(await folderSummary(dir, id, name));
        } catch {
          // Not a model folder, a broken one, or a link out of the library: not listed.
        }
      }
    }
    return out;
  }

  return {
    resolveId,
    list,
    async files(id: string): Promise<ModelFiles> {
      return readModelDir(await resolveId(id));
    },
    async put(summary: ModelSummary, files: ModelFiles): Promise<void> {
      const dir = await resolveId(summary.id, true);
      await writeModelDir(dir, files);
    },
    async delete(id: string): Promise<void> {
      const dir = await resolveId(id);
      throw new Error(`the runtime does not delete folders on disk; remove ${dir} yourself if you no longer need it`);
    },
    newId(name: string): string {
      const slug = slugify(name, 48);
      const root = roots[0];
      let folder = slug;
      for (let i = 2; existsSync(join(root.dir, folder)) || reserved.has(`${root.label}/${folder}`); i++) folder = `${slug}-${i}`;
      const id = `${root.label}/${folder}`;
      reserved.add(id);
      return id;
    },
    async summary(id: string): Promise<ModelSummary> {
      const dir = await resolveId(id);
      return folderSummary(dir, id, basename(dir));
    },
    tokenizerFiles: async (id) => readTokenizerFiles(await resolveId(id)),
    async localPath(id: string, forWrite = false): Promise<string> {
      const dir = await resolveId(id, forWrite);
      if (forWrite) await makeDirs(resolve(dir, '..'));
      return dir;
    },
  };
}

/** The shipped zoo from a folder with its manifest.json (public/models), read-only, with the same
 *  ids as in the tab ("builtin:teacher-romance"). */
export function zooLibrary(dir: string): ModelStore & { manifest(): Promise<ZooManifest | null> } {
  const manifest = async (): Promise<ZooManifest | null> => {
    const bytes = await readFile(join(dir, 'manifest.json')).catch(() => null);
    return bytes ? (JSON.parse(bytes.toString('utf8')) as ZooManifest) : null;
  };
  const folderOf = async (id: string): Promise<string> => {
    const m = await manifest();
    const e = m?.models.find((x) => `builtin:${x.id}` === id);
    if (!e) throw new Error(`no built-in model '${id}'`);
    const folder = resolve(dir, e.folder);
    if (relative(dir, folder).startsWith('..')) throw new PathRefused(`the zoo manifest names a folder outside ${dir}`);
    return folder;
  };
  return {
    manifest,
    async list() {
      const m = await manifest();
      if (!m) return [];
      return Promise.all(m.models.map(async (e) => ({ ...(await folderSummary(await folderOf(`builtin:${e.id}`), `builtin:${e.id}`, e.id)), origin: 'builtin' as const, location: `built-in zoo (${join(dir, e.folder)})`, createdAt: m.created_at })));
    },
    files: async (id) => readModelDir(await folderOf(id)),
    async put() {
      throw new Error('built-in models are read-only');
    },
    async delete() {
      throw new Error('built-in models cannot be deleted');
    },
    summary: (id) => zooSummary(id),
    tokenizerFiles: async (id) => readTokenizerFiles(await folderOf(id)),
    localPath: async (id, forWrite) => {
      if (forWrite) throw new Error('built-in models are read-only');
      return folderOf(id);
    },
  };
  async function zooSummary(id: string): Promise<ModelSummary> {
    const folder = await folderOf(id);
    return { ...(await folderSummary(folder, id, id.slice('builtin:'.length))), origin: 'builtin', location: `built-in zoo (${folder})` };
  }
}
