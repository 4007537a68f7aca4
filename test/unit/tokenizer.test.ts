import { beforeAll, describe, expect, it } from 'vitest';
import { buildPrompts, heldOutParagraphs, loadCorpus, type UdhrDocument } from '../../src/data/corpus.ts';
import { LANGUAGES, LANGUAGE_CODES } from '../../src/data/languages.ts';
import { listUdhrStems, nodeUdhrSource } from '../../src/data/source.node.ts';
import { parseUdhrHtml } from '../../src/data/udhr.ts';
import { BYTE_CHARS, BpeTokenizer, preTokenize } from '../../src/tokenizer/bpe.ts';
import { trainUniversalTokenizer } from '../../src/tokenizer/universal.ts';

let corpus: Map<string, UdhrDocument>;
let tok: BpeTokenizer;
let trainMs = 0;

beforeAll(async () => {
  corpus = await loadCorpus(nodeUdhrSource);
  const t0 = performance.now();
  tok = trainUniversalTokenizer(corpus, 4096);
  trainMs = performance.now() - t0;
});

const roundTrip = (t: BpeTokenizer, s: string): string => t.decode(t.encode(s));
const json = (t: BpeTokenizer): string => JSON.stringify(t.toTokenizerJson());
const reload = (t: BpeTokenizer): BpeTokenizer => BpeTokenizer.fromTokenizerJson(JSON.parse(json(t)));

describe('pre-tokenisation (GPT-2 regex)', () => {
  it('splits like GPT-2 and covers the text', () => {
    expect(preTokenize("Hello world's  end\n\n x 123abc!!")).toEqual(['Hello', ' world', "'s", ' ', ' end', '\n\n', ' x', ' 123', 'abc', '!!']);
    // Whitespace is Unicode White_Space, as in `tokenizers` (Oniguruma): U+0085 is a space, U+FEFF is not.
    expect(preTokenize('a\u0085b\ufeffc')).toEqual(['a', '\u0085', 'b', '\ufeff', 'c']);
    for (const s of ['  a  b  ', 'x\r\n\ty', 'مرحبا بالعالم', '人人生而自由,在尊严']) expect(preTokenize(s).join('')).toBe(s);
  });
});

describe('training', () => {
  it('learns the merges derived by hand on a tiny corpus', () => {
    // Pre-tokens: "aaab", "Ġaaab", "aab", "Ġab" (Ġ is the space byte), each once.
    //  pairs: (a,a)=5 (a,b)=4 (Ġ,a)=2               → merge a+a  = aa
    //  words: aa a b | Ġ aa a b | aa b | Ġ a b
    //  pairs: (a,b)=3 (aa,a)=2 (aa,b)=1 (Ġ,aa)=1 (Ġ,a)=1 → merge a+b = ab
    //  words: aa ab | Ġ aa ab | aa b | Ġ ab
    //  pairs: (aa,ab)=2, then (aa,b)=(Ġ,aaab)=(Ġ,ab)=1 → merge aa+ab = aaab
    //  tie at 1: "aa" < "Ġ" (U+0061 < U+0120)          → merge aa+b = aab
    const t = BpeTokenizer.train(['aaab aaab', 'aab ab'], { vocabSize: 3 + 1 + 256 + 4, languages: ['xx'] });
    const j = t.toTokenizerJson() as { model: { merges: string[][]; vocab: Record<string, number> } };
    expect(j.model.merges).toEqual([
      ['a', 'a'],
      ['a', 'b'],
      ['aa', 'ab'],
      ['aa', 'b'],
    ]);
    // Ids: <pad> <bos> <eos> <lang:xx> = 0..3, byte b = 4 + b ('a' = 101, 'b' = 102, 'Ġ' = 36), merges 260…
    expect(t.vocabSize).toBe(264);
    expect([j.model.vocab.aa, j.model.vocab.ab, j.model.vocab.aaab, j.model.vocab.aab]).toEqual([260, 261, 262, 263]);
    // These encodings were also checked against Hugging Face `tokenizers` (npm 0.23.2) on this tokenizer.json.
    expect(t.encode('aaab aaab')).toEqual([262, 36, 262]);
    expect(t.encode('aaaa')).toEqual([260, 260]);
    expect(t.encode('ab ab aab')).toEqual([261, 36, 261, 36, 263]);
    expect(t.encode('baaa')).toEqual([102, 260, 101]);
  });

  it('lays out the ids: specials, language tags in the order given, 256 bytes, merges', () => {
    expect([tok.pad, tok.bos, tok.eos]).toEqual([0, 1, 2]);
    expect(tok.languages).toEqual(LANGUAGE_CODES);
    LANGUAGE_CODES.forEach((code, i) => {
      expect(tok.langId(code)).toBe(3 + i);
      expect(tok.idToToken(3 + i)).toBe(`<lang:${code}>`);
      expect(tok.isSpecial(3 + i)).toBe(true);
    });
    const base = 3 + LANGUAGE_CODES.length;
    for (let b = 0; b < 256; b++) expect(tok.idToToken(base + b)).toBe(BYTE_CHARS[b]);
    expect(tok.idToToken(base + 32)).toBe('Ġ');
    expect(tok.isSpecial(base)).toBe(false);
    expect(tok.vocabSize).toBe(4096);
    expect(tok.mergeCount).toBe(4096 - base - 256);
    expect(() => tok.langId('xyz')).toThrow(/no language tag for 'xyz'/);
    expect(() => tok.idToToken(4096)).toThrow(/outside the vocabulary/);
  });

  it('trains the 4096 vocabulary quickly and deterministically', () => {
    expect(trainMs).toBeLessThan(20_000);
    const again = trainUniversalTokenizer(corpus, 4096);
    expect(json(again)).toBe(json(tok));
    // The map's order does not matter.
    expect(json(trainUniversalTokenizer(new Map([...corpus].reverse()), 4096))).toBe(json(tok));
  });

  it('stops early when no pairs are left and validates its options', () => {
    const t = BpeTokenizer.train(['ab'], { vocabSize: 1000, languages: [] });
    expect(t.vocabSize).toBe(3 + 256 + 1);
    expect(t.decode(t.encode('ab ab'))).toBe('ab ab');
    expect(() => BpeTokenizer.train(['x'], { vocabSize: 100, languages: [] })).toThrow(/vocabSize/);
    expect(() => BpeTokenizer.train(['x'], { vocabSize: 300, languages: ['fra', 'fra'] })).toThrow(/'fra' is listed twice/);
    expect(() => BpeTokenizer.train(['x'], { vocabSize: 300, languages: ['a>b'] })).toThrow(/invalid language code/);
  });
});

