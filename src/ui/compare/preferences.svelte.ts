// Human preference clicks from Compare ("left better / right better / tie"), kept in IndexedDB and
// exported as TRL preference JSONL ({"prompt","chosen","rejected"} + language, models).
import { load, save } from '../../store/persist.ts';

export interface PreferenceClick {
  prompt: string;
  language: string;
  left: { model: string; modelId: string; completion: string };
  right: { model: string; modelId: string; completion: string };
  verdict: 'left' | 'right' | 'tie';
  seed: number;
  at: string;
}

const KEY = 'aya.preferences.v1';

/** TRL pairs from the clicks; ties have no chosen/rejected and are left out. */
export function preferencesJsonl(clicks: readonly PreferenceClick[]): string {
  return clicks
    .filter((c) => c.verdict !== 'tie')
    .map((c) => {
      const [chosen, rejected] = c.verdict === 'left' ? [c.left, c.right] : [c.right, c.left];
      return JSON.stringify({ prompt: c.prompt, chosen: chosen.completion, rejected: rejected.completion, language: c.language, chosen_model: chosen.model, rejected_model: rejected.model, source: 'human', at: c.at }) + '\n';
    })
    .join('');
}

class Preferences {
  items = $state<PreferenceClick[]>([]);
  loaded = $state(false);
  error = $state<string | null>(null);

  async refresh(): Promise<void> {
    try {
      this.items = (await load<PreferenceClick[]>(KEY)) ?? [];
      this.loaded = true;
    } catch (e) {
      this.error = `Could not read saved preferences: ${(e as Error).message}`;
    }
  }

  async add(click: PreferenceClick): Promise<boolean> {
    const next = [...this.items, click];
    try {
      await save(KEY, next);
      this.items = next;
      this.error = null;
      return true;
    } catch (e) {
      this.error = (e as Error).message; // what was saved before stays saved
      return false;
    }
  }

  async clear(): Promise<void> {
    await save(KEY, []);
    this.items = [];
  }
}

export const preferences = new Preferences();
