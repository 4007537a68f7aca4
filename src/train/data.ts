// Training data: token sequences with a loss mask, and a seeded sampler that draws fixed-length
// batches from a weighted mix of languages.
//
// Example layout: ids = <bos> <lang:xx> text… <eos>. The model predicts ids[i+1] from ids[≤i];
// mask[i] says whether that prediction counts. The language tag is given, never predicted; for
// prompt/completion pairs only the completion and the final <eos> count (SFT).
import { show } from '../util/show.ts';
import type { BpeTokenizer } from '../tokenizer/bpe.ts';
import { LANGUAGE_CODES } from '../data/languages.ts';
import { Rng, type RngState } from '../util/rng.ts';

export interface TrainExample {
  language: string;
  ids: number[];
  /** mask[i] ∈ {0, 1}: count the prediction of ids[i + 1]; length ids.length − 1. */
  mask: number[];
  /** Prompt/completion pair: a window keeps the completion and cuts the prompt from the left. */
  pair?: boolean;
}

export function textExample(tok: BpeTokenizer, language: string, text: string): TrainExample {
  const ids = [...tok.encodePrompt(text, language), tok.eos];
  const mask = ids.slice(1).map((_, i) => (i === 0 ? 0 : 1)); // position 0 would predict the tag
  return { language, ids, mask };
}

export function pairExample(tok: BpeTokenizer, language: string, prompt: string, completion: string): TrainExample {
  const head = tok.encodePrompt(prompt, language);
  const tail = [...tok.encode(completion), tok.eos];
  const ids = [...head, ...tail];
  const mask = ids.slice(1).map((_, i) => (i + 1 >= head.length ? 1 : 0));
  return { language, ids, mask, pair: true };
}

export interface Batch {
  /** [batch][seqLen] input ids. */
  ids: number[][];
  /** Flattened [batch · seqLen] next-token targets (pad where masked out). */
  targets: number[];
  /** Flattened [batch · seqLen] mask (0/1). */
  mask: number[];
  languages: string[];
  /** Number of counted predictions. */
  tokens: number;
}

/** Where a window of seqLen + 1 tokens of `ex` starts: 0 when it fits; for a longer text a random
 *  start (`rng`) or the beginning (`rng` null: held-out windows must not depend on anything else);
 *  for a longer pair, the latest start that still includes the start of the completion, so the
 *  completion is kept and the prompt is cut from the left. */
export function windowStart(ex: TrainExample, seqLen: number, rng: Rng | null): number {
  const span = seqLen + 1;
  if (ex.ids.length <= span) return 0;
  const latest = ex.ids.length - span;
  if (ex.pair) {
    const first = ex.mask.indexOf(1); // predicts the completion's first token from ids[first]
    return Math.max(0, Math.min(latest, first));
  }
  return rng ? rng.int(latest + 1) : 0;
}

/** A window of seqLen + 1 tokens of `ex` (see windowStart), padded with `pad`. */
export function window(ex: TrainExample, seqLen: number, pad: number, rng: Rng | null): { ids: number[]; targets: number[]; mask: number[] } {
  const start = windowStart(ex, seqLen, rng);
  const ids: number[] = [];
  const targets: number[] = [];
  const mask: number[] = [];
  for (let i = 0; i < seqLen; i++) {
    const j = start + i;
    const has = j + 1 < ex.ids.length;
    ids.push(j < ex.ids.length ? ex.ids[j] : pad);
    targets.push(has ? ex.ids[j + 1] : pad);
    mask.push(has ? ex.mask[j] : 0);
  }
  return { ids, targets, mask };
}

export interface MixEntry {
  language: string;
  weight: number;
}

/** Draws examples: first a language by weight, then an example of it uniformly; seeded. */
export class BatchSampler {
  private readonly rng: Rng;
  private readonly langs: string[];
  private readonly cumulative: number[];

  constructor(
    private readonly byLanguage: Map<string, TrainExample[]>,
    mix: MixEntry[],
    seed: number,
  ) {
    this.rng = new Rng(seed);
    const usable = mix.filter((m) => m.weight > 0);
    if (usable.length === 0) throw new Error('the data mix has no language with a positive weight');
    for (const m of usable) {
      if (!(byLanguage.get(m.language)?.length ?? 0)) throw new Error(`no training examples for '${m.language}'`);
    }
    this.langs = usable.map((m) => m.language);
    const total = usable.reduce((s, m) => s + m.weight, 0);
    let acc = 0;
    this.cumulative = usable.map((m) => (acc += m.weight / total));
  }

  rngState(): RngState {
    return this.rng.state();
  }

  restore(s: RngState): void {
    this.rng.restore(s);
  }

  next(batch: number, seqLen: number, pad: number): Batch {
    const out: Batch = { ids: [], targets: [], mask: [], languages: [], tokens: 0 };
    for (let b = 0; b < batch; b++) {
      const u = this.rng.uniform();
      let li = this.cumulative.findIndex((c) => u < c);
      if (li < 0) li = this.langs.length - 1; // u at the very top after rounding
      const lang = this.langs[li];
      const pool = this.byLanguage.get(lang)!;
      const w = window(pool[this.rng.int(pool.length)], seqLen, pad, this.rng);
      out.ids.push(w.ids);
      out.targets.push(...w.targets);
      out.mask.push(...w.mask);
      out.languages.push(lang);
    }
    out.tokens = out.mask.reduce((s, m) => s + m, 0);
    return out;
  }
}

export interface PairRecord {
  prompt: string;
  completion: string;
  language: string;
}

/** Parses JSONL of {"prompt", "completion", "language"}; errors name the line. */
export function parsePairsJsonl(text: string, file = 'data.jsonl'): PairRecord[] {
  const out: PairRecord[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch (e) {
      throw new Error(`${file}:${i + 1}: not valid JSON (${(e as Error).message})`);
    }
    const r = rec as Record<string, unknown>;
    for (const k of ['prompt', 'completion', 'language']) {
      if (typeof r?.[k] !== 'string') throw new Error(`${file}:${i + 1}: "${k}" must be a string`);
    }
    if (!LANGUAGE_CODES.includes(r.language as string)) {
      throw new Error(`${file}:${i + 1}: unknown language '${show(r.language)}' (expected one of ${LANGUAGE_CODES.join(', ')})`);
    }
    out.push({ prompt: r.prompt as string, completion: r.completion as string, language: r.language as string });
  });
  if (out.length === 0) throw new Error(`${file}: no records`);
  return out;
}