describe('encoding and decoding', () => {
  it('round-trips the full text of every declaration in the udhr package', async () => {
    const stems = await listUdhrStems();
    expect(stems.length).toBeGreaterThan(500);
    let chars = 0;
    for (const stem of stems) {
      const d = parseUdhrHtml(await nodeUdhrSource(stem), stem);
      const text = [d.title, ...d.preamble, ...d.articles.flat()].join('\n');
      chars += text.length;
      const ids = tok.encode(text);
      expect(tok.decode(ids) === text, stem).toBe(true);
    }
    expect(chars).toBeGreaterThan(4_000_000);
    // The raw files too, markup and all, for the 23 languages.
    for (const l of LANGUAGES) {
      const html = await nodeUdhrSource(l.udhr);
      expect(roundTrip(tok, html) === html, l.udhr).toBe(true);
    }
  });

  it('round-trips edge cases exactly', () => {
    const cases = [
      '',
      ' ',
      '\n',
      'a',
      '👩‍👩‍👧‍👦 family, 🏳️‍🌈 flag, 🇫🇷 France, 👍🏽',
      '𝕳𝖊𝖑𝖑𝖔 𠀀𠀁 𓀀 \u{10FFFF}',
      'e\u0301 a\u0300\u0316 n\u0303 क्षि ضَمَّة',
      'line1\r\nline2\rline3\n',
      'col1\tcol2\t\tcol3\t',
      '   leading and trailing   ',
      '\ufeffbyte order mark at the start',
      '\u0000\u0001\u007f\u0085\u00a0\u2028\u2029\u3000',
      '<pad><bos><eos><lang:fra><lang:xyz>',
      "it's 'S 'll 'd don't",
      'a'.repeat(20_000),
      'ab'.repeat(10_000) + ' ' + '人'.repeat(5_000),
    ];
    for (const s of cases) expect(roundTrip(tok, s)).toBe(s);
    expect(tok.encode('')).toEqual([]);
    expect(tok.decode([])).toBe('');
  });

  it('encodes special-token strings as ordinary text', () => {
    const ids = tok.encode('<bos><lang:fra>');
    expect(ids.length).toBeGreaterThan(2);
    expect(ids.some((id) => tok.isSpecial(id))).toBe(false);
    expect(tok.decode(ids)).toBe('<bos><lang:fra>');
  });

  it('builds prompts as <bos><lang:xx> + text, and decodes specials unless skipped', () => {
    const text = 'Toute personne a droit au travail';
    const ids = tok.encodePrompt(text, 'fra');
    expect(ids).toEqual([tok.bos, tok.langId('fra'), ...tok.encode(text)]);
    expect(ids.slice(0, 2)).toEqual([1, 3 + LANGUAGE_CODES.indexOf('fra')]);
    expect(tok.decode(ids)).toBe(`<bos><lang:fra>${text}`);
    expect(tok.decode([...ids, tok.eos, tok.pad], { skipSpecial: true })).toBe(text);
    expect(() => tok.encodePrompt(text, 'klingon')).toThrow(/klingon/);
  });

  it('decodes a cut multi-byte character to U+FFFD and rejects unknown ids', () => {
    const ids = tok.encode('€'); // 3 bytes
    const bytes = [...new TextEncoder().encode('€')].map((b) => tok.tokenToId(BYTE_CHARS[b]) as number);
    expect(tok.decode(bytes)).toBe('€');
    expect(tok.decode(bytes.slice(0, 2))).toBe('\ufffd');
    expect(tok.decode(ids)).toBe('€');
    expect(() => tok.decode([-1])).toThrow(/outside the vocabulary/);
    expect(() => tok.decode([1.5])).toThrow(/outside the vocabulary/);
  });

  it('measures fertility: finite and positive, higher for scripts far from Latin', () => {
    const perChar = new Map<string, number>();
    for (const l of LANGUAGES) {
      const text = heldOutParagraphs(corpus.get(l.code) as UdhrDocument).join('\n');
      const f = tok.fertility(text, l.noSpaces);
      expect(f.tokens).toBe(tok.encode(text).length);
      expect(f.chars).toBe([...text].length);
      for (const v of [f.tokensPerChar, f.tokensPerWord]) {
        expect(Number.isFinite(v), l.code).toBe(true);
        expect(v, l.code).toBeGreaterThan(0);
      }
      perChar.set(l.code, f.tokensPerChar);
    }
    expect(perChar.get('eng')).toBeLessThan(0.5);
    expect(perChar.get('zho')).toBeGreaterThan(perChar.get('eng') as number);
    expect(tok.fertility('a b  c')).toMatchObject({ chars: 6, words: 3 });
    expect(tok.fertility('人人 生而', true)).toMatchObject({ chars: 5, words: 4 });
    expect(tok.fertility('')).toEqual({ tokens: 0, chars: 0, words: 0, tokensPerChar: 0, tokensPerWord: 0 });
  });

  it('cuts ≈24-token prompts with the real tokenizer', () => {
    for (const l of LANGUAGES) {
      const prompts = buildPrompts(corpus.get(l.code) as UdhrDocument, l.code, 'heldout', { encode: (s) => tok.encode(s) });
      expect(prompts.length, l.code).toBeGreaterThan(8);
      const lengths = prompts.map((p) => tok.encode(p.prompt).length).sort((a, b) => a - b);
      const median = lengths[lengths.length >> 1];
      expect(Math.abs(median - 24), l.code).toBeLessThanOrEqual(4);
    }
  });
});

