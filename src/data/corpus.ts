// The UDHR corpus (DESIGN §7): the train / held-out split by article and the prompt sets cut from
// it. Pure: the text arrives through a `UdhrSource` (source.node.ts reads node_modules, source.browser.ts
// bundles the 23 files with Vite).

import { LANGUAGES, LANGUAGE_CODES, language } from './languages.ts';
import { parseUdhrHtml, type UdhrDocument } from './udhr.ts';

export type { UdhrDocument } from './udhr.ts';

/** Fetches the HTML of `udhr/declaration/<udhrStem>.html`. */
export type UdhrSource = (udhrStem: string) => Promise<string>;

export type Split = 'train' | 'heldout';

export const ARTICLE_COUNT = 30;
/** Articles 1..LAST_TRAIN_ARTICLE (with the preamble) train; the rest are held out. */
export const LAST_TRAIN_ARTICLE = 22;

export interface SplitParagraph {
  /** 0 for the preamble, else the article number. */
  article: number;
  /** 1-based position within the preamble or article. */
  paragraph: number;
  text: string;
}

/** The paragraphs of one split with their provenance, in document order. */
export function splitParagraphs(doc: UdhrDocument, split: Split): SplitParagraph[] {
  const out: SplitParagraph[] = [];
  const add = (article: number, paragraphs: readonly string[]): void => {
    paragraphs.forEach((text, i) => out.push({ article, paragraph: i + 1, text }));
  };
  if (split === 'train') {
    add(0, doc.preamble);
    for (let a = 1; a <= Math.min(LAST_TRAIN_ARTICLE, doc.articles.length); a++) add(a, doc.articles[a - 1]);
  } else {
    for (let a = LAST_TRAIN_ARTICLE + 1; a <= doc.articles.length; a++) add(a, doc.articles[a - 1]);
  }
  return out;
}

/** Preamble + articles 1–22. */
export function trainParagraphs(doc: UdhrDocument): string[] {
  return splitParagraphs(doc, 'train').map((p) => p.text);
}

/** Articles 23–30. */
export function heldOutParagraphs(doc: UdhrDocument): string[] {
  return splitParagraphs(doc, 'heldout').map((p) => p.text);
}

export interface Prompt {
  /** `<language>-a<article>-p<paragraph>`, e.g. `fra-a23-p1`; article 0 is the preamble. */
  id: string;
  language: string;
  article: number;
  paragraph: number;
  prompt: string;
  reference: string;
}

export interface PromptOptions {
  /** Target prompt length in tokens (default 24). */
  prefixTokens?: number;
  /**
   * Tokenizer used to measure length; without it a token counts as 4 characters (code points), or
   * as 1 in languages without spaces.
   */
  encode?: (s: string) => number[];
  /** Cut at any character instead of at spaces; defaults to the language's `noSpaces` (zho, jpn). */
  noSpaces?: boolean;
}

/** The string between prompt and reference: `paragraph === prompt + promptJoiner(...) + reference`. */
export function promptJoiner(languageCode: string, noSpaces?: boolean): '' | ' ' {
  return (noSpaces ?? LANGUAGES.find((l) => l.code === languageCode)?.noSpaces ?? false) ? '' : ' ';
}

// Code points that must not start a piece: combining marks (and variation selectors), joiners.
const CONTINUES_CLUSTER = /^[\p{M}\u200c\u200d]/u;

/** Candidate cuts as [prompt end, reference start] UTF-16 offsets, both pieces non-empty. */
function cutPoints(text: string, noSpaces: boolean): Array<[number, number]> {
  const cuts: Array<[number, number]> = [];
  if (noSpaces) {
    let i = 0;
    let prev = '';
    for (const ch of text) {
      if (i > 0 && !CONTINUES_CLUSTER.test(ch) && prev !== '\u200c' && prev !== '\u200d') cuts.push([i, i]);
      i += ch.length;
      prev = ch;
    }
  } else {
    // Cut only at a single ASCII space between two non-spaces, so the joiner is exactly ' '.
    for (let i = 1; i < text.length - 1; i++) {
      if (text[i] === ' ' && text[i - 1] !== ' ' && text[i + 1] !== ' ') cuts.push([i, i + 1]);
    }
  }
  return cuts;
}

