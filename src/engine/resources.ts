// What every job shares besides the device and the models: the universal tokenizer, the UDHR corpus,
// prompt sets and the reference Arbiter (its character models are fitted once, on first use).
import { show } from '../util/show.ts';
import { type Prompt, type UdhrDocument, buildPrompts, loadCorpus, type UdhrSource } from '../data/corpus.ts';
import { LANGUAGE_CODES, language } from '../data/languages.ts';
import { BpeTokenizer } from '../tokenizer/bpe.ts';
import { type ArbiterScore, type ArbiterWeights, DEFAULT_WEIGHTS, ReferenceArbiter } from '../arbiter/arbiter.ts';
import { type ArbitragePrompt, parsePromptsJsonl } from '../arbitrage/arbitrage.ts';
import type { PromptSelection, ScoreItem } from './api.ts';

/** A promise made once and made again after it failed. */
function once<T>(make: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | null = null;
  return () => {
    if (!p) {
      p = make();
      p.catch(() => (p = null));
    }
    return p;
  };
}

export class Resources {
  readonly builtinTokenizer: () => Promise<BpeTokenizer>;
  readonly documents: () => Promise<Map<string, UdhrDocument>>;
  private readonly arbiter: () => Promise<ReferenceArbiter>;

  constructor(udhr: UdhrSource, tokenizerJson: () => Promise<unknown>) {
    this.builtinTokenizer = once(async () => BpeTokenizer.fromTokenizerJson(await tokenizerJson(), 'universal tokenizer.json'));
    this.documents = once(() => loadCorpus(udhr, [...LANGUAGE_CODES]));
    this.arbiter = once(async () => ReferenceArbiter.fromCorpus(await this.documents()));
  }

  /** Held-out (or training) prompts of one language, cut at about 24 tokens of the universal tokenizer. */
  async prompts(lang: string, split: 'train' | 'heldout' = 'heldout'): Promise<Prompt[]> {
    language(lang);
    if (split !== 'train' && split !== 'heldout') throw new Error(`split must be 'train' or 'heldout', got '${show(split)}'`);
    const [docs, tok] = await Promise.all([this.documents(), this.builtinTokenizer()]);
    const doc = docs.get(lang);
    if (!doc) throw new Error(`no UDHR text for '${lang}'`);
    return buildPrompts(doc, lang, split, { encode: (s) => tok.encode(s) });
  }

  /** The reference arbiter with `weights`. */
  async referenceArbiter(weights: ArbiterWeights = DEFAULT_WEIGHTS): Promise<ReferenceArbiter> {
    return (await this.arbiter()).withWeights(weights);
  }

  async score(items: ScoreItem[], weights: ArbiterWeights = DEFAULT_WEIGHTS): Promise<ArbiterScore[]> {
    if (!Array.isArray(items)) throw new Error('score: expected a list of {prompt, completion, language}');
    const arb = await this.referenceArbiter(weights);
    return items.map((x) => arb.score(x.prompt, x.completion, x.language, x.reference));
  }

  /** A prompt set: UDHR training or held-out prompts, or an imported JSONL. */
  async promptSet(sel: PromptSelection): Promise<ArbitragePrompt[]> {
    let all: ArbitragePrompt[];
    if (sel?.source?.kind === 'udhr') {
      const split = sel.source.split;
      const langs = sel.languages?.length ? sel.languages : [...LANGUAGE_CODES];
      all = (await Promise.all(langs.map((l) => this.prompts(l, split)))).flat().map((p) => ({ id: p.id, prompt: p.prompt, language: p.language, reference: p.reference }));
    } else if (sel?.source?.kind === 'jsonl') {
      all = parsePromptsJsonl(String(sel.source.text), String(sel.source.file), sel.source.language);
      if (sel.languages?.length) all = all.filter((p) => sel.languages!.includes(p.language));
    } else throw new Error("prompts: the source must be {kind: 'udhr', split} or {kind: 'jsonl', text, file}");
    if (sel.perLanguage !== undefined) {
      if (!Number.isInteger(sel.perLanguage) || sel.perLanguage < 1) throw new Error(`prompts per language must be a positive integer, got ${sel.perLanguage}`);
      const seen = new Map<string, number>();
      all = all.filter((p) => {
        const n = (seen.get(p.language) ?? 0) + 1;
        seen.set(p.language, n);
        return n <= sel.perLanguage!;
      });
    }
    if (all.length === 0) throw new Error('no prompts match the chosen languages');
    return all;
  }
}
