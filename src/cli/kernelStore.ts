// The measured kernel choices in Node (the CLI and the desktop runtime): one JSON file keyed by
// adapter, in the user's cache folder ($AYA_PLAYGROUND_CACHE, else ~/.cache/aya-playground).
import { makeDirs } from '../util/fs.node.ts';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { KernelChoiceStore } from '../engine/core.ts';
import type { KernelChoices } from '../ops/tune.ts';

export function kernelChoicesFile(): string {
  return join(process.env.AYA_PLAYGROUND_CACHE || join(homedir(), '.cache', 'aya-playground'), 'kernels.json');
}

async function readAll(path: string): Promise<Record<string, KernelChoices>> {
  try {
    const v = JSON.parse(await readFile(path, 'utf8')) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, KernelChoices>) : {};
  } catch {
    return {}; // missing or unreadable: nothing measured yet (the next save rewrites it whole)
  }
}

export const fileKernelStore: KernelChoiceStore = {
  get where() {
    return kernelChoicesFile();
  },
  async load(adapter) {
    const k = (await readAll(kernelChoicesFile()))[adapter];
    return k && typeof k === 'object' && k.adapter === adapter && k.choices ? k : null;
  },
  async save(choices) {
    const path = kernelChoicesFile();
    const all = await readAll(path);
    all[choices.adapter] = choices;
    await makeDirs(dirname(path));
    // Written aside, then renamed: a crash never leaves half a file.
    const tmp = `${path}.${process.pid}.tmp`;
    await writeFile(tmp, `${JSON.stringify(all, null, 2)}\n`);
    await rename(tmp, path);
  },
};
