import { beforeAll, describe, expect, it } from 'vitest';
import {
  buildPrompts,
  heldOutParagraphs,
  loadCorpus,
  promptJoiner,
  splitParagraphs,
  trainParagraphs,
  type UdhrDocument,
} from '../../src/data/corpus.ts';
import { LANGUAGES, LANGUAGE_CODES } from '../../src/data/languages.ts';
import { browserUdhrSource, bundledUdhrStems } from '../../src/data/source.browser.ts';
import { listUdhrStems, nodeUdhrSource } from '../../src/data/source.node.ts';
import { decodeEntities, parseUdhrHtml } from '../../src/data/udhr.ts';

let corpus: Map<string, UdhrDocument>;

beforeAll(async () => {
  corpus = await loadCorpus(nodeUdhrSource);
});

const doc = (code: string): UdhrDocument => corpus.get(code) as UdhrDocument;
const allParagraphs = (d: UdhrDocument): string[] => [...d.preamble, ...d.articles.flat()];

describe('UDHR parsing', () => {
  it('parses all 23 languages into a preamble and 30 articles of clean, non-empty text', () => {
    expect([...corpus.keys()]).toEqual(LANGUAGE_CODES);
    for (const l of LANGUAGES) {
      const d = doc(l.code);
      expect(d.code).toBe(l.code);
      expect(d.title.length, l.code).toBeGreaterThan(0);
      expect(d.preamble.length, l.code).toBeGreaterThanOrEqual(5);
      expect(d.articles, l.code).toHaveLength(30);
      for (const [i, a] of d.articles.entries()) expect(a.length, `${l.code} article ${i + 1}`).toBeGreaterThan(0);
      for (const p of allParagraphs(d)) {
        expect(p.length).toBeGreaterThan(0);
        // Whitespace-normalised, no markup or undecoded references left.
        expect(p).toBe(p.trim());
        expect(p).not.toMatch(/[\t\n\r]| {2}|<\/?[a-z]|&#?[a-z0-9]+;/i);
      }
    }
  });

  it('keeps the structure of a declaration: English paragraphs, lists, text', () => {
    const eng = doc('eng');
    expect(eng.title).toBe('Universal Declaration of Human Rights');
    expect(eng.preamble).toHaveLength(10);
    expect(eng.preamble[0]).toMatch(/^Whereas recognition of the inherent dignity/);
    expect(eng.articles[0]).toEqual([
      'All human beings are born free and equal in dignity and rights. They are endowed with reason and conscience and should act towards one another in a spirit of brotherhood.',
    ]);
    // Article 29 is an <ol> of three <li><p> items.
    expect(eng.articles[28]).toHaveLength(3);
    expect(eng.articles[28][2]).toBe('These rights and freedoms may in no case be exercised contrary to the purposes and principles of the United Nations.');
    expect(eng.articles.map((a) => a.length)).toEqual([1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 2, 2, 2, 3, 2, 1, 1, 2, 3, 1, 4, 1, 2, 3, 2, 1, 3, 1]);
  });

  it('parses the right-to-left languages', () => {
    const scripts: Record<string, RegExp> = { arb: /\p{Script=Arabic}/u, pes: /\p{Script=Arabic}/u, heb: /\p{Script=Hebrew}/u };
    for (const [code, script] of Object.entries(scripts)) {
      expect(LANGUAGES.find((l) => l.code === code)?.direction).toBe('rtl');
      const d = doc(code);
      expect(d.articles).toHaveLength(30);
      expect(d.title).toMatch(script);
      for (const p of allParagraphs(d)) expect(p, code).toMatch(script);
    }
    expect(doc('arb').title).toBe('الإعلان العالمي لحقوق الإنسان');
  });

  it('decodes character references', () => {
    expect(decodeEntities('a &amp; b &#x27;c&#x27; &quot;d&quot; &#39;e&#39; &lt;f&gt; &#x1F600; &nbsp;|&unknown; &#xD800;')).toBe(
      'a & b \'c\' "d" \'e\' <f> 😀 \u00a0|&unknown; \ufffd',
    );
    const html = `<html><head><title>T</title></head><body><h1>Caf&#xE9; &amp; Co</h1>
      <header><h2>P</h2><p>Tom &amp; Jerry&#x27;s   &quot;law&quot;
      &#x3C;x&#x3E;</p></header>
      <article data-number="1"><h2>A</h2><p>one &#38; two</p></article></body></html>`;
    const d = parseUdhrHtml(html, 'test');
    expect(d.title).toBe('Café & Co');
    expect(d.preamble).toEqual(['Tom & Jerry\'s "law" <x>']);
    expect(d.articles).toEqual([['one & two']]);
    // The package itself encodes '<' and '&' this way (hms's title is «<<…>>»).
    return nodeUdhrSource('hms').then((h) => expect(parseUdhrHtml(h, 'hms').title.startsWith('<<')).toBe(true));
  });

  it('is lenient: unclosed <p>, <li> without <p>, gaps in article numbers, headings in <h1>', () => {
    const html = `<body><header><p>first<p>second</header>
      <article data-number="2"><h1>Art 2</h1><ol><li>item one<li><p>item two</p></li></ol>loose</article>
      <article data-number="4"><p>four</p></article></body>`;
    const d = parseUdhrHtml(html, 'odd');
    expect(d.title).toBe('');
    expect(d.preamble).toEqual(['first', 'second']);
    expect(d.articles).toEqual([[], ['item one', 'item two', 'loose'], [], ['four']]);
    // Non-breaking and ideographic spaces are text, not HTML whitespace.
    expect(parseUdhrHtml('<article><p> a\u00a0b\u3000c\n d </p></article>', 'ws').articles).toEqual([['a\u00a0b\u3000c d']]);
  });

  it('throws, naming the code, only on empty or non-UDHR input', () => {
    expect(() => parseUdhrHtml('', 'xyz')).toThrow(/udhr xyz: empty/);
    expect(() => parseUdhrHtml('  \n', 'xyz')).toThrow(/xyz/);
    expect(() => parseUdhrHtml('<html><body><p>hello</p></body></html>', 'abc')).toThrow(/udhr abc: no <header> or <article>/);
  });

  it('parses every declaration in the package without throwing', async () => {
    const stems = await listUdhrStems();
    expect(stems.length).toBeGreaterThan(500);
    let complete = 0;
    for (const stem of stems) {
      const d = parseUdhrHtml(await nodeUdhrSource(stem), stem);
      expect(d.articles.length, stem).toBeGreaterThan(0);
      expect(d.articles.flat().length, stem).toBeGreaterThan(0);
      if (d.articles.length === 30 && d.articles.every((a) => a.length > 0)) complete++;
    }
    // A few files are partial (e.g. taj has one article, 052 skips 5–11); the rest are complete.
    expect(complete).toBeGreaterThan(stems.length - 20);
    const gappy = parseUdhrHtml(await nodeUdhrSource('052'), '052');
    expect(gappy.articles).toHaveLength(30);
    expect(gappy.articles.slice(4, 11).every((a) => a.length === 0)).toBe(true);
    expect(gappy.articles[11].length).toBeGreaterThan(0);
  });
});

describe('corpus sources', () => {
  it('bundles exactly the 23 languages for the browser, with the same text as Node reads', async () => {
    expect(bundledUdhrStems).toEqual(LANGUAGES.map((l) => l.udhr).sort());
    for (const l of LANGUAGES) expect(await browserUdhrSource(l.udhr)).toBe(await nodeUdhrSource(l.udhr));
    await expect(browserUdhrSource('fin')).rejects.toThrow(/'fin' is not bundled/);
  });

  it('loadCorpus keys by our code and names the language in errors', async () => {
    const two = await loadCorpus(browserUdhrSource, ['zho', 'deu']);
    expect([...two.keys()]).toEqual(['zho', 'deu']);
    expect(two.get('zho')?.title).toBe('世界人权宣言');
    await expect(loadCorpus(async () => Promise.reject(new Error('boom')), ['fra'])).rejects.toThrow(/udhr fra: cannot read declaration\/fra.html: boom/);
    await expect(loadCorpus(async () => '<article data-number="1"><p>x</p></article>', ['ita'])).rejects.toThrow(/udhr ita .*expected 30 articles/);
    await expect(loadCorpus(nodeUdhrSource, ['xxx'])).rejects.toThrow(/unknown language 'xxx'/);
    await expect(nodeUdhrSource('../package')).rejects.toThrow(/invalid udhr declaration name/);
  });
});

describe('split and prompts', () => {
  it('splits preamble + articles 1–22 for training and 23–30 held out', () => {
    const eng = doc('eng');
    expect(trainParagraphs(eng)).toHaveLength(10 + 33);
    expect(heldOutParagraphs(eng)).toHaveLength(17);
    for (const l of LANGUAGES) {
      const d = doc(l.code);
      const train = trainParagraphs(d);
      const held = heldOutParagraphs(d);
      expect(train.length).toBe(d.preamble.length + d.articles.slice(0, 22).flat().length);
      expect(held.length).toBe(d.articles.slice(22).flat().length);
      expect([...train, ...held]).toEqual(allParagraphs(d));
    }
    const held = splitParagraphs(eng, 'heldout');
    expect(held[0]).toMatchObject({ article: 23, paragraph: 1 });
    expect(held.at(-1)).toMatchObject({ article: 30, paragraph: 1 });
    expect(splitParagraphs(eng, 'train')[0]).toMatchObject({ article: 0, paragraph: 1 });
  });

  it('cuts prompts that are prefixes: paragraph === prompt + joiner + reference, exactly', () => {
    // One token per code point: a tokenizer-free stand-in that works for every script.
    const encode = (s: string): number[] => [...s].map((c) => c.codePointAt(0) as number);
    for (const l of LANGUAGES) {
      const d = doc(l.code);
      const joiner = promptJoiner(l.code);
      expect(joiner).toBe(l.noSpaces ? '' : ' ');
      for (const split of ['train', 'heldout'] as const) {
        const byId = new Map(splitParagraphs(d, split).map((p) => [`${l.code}-a${p.article}-p${p.paragraph}`, p.text]));
        for (const opts of [{}, { encode, prefixTokens: 40 }]) {
          const prompts = buildPrompts(d, l.code, split, opts);
          expect(prompts.length, `${l.code} ${split}`).toBeGreaterThan(split === 'train' ? 10 : 4);
          expect(new Set(prompts.map((p) => p.id)).size).toBe(prompts.length);
          for (const p of prompts) {
            expect(p.language).toBe(l.code);
            expect(p.id).toBe(`${l.code}-a${p.article}-p${p.paragraph}`);
            expect(p.prompt + joiner + p.reference).toBe(byId.get(p.id));
            expect(p.prompt.length).toBeGreaterThan(0);
            expect(p.reference.length).toBeGreaterThan(0);
            if (!l.noSpaces) {
              expect(p.prompt).not.toMatch(/ $/);
              expect(p.reference).not.toMatch(/^ /);
            }
            if (split === 'heldout') expect(p.article).toBeGreaterThanOrEqual(23);
            else expect(p.article).toBeLessThanOrEqual(22);
          }
          if ('encode' in opts) {
            // The cut is the boundary closest to the target, so CJK prompts hit it exactly.
            for (const p of prompts) {
              const n = encode(p.prompt).length;
              if (l.noSpaces) expect(n).toBe(40);
              else expect(Math.abs(n - 40)).toBeLessThan(25);
            }
          }
        }
      }
    }
  });

  it('builds the expected English and Chinese prompts, deterministically', () => {
    const eng = buildPrompts(doc('eng'), 'eng', 'heldout');
    expect(eng[0]).toEqual({
      id: 'eng-a23-p1',
      language: 'eng',
      article: 23,
      paragraph: 1,
      // ≈ 24 × 4 = 96 characters, cut at a space.
      prompt: 'Everyone has the right to work, to free choice of employment, to just and favourable conditions',
      reference: 'of work and to protection against unemployment.',
    });
    expect(buildPrompts(doc('eng'), 'eng', 'heldout')).toEqual(eng);
    const zho = buildPrompts(doc('zho'), 'zho', 'heldout', { prefixTokens: 8 });
    expect(zho[0].prompt).toBe('人人有权工作、自');
    expect(zho[0].prompt + zho[0].reference).toBe(doc('zho').articles[22][0]);
  });

  it('skips paragraphs too short to leave a reference, and never splits a combining sequence', () => {
    const d: UdhrDocument = {
      code: 't',
      title: '',
      preamble: [],
      articles: [...Array.from({ length: 22 }, () => []), ['short one', 'Oneverylongwordwithoutanyspaces', 'a b c d e f g h']],
    };
    const encode = (s: string): number[] => s.split(' ').map(() => 0);
    const prompts = buildPrompts(d, 'eng', 'heldout', { encode, prefixTokens: 3 });
    expect(prompts.map((p) => [p.id, p.prompt, p.reference])).toEqual([['eng-a23-p3', 'a b c', 'd e f g h']]);
    // zho-style character cuts: e + U+0301 and a ZWJ emoji sequence stay whole.
    const cjk: UdhrDocument = { ...d, articles: [...d.articles.slice(0, 22), ['ab\u0301\u0301cd👩\u200d👩\u200d👧ef']] };
    const cps = (s: string): number[] => [...s].map(() => 0);
    for (let k = 1; k <= 12; k++) {
      for (const p of buildPrompts(cjk, 'zho', 'heldout', { encode: cps, prefixTokens: k })) {
        expect(p.reference).not.toMatch(/^[\u0301\u200d]/);
        expect(p.prompt).not.toMatch(/\u200d$/);
        expect(p.prompt + p.reference).toBe(cjk.articles[22][0]);
      }
    }
    expect(() => buildPrompts(d, 'eng', 'heldout', { prefixTokens: 0 })).toThrow(/prefixTokens/);
  });
});
