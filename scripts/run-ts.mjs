#!/usr/bin/env node
// Runs a TypeScript script of the project with the same module hooks as the CLI (tsx, and *.wgsl?raw
// through raw-loader.mjs): node scripts/run-ts.mjs scripts/some-script.ts [args…]
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { register as registerTsx } from 'tsx/esm/api';

register('./raw-loader.mjs', import.meta.url);
registerTsx();
const [script, ...rest] = process.argv.slice(2);
if (!script) {
  console.error('usage: node scripts/run-ts.mjs SCRIPT.ts [args…]');
  process.exit(2);
}
process.argv = [process.argv[0], script, ...rest];
await import(pathToFileURL(resolve(script)).href);
