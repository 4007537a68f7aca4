// Turns what a person drops or picks (a folder, several folders' worth of files, loose files) into
// one model folder: bare file name → File. Only files of the model-folder format (DESIGN §5) are
// kept; the rest (README.md, .gitattributes, pytorch_model.bin, …) are listed as ignored so nobody
// wonders where they went, and never bloat IndexedDB.
import { KNOWN_FILES, isShardName } from '../../model/folder.ts';

export interface PickedFile {
  /** Path relative to what was picked, '/'-separated: 'my-model/config.json' or 'config.json'. */
  path: string;
  file: File;
}

export interface StagedFolder {
  /** The folder's name when a folder was picked, else null. */
  folderName: string | null;
  files: Map<string, File>;
  ignored: Array<{ path: string; why: string }>;
}

const isModelFile = (name: string) => KNOWN_FILES.includes(name) || isShardName(name);

export function stageFolder(picked: PickedFile[]): StagedFolder {
  let paths = picked.map((p) => ({ parts: p.path.split('/').filter(Boolean), file: p.file }));
  let folderName: string | null = null;
  // Strip folders every file sits in ("parent/my-model/config.json" → "config.json"), remembering
  // the innermost one as the model's name.
  while (paths.length && paths.every((p) => p.parts.length > 1 && p.parts[0] === paths[0].parts[0])) {
    folderName = paths[0].parts[0];
    paths = paths.map((p) => ({ parts: p.parts.slice(1), file: p.file }));
  }
  const files = new Map<string, File>();
  const ignored: StagedFolder['ignored'] = [];
  for (const p of paths) {
    const path = p.parts.join('/');
    if (p.parts.length > 1) ignored.push({ path, why: 'in a subfolder' });
    else if (!isModelFile(path)) ignored.push({ path, why: 'not part of a model folder' });
    else if (files.has(path)) ignored.push({ path, why: 'picked twice' });
    else files.set(path, p.file);
  }
  return { folderName, files, ignored };
}

export function fromInput(list: FileList | null): PickedFile[] {
  return [...(list ?? [])].map((file) => ({ path: file.webkitRelativePath || file.name, file }));
}

/** Must be called synchronously in the drop handler: the DataTransfer empties once it returns. */
export function fromDrop(dt: DataTransfer): Promise<PickedFile[]> {
  const entries = [...dt.items].map((i) => i.webkitGetAsEntry?.()).filter((e): e is FileSystemEntry => !!e);
  if (!entries.length) return Promise.resolve([...dt.files].map((file) => ({ path: file.name, file })));
  return Promise.all(entries.map(walk)).then((lists) => lists.flat());
}

async function walk(entry: FileSystemEntry): Promise<PickedFile[]> {
  const path = entry.fullPath.replace(/^\/+/, '');
  if (entry.isFile) {
    const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
    return [{ path, file }];
  }
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  const children: FileSystemEntry[] = [];
  // readEntries answers in batches (about 100 in Chrome) until it returns an empty one.
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (!batch.length) break;
    children.push(...batch);
  }
  return (await Promise.all(children.map(walk))).flat();
}

export async function readAll(files: Map<string, File>): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for (const [name, f] of files) out.set(name, new Uint8Array(await f.arrayBuffer()));
  return out;
}
