// `aya-playground serve`: the desktop runtime (src/runtime/server.ts) with the built app, so that
// opening the URL it prints gives the app already connected to this machine's engine.
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ParseArgsConfig } from 'node:util';
import { startRuntime } from '../runtime/server.ts';
import { int, UsageError, type Values } from './args.ts';
import { connectOpenAi, ggufTeachers, TEACHER_OPTIONS, TEACHER_USAGE } from './teacherOptions.ts';

export const SERVE_USAGE = `  serve [--models DIR …] ${TEACHER_USAGE}
        [--port 8737] [--host 127.0.0.1] [--allow-origin URL …] [--max-message-mb 512] [--no-app]
                                             the desktop runtime: the engine on this machine's GPU
                                             (Dawn) over a WebSocket, and the app, connected to it;
                                             the model library is the --models folders (default
                                             ~/.aya-playground/models) plus the shipped zoo;
                                             --gguf adds llama.cpp teachers (sample, not train),
                                             --openai an OpenAI-compatible server's models; the
                                             runtime serves /v1 (OpenAI API, key = its token)
`;

export const SERVE_OPTIONS: Record<string, ParseArgsConfig['options']> = {
  serve: {
    models: { type: 'string', multiple: true },
    ...TEACHER_OPTIONS,
    port: { type: 'string', default: '8737' },
    host: { type: 'string', default: '127.0.0.1' },
    'allow-origin': { type: 'string', multiple: true },
    'max-message-mb': { type: 'string' },
    'no-app': { type: 'boolean' },
  },
};

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function newestMtime(path: string): number {
  if (!existsSync(path)) return 0;
  const s = statSync(path);
  if (!s.isDirectory()) return s.mtimeMs;
  let t = s.mtimeMs;
  for (const e of readdirSync(path)) t = Math.max(t, newestMtime(join(path, e)));
  return t;
}

/** dist/, built first when it is missing or older than the sources (a fresh clone has none). */
async function builtApp(log: (s: string) => void): Promise<string | null> {
  const dist = join(ROOT, 'dist');
  const index = join(dist, 'index.html');
  const sources = Math.max(...['src', 'shaders', 'index.html', 'vite.config.ts', 'package.json'].map((p) => newestMtime(join(ROOT, p))));
  if (existsSync(index) && statSync(index).mtimeMs >= sources) return dist;
  let vite: typeof import('vite');
  try {
    vite = await import('vite');
  } catch {
    log(existsSync(index) ? 'the built app is older than the sources and vite is not installed to rebuild it; serving it as it is' : 'no built app (dist/) and vite is not installed to build it: serving the engine only');
    return existsSync(index) ? dist : null;
  }
  log(`building the app into ${dist} (first run, or the sources changed)…`);
  await vite.build({ root: ROOT, logLevel: 'warn', configFile: join(ROOT, 'vite.config.ts') });
  return dist;
}

export async function runServeCommand(values: Values): Promise<number> {
  const log = (s: string) => process.stderr.write(`${s}\n`);
  const port = int(values, 'port', 8737);
  const host = String(values.host);
  const roots = ((values.models as unknown as string[] | undefined) ?? [join(homedir(), '.aya-playground', 'models')]).map((d) => resolve(d));
  for (const r of roots) {
    mkdirSync(r, { recursive: true });
    if (!statSync(r).isDirectory()) throw new UsageError(`--models: ${r} is not a folder`);
  }
  const maxMb = values['max-message-mb'] === undefined ? 512 : int(values, 'max-message-mb');
  // Every GGUF header is checked before anything starts: a bad file is named now, not at first use.
  const teachers = await ggufTeachers(values);
  const appDir = values['no-app'] ? null : await builtApp(log);
  const runtime = await startRuntime({
    port,
    host,
    roots,
    zooDir: join(ROOT, 'public', 'models'),
    appDir,
    allowOrigins: (values['allow-origin'] as unknown as string[] | undefined) ?? [],
    maxMessageBytes: maxMb * 2 ** 20,
    teachers: teachers ? [teachers] : [],
    log,
  });
  const a = runtime.info.adapter;
  const out = (s: string) => process.stdout.write(`${s}\n`);
  out('aya-playground desktop runtime');
  out(`  adapter:  ${a.vendor || 'unknown vendor'} / ${a.architecture || 'unknown architecture'}${a.description ? ` (${a.description})` : ''}${a.isFallbackAdapter || /swiftshader/i.test(`${a.vendor} ${a.architecture} ${a.description}`) ? ' — a software (CPU) adapter: slow' : ''}`);
  out(`  library:  ${roots.join(', ')} (new models are saved in ${roots[0]}), plus the shipped zoo`);
  await connectOpenAi(runtime.engine, values, out, false);
  if (teachers) for (const t of await teachers.list()) out(`  teacher:  ${t.id} — ${t.details.architecture}, ${t.details.parameters} parameters, ${t.chat ? 'chat template' : 'raw completion'} (${t.location})`);
  if (!['127.0.0.1', 'localhost', '::1'].includes(host)) {
    out(`  WARNING:  listening on ${host}, not only this machine: anyone who can reach it and has the token can use this GPU and read and write the library folders`);
  }
  out(appDir ? `  open:     ${runtime.url}` : `  engine:   ${runtime.engineUrl} (token in: ${runtime.url})`);
  out('  (the token in the URL changes every run; Ctrl-C stops the runtime and its jobs)');
  await new Promise<void>((done) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      log('stopping the runtime…');
      void runtime.close().finally(done);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  return 0;
}
