// One fixed colour per language, so a language looks the same in every chart and every run: mostly
// Kelly's colours of maximum contrast, darkened where they are too pale on white.
const COLORS: Record<string, string> = {
  eng: '#0067a5', fra: '#be0032', spa: '#f38400', // the three every family shares: strong and distinct
  ita: '#2b3d26', por: '#5a9f46', ron: '#a89b5e',
  deu: '#222222', nld: '#4f8fc7', ell: '#17a2b8',
  rus: '#882d17', ukr: '#9467bd', pol: '#848482', ces: '#008856',
  arb: '#875692', heb: '#604e97', pes: '#e68fac', hin: '#c9a600', tur: '#d62728',
  zho: '#e25822', jpn: '#b3446c', kor: '#654522', vie: '#f99379', ind: '#8db600',
};

export function languageColor(code: string): string {
  return COLORS[code] ?? '#6b7078';
}

