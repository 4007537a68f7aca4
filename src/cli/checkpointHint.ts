// After a job fails partway (a full disk, a lost device), the CLI says which checkpoint survived and
// how to continue from it: the folder's writes go through temp files and renames, so the last
// checkpoint that was written whole is still there.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TRAINER_STATE_FILE } from '../model/folder.ts';

/** The step of the resumable checkpoint in `dir`, or null when it holds none (or cannot be read). */
export function checkpointStep(dir: string): number | null {
  try {
    const step = (JSON.parse(readFileSync(join(dir, TRAINER_STATE_FILE), 'utf8')) as { step?: unknown }).step;
    return Number.isInteger(step) ? (step as number) : null;
  } catch {
    return null;
  }
}

/** The error of a failed run, with what it kept: the last checkpoint among `dirs` and the command
 *  that continues it, or that nothing resumable was saved. */
export function withResumeHint(e: unknown, command: 'train' | 'dpo', dirs: ReadonlyArray<string | null | undefined>): Error {
  const message = e instanceof Error ? e.message : String(e);
  const saved = [...dirs].reverse().find((d): d is string => !!d && checkpointStep(d) !== null);
  const hint = saved
    ? `The checkpoint at step ${checkpointStep(saved)} in ${saved} is kept; continue it with: aya-playground ${command} --resume ${saved}`
    : 'No checkpoint had been saved.';
  return new Error(`${message}. ${hint}`);
}