/**
 * Prompts for one split: every paragraph longer than `prefixTokens` is cut at the word (for zho and
 * jpn: character) boundary whose prefix length is closest to `prefixTokens` (ties: the shorter);
 * the remainder is the reference. `paragraph === prompt + promptJoiner(language) + reference`
 * holds exactly. Paragraphs too short to leave a reference, or with no boundary, are skipped.
 */
export function buildPrompts(doc: UdhrDocument, languageCode: string, split: Split, opts: PromptOptions = {}): Prompt[] {
  const prefixTokens = opts.prefixTokens ?? 24;
  if (!Number.isInteger(prefixTokens) || prefixTokens < 1) {
    throw new Error(`buildPrompts(${languageCode}): prefixTokens must be a positive integer, got ${prefixTokens}`);
  }
  const noSpaces = promptJoiner(languageCode, opts.noSpaces) === '';
  const encode = opts.encode;
  // Without a tokenizer: ~4 characters a token for spaced scripts, 1 for zho/jpn (whose characters
  // are a token or more each under byte-level BPE).
  const charsPerToken = noSpaces ? 1 : 4;
  const measure = encode ? (s: string): number => encode(s).length : (s: string): number => [...s].length / charsPerToken;

  const prompts: Prompt[] = [];
  for (const p of splitParagraphs(doc, split)) {
    if (measure(p.text) <= prefixTokens) continue;
    const cuts = cutPoints(p.text, noSpaces);
    if (cuts.length === 0) continue;
    const size = (k: number): number => measure(p.text.slice(0, cuts[k][0]));
    // Prefix length grows with the cut (monotone up to BPE noise): binary-search the last cut
    // not longer than the target, then take it or the next, whichever is closer.
    let lo = -1;
    let hi = cuts.length;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (size(mid) <= prefixTokens) lo = mid;
      else hi = mid;
    }
    let k: number;
    if (lo < 0) k = 0;
    else if (lo === cuts.length - 1) k = lo;
    else k = prefixTokens - size(lo) <= size(lo + 1) - prefixTokens ? lo : lo + 1;
    const [end, start] = cuts[k];
    prompts.push({
      id: `${languageCode}-a${p.article}-p${p.paragraph}`,
      language: languageCode,
      article: p.article,
      paragraph: p.paragraph,
      prompt: p.text.slice(0, end),
      reference: p.text.slice(start),
    });
  }
  return prompts;
}

/**
 * Loads and parses the declarations of `languages` (our codes; default all 23), keyed by our code.
 * Each must have the full 30 articles with text, since the split depends on them.
 */
export async function loadCorpus(
  source: UdhrSource,
  languages: readonly string[] = LANGUAGE_CODES,
): Promise<Map<string, UdhrDocument>> {
  const docs = await Promise.all(
    languages.map(async (code) => {
      const stem = language(code).udhr;
      let html: string;
      try {
        html = await source(stem);
      } catch (e) {
        throw new Error(`udhr ${code}: cannot read declaration/${stem}.html: ${(e as Error).message}`);
      }
      const doc = parseUdhrHtml(html, code);
      const empty = doc.articles.findIndex((a) => a.length === 0);
      if (doc.articles.length !== ARTICLE_COUNT || empty >= 0) {
        throw new Error(
          `udhr ${code} (declaration/${stem}.html): expected ${ARTICLE_COUNT} articles with text, ` +
            (empty >= 0 ? `article ${empty + 1} is empty` : `found ${doc.articles.length}`),
        );
      }
      return [code, doc] as const;
    }),
  );
  return new Map(docs);
}
