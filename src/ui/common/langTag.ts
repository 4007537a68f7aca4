// BCP 47 tags for the `lang` attribute: the browser picks fonts (Han unification: zh-Hans vs ja),
// hyphenation and line breaking from it, and knows two-letter tags best.
const TAGS: Record<string, string> = {
  arb: 'ar', zho: 'zh-Hans', ces: 'cs', nld: 'nl', eng: 'en', fra: 'fr', deu: 'de', ell: 'el',
  heb: 'he', hin: 'hi', ind: 'id', ita: 'it', jpn: 'ja', kor: 'ko', pes: 'fa', pol: 'pl',
  por: 'pt', ron: 'ro', rus: 'ru', spa: 'es', tur: 'tr', ukr: 'uk', vie: 'vi',
};

export function htmlLang(code: string): string {
  return TAGS[code] ?? code;
}
