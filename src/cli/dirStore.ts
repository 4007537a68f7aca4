// Models as folders on disk, for the CLI: a model's id is its directory path.
import { basename, resolve } from 'node:path';
import type { ModelStore, ModelSummary } from '../engine/models.ts';
import type { ModelFiles } from '../model/folder.ts';
import { readModelDir, writeModelDir } from '../model/folder.node.ts';

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
};
