// The playground's "universal" tokenizer: byte-level BPE trained on the training split (preamble and
// articles 1–22) of every declaration in the corpus, with language tags for all 23 languages.

import { trainParagraphs, type UdhrDocument } from '../data/corpus.ts';
import { LANGUAGE_CODES } from '../data/languages.ts';
import { BpeTokenizer } from './bpe.ts';

export const UNIVERSAL_VOCAB_SIZE = 4096;

/**
 * Trains on the training split of every document in `corpus` (the 23 languages in LANGUAGES order
 * first, any other keys after them, sorted), so the result does not depend on the map's order.
 */
export function trainUniversalTokenizer(corpus: Map<string, UdhrDocument>, vocabSize = UNIVERSAL_VOCAB_SIZE): BpeTokenizer {
  const known = LANGUAGE_CODES.filter((c) => corpus.has(c));
  const others = [...corpus.keys()].filter((c) => !LANGUAGE_CODES.includes(c)).sort();
  const texts = [...known, ...others].flatMap((c) => trainParagraphs(corpus.get(c) as UdhrDocument));
  if (texts.length === 0) throw new Error('trainUniversalTokenizer: the corpus has no training text');
  return BpeTokenizer.train(texts, { vocabSize, languages: LANGUAGE_CODES });
}
