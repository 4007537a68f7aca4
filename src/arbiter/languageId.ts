// Language identification with npm `franc` (trigram profiles built from the UDHR), restricted to the
// playground's 23 languages. franc names Chinese `cmn`; we use `zho`.
import { francAll } from 'franc';
import { LANGUAGE_CODES } from '../data/languages.ts';

const TO_FRANC: Record<string, string> = { zho: 'cmn' };
const FROM_FRANC: Record<string, string> = { cmn: 'zho' };
const ONLY = LANGUAGE_CODES.map((c) => TO_FRANC[c] ?? c);

export interface LanguageGuess {
  /** Best guess among the 23, or 'und' when the text is too short or has no letters. */
  language: string;
  /** franc's scores (1 = best guess; others relative to it) for the candidates of the text's script. */
  scores: Array<[string, number]>;
}

/** Texts shorter than this (code points, after trimming) are not identified. */
export const MIN_LANGUAGE_ID_CHARS = 3;

export function identifyLanguage(text: string): LanguageGuess {
  const t = text.trim();
  if (Array.from(t).length < MIN_LANGUAGE_ID_CHARS) return { language: 'und', scores: [] };
  const all = francAll(t, { only: ONLY, minLength: MIN_LANGUAGE_ID_CHARS });
  const scores = all.filter(([c]) => c !== 'und').map(([c, s]): [string, number] => [FROM_FRANC[c] ?? c, s]);
  return { language: scores[0]?.[0] ?? 'und', scores };
}

/**
 * How much `text` looks like `language`, in [0, 1]: franc's relative score of that language (1 when
 * it is the best guess, lower for a close relative that lost, 0 for another script or no letters).
 */
export function languageScore(text: string, language: string): number {
  const g = identifyLanguage(text);
  return g.scores.find(([c]) => c === language)?.[1] ?? 0;
}