describe('Hugging Face tokenizer.json', () => {
  it('exports the tokenizers format and imports it back with identical encodings', () => {
    const j = tok.toTokenizerJson() as Record<string, any>;
    expect(j.version).toBe('1.0');
    expect(j.normalizer).toBeNull();
    expect(j.pre_tokenizer).toEqual({ type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true });
    expect(j.decoder).toEqual({ type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true });
    expect(j.added_tokens).toHaveLength(3 + 23);
    expect(j.added_tokens[0]).toEqual({ id: 0, content: '<pad>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
    expect(j.model.type).toBe('BPE');
    expect(Object.keys(j.model.vocab)).toHaveLength(4096);
    expect(j.model.merges[0]).toHaveLength(2);

    const back = reload(tok);
    expect(json(back)).toBe(json(tok));
    expect(back.languages).toEqual(tok.languages);
    for (const l of LANGUAGES) {
      const text = heldOutParagraphs(corpus.get(l.code) as UdhrDocument).join('\n');
      expect(back.encode(text)).toEqual(tok.encode(text));
    }
  });

  it('accepts the older "left right" merge strings', () => {
    const j = JSON.parse(json(tok));
    j.model.merges = j.model.merges.map((m: string[]) => m.join(' '));
    const old = BpeTokenizer.fromTokenizerJson(j);
    const text = heldOutParagraphs(corpus.get('hin') as UdhrDocument).join('\n');
    expect(old.encode(text)).toEqual(tok.encode(text));
  });

  it('writes tokenizer_config.json', () => {
    const c = tok.tokenizerConfigJson({ modelMaxLength: 512 }) as Record<string, any>;
    expect(c).toMatchObject({ tokenizer_class: 'PreTrainedTokenizerFast', bos_token: '<bos>', eos_token: '<eos>', pad_token: '<pad>', model_max_length: 512 });
    expect(c.additional_special_tokens).toEqual(LANGUAGE_CODES.map((x) => `<lang:${x}>`));
    expect(c.added_tokens_decoder['1']).toMatchObject({ content: '<bos>', special: true });
  });

  it('rejects malformed files with an error naming the file and the problem', () => {
    const good = (): Record<string, any> => JSON.parse(json(BpeTokenizer.train(['aaab aaab', 'aab ab'], { vocabSize: 264, languages: ['xx'] })));
    const cases: Array<[string, (j: Record<string, any>) => unknown, RegExp]> = [
      ['not an object', () => [], /expected a JSON object/],
      ['no model', (j) => void delete j.model, /missing the "model"/],
      ['WordPiece', (j) => void (j.model.type = 'WordPiece'), /model.type must be "BPE"/],
      ['vocab not an object', (j) => void (j.model.vocab = [1, 2]), /model.vocab must be an object/],
      ['bad id', (j) => void (j.model.vocab.aa = 'x'), /model.vocab\["aa"\] = "x"/],
      ['duplicate id', (j) => void (j.model.vocab.zz = 260), /gives id 260 to both "aa" and "zz"/],
      ['id gap', (j) => void (delete j.model.vocab.ab, (j.model.merges = [['a', 'a']])), /without gaps/],
      ['missing byte', (j) => void (delete j.model.vocab['ÿ'], (j.model.vocab['ÿÿ'] = 259)), /lacks the byte token "ÿ"/],
      ['non-byte token', (j) => void (j.model.vocab['€'] = 264), /outside the byte-level alphabet/],
      ['merge of unknown token', (j) => void j.model.merges.push(['q', 'zz']), /merges\[4\] refers to "zz"/],
      ['merge result unknown', (j) => void j.model.merges.push(['b', 'b']), /merged token "bb" is not in the vocabulary/],
      ['merge not a pair', (j) => void j.model.merges.push(['a', 'b', 'c']), /merges\[4\] .* is not a pair/],
      ['merge string with 3 parts', (j) => void j.model.merges.push('a b c'), /is not a pair/],
      ['merge wrong type', (j) => void j.model.merges.push(7), /merges\[4\] must be/],
      ['duplicate merge', (j) => void j.model.merges.push(['a', 'a']), /merge 4 .* repeats merge 0/],
      ['merges missing', (j) => void delete j.model.merges, /model.merges must be an array/],
      ['no <bos>', (j) => void (j.added_tokens[1].content = '<start>', delete j.model.vocab['<bos>'], (j.model.vocab['<start>'] = 1)), /missing the special token <bos>/],
      ['non-special added token', (j) => void (j.added_tokens[0].special = false), /not special/],
      ['added token disagrees with vocab', (j) => void (j.added_tokens[0].content = '<nothing>'), /id 0 is "<nothing>", model.vocab says "<pad>"/],
      ['added_tokens not array', (j) => void (j.added_tokens = {}), /added_tokens must be an array/],
      ['normalizer', (j) => void (j.normalizer = { type: 'NFC' }), /normalizer is not supported/],
      ['pre-tokenizer', (j) => void (j.pre_tokenizer = { type: 'Whitespace' }), /pre_tokenizer must be/],
      ['prefix space', (j) => void (j.pre_tokenizer.add_prefix_space = true), /add_prefix_space/],
      ['byte fallback', (j) => void (j.model.byte_fallback = true), /model.byte_fallback/],
      ['dropout', (j) => void (j.model.dropout = 0.1), /model.dropout/],
      ['decoder', (j) => void (j.decoder = { type: 'WordPiece' }), /decoder must be ByteLevel/],
    ];
    for (const [name, mutate, message] of cases) {
      const j = good();
      const input = mutate(j) ?? j;
      expect(() => BpeTokenizer.fromTokenizerJson(input, 'models/m1/tokenizer.json'), name).toThrow(
        new RegExp(`^models/m1/tokenizer\\.json: .*${message.source}`),
      );
    }
    expect(() => BpeTokenizer.fromTokenizerJson(null)).toThrow(/^tokenizer\.json: expected a JSON object/);
    // The unmodified file loads.
    expect(BpeTokenizer.fromTokenizerJson(good()).languages).toEqual(['xx']);
  });
});
