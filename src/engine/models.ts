// Where models live and what the UI is told about them. The store is injected: IndexedDB in the
// browser (src/store/models.ts), directories in Node (src/cli/dirStore.ts).
import type { ModelConfig } from '../model/config.ts';
import { parameterCount } from '../model/config.ts';
import type { ModelFiles } from '../model/folder.ts';

export type ModelOrigin = 'created' | 'imported' | 'trained' | 'builtin';

export interface ModelSummary {
  id: string;
  name: string;
  origin: ModelOrigin;
  /** False for a randomly initialised model: its samples are noise, and the UI says so. */
  trained: boolean;
  createdAt: string;
  config: ModelConfig;
  parameters: number;
  bytes: number;
  files: string[];
  playground: Record<string, unknown> | null;
  /** Where it lives, in words: "built-in zoo", "this browser", a folder on the runtime's disk. */
  location?: string;
}

export interface ModelStore {
  list(): Promise<ModelSummary[]>;
  /** Files of one model; throws naming the id when it is unknown. */
  files(id: string): Promise<ModelFiles>;
  put(summary: ModelSummary, files: ModelFiles): Promise<void>;
  delete(id: string): Promise<void>;
  /** The id a new model called `name` gets (default: the engine makes one up). */
  newId?(name: string): string;
  /** A stored model's summary as the store describes it (its location, say), after a put. */
  summary?(id: string): Promise<ModelSummary>;
  /** Only the tokenizer files of a model (cheaper than every weight). */
  tokenizerFiles?(id: string): Promise<ModelFiles>;
  /** Node stores: the folder of a model on disk, resolved inside the store's roots (for streaming
   *  merges). `forWrite`: a folder that may not exist yet. */
  localPath?(id: string, forWrite?: boolean): Promise<string>;
}

/** A playground.json says whether training happened; a model without one (an HF checkpoint) is
 *  assumed trained. */
export function isTrained(playground: Record<string, unknown> | null): boolean {
  if (!playground) return true;
  return playground.trained !== false;
}

export function summarize(
  id: string,
  name: string,
  origin: ModelOrigin,
  config: ModelConfig,
  files: ModelFiles,
  playground: Record<string, unknown> | null,
  createdAt = new Date().toISOString(),
): ModelSummary {
  let bytes = 0;
  for (const f of files.values()) bytes += f.byteLength;
  return {
    id,
    name,
    origin,
    trained: isTrained(playground),
    createdAt,
    config,
    parameters: parameterCount(config),
    bytes,
    files: [...files.keys()].sort(),
    playground,
  };
}
