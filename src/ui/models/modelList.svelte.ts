// The stored models, shared by the Models and Compare panels. The worker owns the truth (IndexedDB);
// this is the UI's latest copy of its list, refreshed after every change.
import type { ModelSummary } from '../../engine/models.ts';
import type { ModelConfig } from '../../model/config.ts';
import { MODEL_PRESETS } from '../../model/presets.ts';
import { untrack } from 'svelte';
import { engine } from '../engineClient.svelte.ts';

class ModelList {
  items = $state<ModelSummary[]>([]);
  /** False until the first list arrives, so panels can tell "no models" from "not asked yet". */
  loaded = $state(false);
  error = $state<string | null>(null);
  /** A model another panel pointed at ("see it in Models"): the Models panel scrolls to it and marks it. */
  focusId = $state<string | null>(null);

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

// A job that saves models ended — maybe in another tab on the same desktop runtime: read the list again.
$effect.root(() => {
  $effect(() => {
    if (engine.modelJobsEnded > 0) untrack(() => void modelList.refresh());
  });
});

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

/** What a built-in (zoo) model is, from its playground.json: role and language family. */
export function zooRole(m: ModelSummary): { role: string; family: string | null; languages: string[] } | null {
  if (m.origin !== 'builtin' || !m.playground) return null;
  const p = m.playground as { role?: unknown; family?: unknown; languages?: unknown };
  return {
    role: typeof p.role === 'string' ? p.role : 'model',
    family: typeof p.family === 'string' ? p.family : null,
    languages: Array.isArray(p.languages) ? p.languages.filter((x): x is string => typeof x === 'string') : [],
  };
}

/** How a model trained here came to be, from its playground.json. */
export function trainingOf(m: ModelSummary): { status: string; stepsDone: number; steps: number; parent: string | null; languages: string[] } | null {
  const t = m.playground?.training as { status?: unknown; steps_done?: unknown; steps?: unknown; mix?: unknown } | undefined;
  if (!t || typeof t.status !== 'string') return null;
  const parent = m.playground?.parent as { name?: unknown } | undefined;
  const mix = Array.isArray(t.mix) ? (t.mix as Array<{ language?: unknown; weight?: unknown }>) : [];
  return {
    status: t.status,
    stepsDone: typeof t.steps_done === 'number' ? t.steps_done : 0,
    steps: typeof t.steps === 'number' ? t.steps : 0,
    parent: typeof parent?.name === 'string' ? parent.name : null,
    languages: mix.filter((x) => typeof x.language === 'string' && typeof x.weight === 'number' && x.weight > 0).map((x) => x.language as string),
  };
}

/** The seed of a model created here (from its playground.json), or null. */
export function initSeed(m: ModelSummary): number | null {
  const init = m.playground?.init as { seed?: unknown } | undefined;
  return typeof init?.seed === 'number' ? init.seed : null;
}
