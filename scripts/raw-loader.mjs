// Node module hooks so the CLI can import `*.wgsl?raw` like Vite does: the module's default export
// is the file's text. Registered by bin/aya-playground.js before the TypeScript sources load.
import { readFile } from 'node:fs/promises';

export async function resolve(specifier, context, nextResolve) {
  if (specifier.endsWith('?raw')) {
    const bare = specifier.slice(0, -4);
    const resolved = await nextResolve(bare, context);
    return { url: `${resolved.url}?raw`, format: 'module', shortCircuit: true };
  }
  return nextResolve(specifier, context);
}

export async function load(url, context, nextLoad) {
  if (url.endsWith('?raw')) {
    const text = await readFile(new URL(url.slice(0, -4)), 'utf8');
    return { format: 'module', source: `export default ${JSON.stringify(text)};`, shortCircuit: true };
  }
  return nextLoad(url, context);
}
