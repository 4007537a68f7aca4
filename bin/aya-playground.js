#!/usr/bin/env node
// The CLI runs the TypeScript sources directly: tsx compiles them, scripts/raw-loader.mjs serves
// the WGSL files, so Node runs the very code the app's Worker runs.
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

register('../scripts/raw-loader.mjs', import.meta.url);
registerTsx();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
