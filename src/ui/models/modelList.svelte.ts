// The stored models, shared by the Models and Compare panels. The worker owns the truth (IndexedDB);
// this is the UI's latest copy of its list, refreshed after every change.
import type { ModelSummary } from '../../engine/models.ts';
import type { ModelConfig } from '../../model/config.ts';
import { MODEL_PRESETS } from '../../model/presets.ts';
import { engine } from '../engineClient.svelte.ts';

class ModelList {
  items = $state<ModelSummary[]>([]);
  /** False until the first list arrives, so panels can tell "no models" from "not asked yet". */
  loaded = $state(false);
  error = $state<string | null>(null);

  async refresh(): Promise<void> {
    try {
      const list = await engine.ready().listModels();
      // Oldest first: a new model appears at the end and nothing else moves.
      this.items = list.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
      this.loaded = true;
      this.error = null;
    } catch (e) {
      this.error = `Could not list the stored models: ${(e as Error).message}`;
    }
  }
}

export const modelList = new ModelList();

/** The preset a config was made from, if its shape matches one. */
export function presetOf(c: ModelConfig): string | null {
  const p = MODEL_PRESETS.find(
    (x) =>
      x.config.hiddenSize === c.hiddenSize &&
      x.config.intermediateSize === c.intermediateSize &&
      x.config.numHiddenLayers === c.numHiddenLayers &&
      x.config.numAttentionHeads === c.numAttentionHeads &&
      x.config.numKeyValueHeads === c.numKeyValueHeads,
  );
  return p?.id ?? null;
}

/** The seed of a model created here (from its playground.json), or null. */
export function initSeed(m: ModelSummary): number | null {
  const init = m.playground?.init as { seed?: unknown } | undefined;
  return typeof init?.seed === 'number' ? init.seed : null;
}
