import { engine } from '../engineClient.svelte.ts';

/** Why a "Resume from …" button is disabled, and what to do: it depends on where the run lives. */
export function resumeBlocked(): string {
  return engine.side === 'runtime'
    ? 'The desktop runtime is not connected: start `aya-playground serve` again if it stopped and open the URL it prints (the checkpoint is kept in its library).'
    : 'The engine is not ready: restart it first (the checkpoint is kept).';
}
