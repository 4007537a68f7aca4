// Teachers from elsewhere for the CLI's commands that sample (serve, arbitrage, eval): GGUF files
// run by llama.cpp (--gguf) and OpenAI-compatible servers (--openai URL, named by their host).
import type { ParseArgsConfig } from 'node:util';
import type { EngineApi } from '../engine/api.ts';
import { LlamaTeachers } from '../runtime/llamaTeachers.ts';
import type { Values } from './args.ts';

export const TEACHER_OPTIONS = {
  gguf: { type: 'string', multiple: true },
  openai: { type: 'string', multiple: true },
  'openai-key': { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

export const TEACHER_USAGE = `[--gguf FILE|DIR …] [--openai URL … [--openai-key KEY]]`;

const list = (v: unknown): string[] => (Array.isArray(v) ? (v as string[]) : typeof v === 'string' ? [v] : []);

/** The llama.cpp teachers of --gguf, every header checked now (a bad file is named before anything runs). */
export async function ggufTeachers(values: Values): Promise<LlamaTeachers | null> {
  const gguf = list(values.gguf);
  return gguf.length ? LlamaTeachers.open(gguf) : null;
}

/** An endpoint's short name: its host and port (teacher ids are openai:<name>/<model>). */
export function endpointName(baseUrl: string): string {
  try {
    return new URL(baseUrl).host.replace(/[^A-Za-z0-9._-]+/g, '-');
  } catch {
    return baseUrl; // checkEndpoint names the bad URL
  }
}

/** Connects each --openai server; `strict`: a server that does not answer is an error (else it is reported). */
export async function connectOpenAi(engine: EngineApi, values: Values, report: (line: string) => void, strict: boolean): Promise<void> {
  for (const baseUrl of list(values.openai)) {
    const name = endpointName(baseUrl);
    try {
      const listed = await engine.connectEndpoint({ name, baseUrl, apiKey: values['openai-key'] as string | undefined });
      report(`  server:   ${baseUrl} as '${name}': ${listed.length} model${listed.length === 1 ? '' : 's'} (${listed.map((t) => t.id).join(', ')})`);
    } catch (e) {
      if (strict) throw new Error(`--openai ${baseUrl}: ${(e as Error).message}`);
      report(`  server:   ${baseUrl} NOT connected: ${(e as Error).message} (connect it later from the app's Models panel)`);
    }
  }
}
