// A per-language character n-gram language model with Witten–Bell interpolation (no tuned
// constants): P(c | h) = (C(h c) + N₁₊(h •)·P(c | h′)) / (C(h) + N₁₊(h •)), down to a uniform
// distribution over the characters seen plus one for "unseen". Fitted on the UDHR training split,
// it scores fluency as the mean log-probability per character.

const BOUNDARY = '\u0002'; // start-of-text padding; never occurs in UDHR text

export interface CharNgramJson {
  order: number;
  /** counts[k] maps a history of k characters + next character to its count. */
  counts: Array<Record<string, number>>;
  vocabulary: number;
}

export class CharNgramModel {
  /** For each history length k (0..order−1): "history\u0001next" → count. */
  private readonly counts: Array<Map<string, number>>;
  /** For each k: history → [total count, distinct continuations]. */
  private readonly histories: Array<Map<string, [number, number]>>;
  readonly vocabulary: number;

  private constructor(readonly order: number, counts: Array<Map<string, number>>, vocabulary: number) {
    this.counts = counts;
    this.vocabulary = vocabulary;
    this.histories = counts.map((m) => {
      const h = new Map<string, [number, number]>();
      for (const [key, c] of m) {
        const hist = key.slice(0, key.indexOf('\u0001'));
        const e = h.get(hist) ?? [0, 0];
        e[0] += c;
        e[1] += 1;
        h.set(hist, e);
      }
      return h;
    });
  }

  /** Fits an order-`order` model (histories of up to order−1 characters) on `texts`. */
  static fit(texts: readonly string[], order = 4): CharNgramModel {
    if (!Number.isInteger(order) || order < 1) throw new Error(`CharNgramModel: order must be a positive integer, got ${order}`);
    const counts = Array.from({ length: order }, () => new Map<string, number>());
    const chars = new Set<string>();
    for (const text of texts) {
      const cs = Array.from(text.normalize('NFC'));
      for (const c of cs) chars.add(c);
      const padded = [...new Array<string>(order - 1).fill(BOUNDARY), ...cs];
      for (let i = order - 1; i < padded.length; i++) {
        for (let k = 0; k < order; k++) {
          const key = padded.slice(i - k, i).join('') + '\u0001' + padded[i];
          counts[k].set(key, (counts[k].get(key) ?? 0) + 1);
        }
      }
    }
    return new CharNgramModel(order, counts, chars.size + 1);
  }

  /** log P(next | history) with the history's last order−1 characters. */
  logProb(history: readonly string[], next: string): number {
    let p = 1 / this.vocabulary;
    for (let k = 0; k < this.order; k++) {
      if (k > history.length) break;
      const hist = history.slice(history.length - k).join('');
      const stats = this.histories[k].get(hist);
      if (!stats) break; // a longer history unseen: no longer one is either
      const c = this.counts[k].get(hist + '\u0001' + next) ?? 0;
      p = (c + stats[1] * p) / (stats[0] + stats[1]);
    }
    return Math.log(p);
  }

  /**
   * Mean natural-log probability per character of `text`, after `context` (e.g. the prompt it
   * continues; without one, `text` starts a text).
   */
  meanLogProb(text: string, context = ''): { mean: number; chars: number } {
    const cs = Array.from(text.normalize('NFC'));
    if (cs.length === 0) return { mean: Math.log(1 / this.vocabulary), chars: 0 };
    const ctx = Array.from(context.normalize('NFC'));
    // The last order−1 characters of (padding + context).
    const history = [...new Array<string>(this.order - 1).fill(BOUNDARY), ...ctx].slice(ctx.length);
    let total = 0;
    for (const c of cs) {
      total += this.logProb(history, c);
      history.push(c);
      history.shift();
    }
    return { mean: total / cs.length, chars: cs.length };
  }

  /** log of the uniform floor: what a character the model has never seen scores at most. */
  get uniformLogProb(): number {
    return Math.log(1 / this.vocabulary);
  }

  toJson(): CharNgramJson {
    return { order: this.order, vocabulary: this.vocabulary, counts: this.counts.map((m) => Object.fromEntries(m)) };
  }

  static fromJson(j: CharNgramJson): CharNgramModel {
    return new CharNgramModel(j.order, j.counts.map((o) => new Map(Object.entries(o))), j.vocabulary);
  }
}
