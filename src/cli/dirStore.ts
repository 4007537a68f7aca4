// Models as folders on disk, for the CLI: a model's id is its directory path (as the user typed it).
import { basename, join, resolve } from 'node:path';
import type { ModelStore, ModelSummary } from '../engine/models.ts';
import { summarize } from '../engine/models.ts';
import { fromHfConfig } from '../model/config.ts';
import type { ModelFiles } from '../model/folder.ts';
import { readModelDir, readModelDirSummary, readTokenizerFiles, writeModelDir } from '../model/folder.node.ts';

/** A folder's summary without reading its weights. */
export async function folderSummary(dir: string, id: string, name: string): Promise<ModelSummary> {
  const s = await readModelDirSummary(dir);
  const config = fromHfConfig(s.config, join(dir, 'config.json'));
  const origin = s.playground?.trained === true || s.playground?.parent ? 'trained' : s.playground?.trained === false ? 'created' : 'imported';
  return { ...summarize(id, name, origin, config, new Map(), s.playground, s.mtime.toISOString()), files: s.files, bytes: s.bytes, location: dir };
}

export const dirModelStore: ModelStore = {
  async list(): Promise<ModelSummary[]> {
    return [];
  },
  files(id: string): Promise<ModelFiles> {
    return readModelDir(resolve(id));
  },
  async put(summary: ModelSummary, files: ModelFiles): Promise<void> {
    await writeModelDir(resolve(summary.id), files);
  },
  async delete(id: string): Promise<void> {
    throw new Error(`the CLI does not delete model folders (${basename(id)}); remove the directory yourself`);
  },
  summary: (id) => folderSummary(resolve(id), id, basename(resolve(id))),
  tokenizerFiles: (id) => readTokenizerFiles(resolve(id)),
  // Paths as given: a merge's mergekit_config.yml then names the inputs as the user did.
  localPath: async (id) => id,
};
