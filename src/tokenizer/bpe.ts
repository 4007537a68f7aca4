// Byte-level BPE compatible with Hugging Face `tokenizers` (GPT-2 style): the 256 bytes are the base
// alphabet, written as printable characters through GPT-2's bytes_to_unicode table, text is split by
// GPT-2's pre-tokenisation regex, and there is no normaliser, so every string round-trips exactly.
// Special tokens: <pad>=0, <bos>=1, <eos>=2, then one <lang:xxx> per language, then the 256 bytes,
// then the merges. They exist only as ids: special-looking text is encoded as ordinary bytes.

// ---------------------------------------------------------------------------------------------
// Byte ↔ printable-character table (GPT-2's bytes_to_unicode).

function bytesToUnicode(): string[] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const table: string[] = new Array(256);
  for (const b of printable) table[b] = String.fromCharCode(b);
  let n = 0;
  for (let b = 0; b < 256; b++) if (table[b] === undefined) table[b] = String.fromCharCode(256 + n++);
  return table;
}

/** BYTE_CHARS[b] is the one-character token string of byte b. */
export const BYTE_CHARS: readonly string[] = bytesToUnicode();
const CHAR_TO_BYTE = new Map(BYTE_CHARS.map((c, b) => [c, b]));

// ---------------------------------------------------------------------------------------------
// Pre-tokenisation: GPT-2's pattern. `\s` is spelled \p{White_Space} because JavaScript's \s also
// matches U+FEFF and misses U+0085, while Oniguruma (what `tokenizers` uses) follows White_Space.

export const GPT2_SPLIT_PATTERN =
  "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
const PRE_TOKEN = new RegExp(
  GPT2_SPLIT_PATTERN.replaceAll('\\S', '\\P{White_Space}').replaceAll('\\s', '\\p{White_Space}'),
  'gu',
);

/** Splits text into pre-tokens; their concatenation is the text. */
export function preTokenize(text: string): string[] {
  return text.match(PRE_TOKEN) ?? [];
}

// ---------------------------------------------------------------------------------------------

export const PAD = '<pad>';
export const BOS = '<bos>';
export const EOS = '<eos>';
export const langTag = (code: string): string => `<lang:${code}>`;
const LANG_TAG = /^<lang:([^<>\s]+)>$/;

// Pair keys pack two ids into one number (ids stay below 2^21, keys below 2^42).
const ID_LIMIT = 1 << 21;
const pairKey = (a: number, b: number): number => a * ID_LIMIT + b;

const utf8Encoder = new TextEncoder();
// ignoreBOM keeps a leading U+FEFF (the default would strip it); invalid UTF-8 becomes U+FFFD.
const utf8Decoder = new TextDecoder('utf-8', { ignoreBOM: true });

const WORD_CACHE_LIMIT = 200_000;
const CACHEABLE_WORD_LENGTH = 256;

export interface Fertility {
  tokens: number;
  /** Unicode code points. */
  chars: number;
  /** Whitespace-separated words; for languages without spaces, non-whitespace characters. */
  words: number;
  tokensPerChar: number;
  tokensPerWord: number;
}

export interface TrainOptions {
  /** Total vocabulary: special tokens + 256 bytes + merges. Training stops early if pairs run out. */
  vocabSize: number;
  /** Language codes; each gets a `<lang:xxx>` special token, in this order. */
  languages: readonly string[];
}

interface Parts {
  /** id → token string (byte-level characters; specials: their content). */
  tokens: string[];
  special: boolean[];
  /** merges[rank] = [left id, right id, merged id]. */
  merges: Array<[number, number, number]>;
  languages: string[];
}

export class BpeTokenizer {
  readonly vocabSize: number;
  readonly pad: number;
  readonly bos: number;
  readonly eos: number;
  readonly languages: readonly string[];

  private readonly tokens: string[];
  private readonly special: boolean[];
  private readonly merges: Array<[number, number, number]>;
  private readonly tokenIds: Map<string, number>;
  private readonly tokenBytes: Array<Uint8Array | null>;
  private readonly byteIds = new Int32Array(256);
  /** pair key → rank */
  private readonly mergeRanks = new Map<number, number>();
  private readonly langIds = new Map<string, number>();
  private readonly cache = new Map<string, number[]>();

  private constructor(parts: Parts, file: string) {
    this.tokens = parts.tokens;
    this.special = parts.special;
    this.merges = parts.merges;
    this.languages = Object.freeze([...parts.languages]);
    this.vocabSize = parts.tokens.length;
    if (this.vocabSize >= ID_LIMIT) throw new Error(`${file}: ${this.vocabSize} tokens exceed the supported ${ID_LIMIT - 1}`);

    this.tokenIds = new Map();
    this.tokenBytes = [];
    for (let id = 0; id < this.tokens.length; id++) {
      const t = this.tokens[id];
      if (this.tokenIds.has(t)) {
        throw new Error(`${file}: token ${JSON.stringify(t)} appears twice (ids ${this.tokenIds.get(t)} and ${id})`);
      }
      this.tokenIds.set(t, id);
      if (this.special[id]) {
        this.tokenBytes.push(null);
        continue;
      }
      const bytes = new Uint8Array(t.length);
      for (let i = 0; i < t.length; i++) {
        const b = CHAR_TO_BYTE.get(t[i]);
        if (b === undefined) {
          throw new Error(`${file}: token ${JSON.stringify(t)} (id ${id}) has a character outside the byte-level alphabet`);
        }
        bytes[i] = b;
      }
      if (bytes.length === 0) throw new Error(`${file}: token id ${id} is the empty string`);
      this.tokenBytes.push(bytes);
    }
    for (let b = 0; b < 256; b++) {
      const id = this.tokenIds.get(BYTE_CHARS[b]);
      if (id === undefined || this.special[id]) {
        throw new Error(`${file}: the vocabulary lacks the byte token ${JSON.stringify(BYTE_CHARS[b])} (byte ${b})`);
      }
      this.byteIds[b] = id;
    }
    this.merges.forEach(([a, b, m], rank) => {
      const key = pairKey(a, b);
      if (this.mergeRanks.has(key)) {
        const pair = `${JSON.stringify(this.tokens[a])} ${JSON.stringify(this.tokens[b])}`;
        throw new Error(`${file}: merge ${rank} (${pair}) repeats merge ${this.mergeRanks.get(key)}`);
      }
      if (this.special[a] || this.special[b] || this.special[m]) {
        throw new Error(`${file}: merge ${rank} involves a special token`);
      }
      this.mergeRanks.set(key, rank);
    });

    const find = (name: string): number => {
      const id = this.tokenIds.get(name);
      if (id === undefined || !this.special[id]) throw new Error(`${file}: missing the special token ${name}`);
      return id;
    };
    this.pad = find(PAD);
    this.bos = find(BOS);
    this.eos = find(EOS);
    for (const code of this.languages) this.langIds.set(code, find(langTag(code)));
  }

  // -------------------------------------------------------------------------------------------
  // Training

  /**
   * Learns merges from `texts` (each pre-tokenised separately). Each step merges the most frequent
   * adjacent pair; ties go to the lexicographically smallest (left token string, then right).
   * Pair counts are updated incrementally, touching only the words that contain the merged pair.
   */
  static train(texts: readonly string[], opts: TrainOptions): BpeTokenizer {
    const languages = validateLanguages(opts.languages, 'train');
    const specials = [PAD, BOS, EOS, ...languages.map(langTag)];
    const base = specials.length + 256;
    if (!Number.isInteger(opts.vocabSize) || opts.vocabSize < base || opts.vocabSize >= ID_LIMIT) {
      throw new Error(
        `train: vocabSize must be an integer in [${base}, ${ID_LIMIT}) (specials + 256 bytes), got ${opts.vocabSize}`,
      );
    }

    const tokens = [...specials, ...BYTE_CHARS];
    const ids = new Map(tokens.map((t, i) => [t, i]));
    const byteBase = specials.length;

    // Distinct pre-tokens with their counts, as arrays of symbol ids (rewritten in place by merges).
    const wordCounts = new Map<string, number>();
    for (const text of texts) {
      for (const w of preTokenize(text)) wordCounts.set(w, (wordCounts.get(w) ?? 0) + 1);
    }
    const words: Int32Array[] = [];
    const lengths: number[] = [];
    const freqs: number[] = [];
    for (const [w, f] of wordCounts) {
      const bytes = utf8Encoder.encode(w);
      if (bytes.length < 2) continue; // no pairs, nothing to learn
      words.push(Int32Array.from(bytes, (b) => byteBase + b));
      lengths.push(bytes.length);
      freqs.push(f);
    }

    const pairCounts = new Map<number, number>();
    const pairWords = new Map<number, Set<number>>();
    let changed = new Set<number>();
    const addPair = (a: number, b: number, delta: number, w: number): void => {
      const key = pairKey(a, b);
      const c = (pairCounts.get(key) ?? 0) + delta;
      if (c === 0) pairCounts.delete(key);
      else pairCounts.set(key, c);
      changed.add(key);
      if (delta > 0) {
        let set = pairWords.get(key);
        if (!set) pairWords.set(key, (set = new Set()));
        set.add(w);
      }
    };
    for (let w = 0; w < words.length; w++) {
      const word = words[w];
      for (let i = 0; i + 1 < lengths[w]; i++) addPair(word[i], word[i + 1], freqs[w], w);
    }

    // Max-heap of (count, pair) entries; an entry is stale once its pair's count has changed, and a
    // fresh entry is pushed for every pair whose count changed in a step.
    const heap = new PairHeap(tokens);
    for (const [key, c] of pairCounts) heap.push(key, c);
    changed = new Set();

    const merges: Array<[number, number, number]> = [];
    while (tokens.length < opts.vocabSize) {
      const top = heap.pop();
      if (!top) break;
      const [key, count] = top;
      if (pairCounts.get(key) !== count) continue;
      const a = Math.floor(key / ID_LIMIT);
      const b = key - a * ID_LIMIT;
      const merged = tokens[a] + tokens[b];
      // Two merge paths can spell the same string (ab+c, a+bc); they share one id, as in `tokenizers`.
      let m = ids.get(merged);
      if (m === undefined) {
        m = tokens.length;
        tokens.push(merged);
        ids.set(merged, m);
      }
      merges.push([a, b, m]);

      for (const w of pairWords.get(key) ?? []) {
        const word = words[w];
        const len = lengths[w];
        const f = freqs[w];
        let out = 0;
        let i = 0;
        while (i < len) {
          if (i + 1 < len && word[i] === a && word[i + 1] === b) {
            // word[out-1] is already rewritten, so back-to-back matches (a b a b) chain correctly.
            if (out > 0) {
              addPair(word[out - 1], a, -f, w);
              addPair(word[out - 1], m, f, w);
            }
            if (i + 2 < len) {
              addPair(b, word[i + 2], -f, w);
              addPair(m, word[i + 2], f, w);
            }
            addPair(a, b, -f, w);
            word[out++] = m;
            i += 2;
          } else {
            word[out++] = word[i++];
          }
        }
        lengths[w] = out;
      }
      pairWords.delete(key);
      for (const k of changed) {
        const c = pairCounts.get(k);
        if (c !== undefined && c > 0) heap.push(k, c);
        else pairWords.delete(k);
      }
      changed = new Set();
    }

    return new BpeTokenizer(
      { tokens, special: tokens.map((_, i) => i < specials.length), merges, languages },
      'train',
    );
  }

  // -------------------------------------------------------------------------------------------
  // Encoding and decoding

  /** Token ids of plain text (special-token strings in it are ordinary text). */
  encode(text: string): number[] {
    const out: number[] = [];
    for (const word of preTokenize(text)) this.encodeWord(word, out);
    return out;
  }

  /** `[<bos>, <lang:xx>, ...encode(text)]`. */
  encodePrompt(text: string, language: string): number[] {
    return [this.bos, this.langId(language), ...this.encode(text)];
  }

  /** Text of `ids`; special tokens appear as their names unless `skipSpecial`. Invalid UTF-8 → U+FFFD. */
  decode(ids: readonly number[], opts: { skipSpecial?: boolean } = {}): string {
    let text = '';
    let run: number[] = [];
    let runBytes = 0;
    const flush = (): void => {
      if (run.length === 0) return;
      const buf = new Uint8Array(runBytes);
      let o = 0;
      for (const id of run) {
        const bytes = this.tokenBytes[id] as Uint8Array;
        buf.set(bytes, o);
        o += bytes.length;
      }
      text += utf8Decoder.decode(buf);
      run = [];
      runBytes = 0;
    };
    for (const id of ids) {
      this.checkId(id);
      if (this.special[id]) {
        flush();
        if (!opts.skipSpecial) text += this.tokens[id];
      } else {
        run.push(id);
        runBytes += (this.tokenBytes[id] as Uint8Array).length;
      }
    }
    flush();
    return text;
  }

  langId(code: string): number {
    const id = this.langIds.get(code);
    if (id === undefined) {
      throw new Error(`the tokenizer has no language tag for '${code}'; it knows: ${this.languages.join(', ') || '(none)'}`);
    }
    return id;
  }

  /** The token's string: byte-level characters (GPT-2 style, 'Ġ' = space) or a special's name. */
  idToToken(id: number): string {
    this.checkId(id);
    return this.tokens[id];
  }

  /** The id of a token string as `idToToken` spells it, or undefined. */
  tokenToId(token: string): number | undefined {
    return this.tokenIds.get(token);
  }

  isSpecial(id: number): boolean {
    this.checkId(id);
    return this.special[id];
  }

  /** Number of learned merges. */
  get mergeCount(): number {
    return this.merges.length;
  }

  /**
   * Tokens per character (code point) and per word. Words are whitespace-separated; with
   * `noSpaces` (zho, jpn), where that means nothing, every non-whitespace character counts as one.
   */
  fertility(text: string, noSpaces = false): Fertility {
    const tokens = this.encode(text).length;
    const chars = [...text].length;
    const words = noSpaces ? (text.match(/\P{White_Space}/gu) ?? []).length : (text.match(/\P{White_Space}+/gu) ?? []).length;
    return {
      tokens,
      chars,
      words,
      tokensPerChar: chars > 0 ? tokens / chars : 0,
      tokensPerWord: words > 0 ? tokens / words : 0,
    };
  }

  private checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new Error(`token id ${id} is outside the vocabulary [0, ${this.vocabSize})`);
    }
  }

  private encodeWord(word: string, out: number[]): void {
    const cached = this.cache.get(word);
    if (cached) {
      for (const id of cached) out.push(id);
      return;
    }
    const bytes = utf8Encoder.encode(word);
    const ids = this.mergeWord(Array.from(bytes, (b) => this.byteIds[b]));
    if (word.length <= CACHEABLE_WORD_LENGTH) {
      if (this.cache.size >= WORD_CACHE_LIMIT) this.cache.clear();
      this.cache.set(word, ids);
    }
    for (const id of ids) out.push(id);
  }

  /**
   * Applies merges by rank: a min-heap of (rank, position) over a linked list of symbols; the
   * lowest rank merges first, leftmost first among equals — the order `tokenizers` uses.
   */
  private mergeWord(symbols: number[]): number[] {
    const n = symbols.length;
    if (n < 2 || this.merges.length === 0) return symbols;
    const sym = Int32Array.from(symbols);
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    const dead = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1;
      prev[i] = i - 1;
    }
    // Heap entries pack rank * 2^32 + position into one number: ordered by rank, then position.
    const heap: number[] = [];
    const push = (left: number): void => {
      const right = next[left];
      if (right >= n) return;
      const rank = this.mergeRanks.get(pairKey(sym[left], sym[right]));
      if (rank !== undefined) heapPush(heap, rank * 4294967296 + left);
    };
    for (let i = 0; i + 1 < n; i++) push(i);
    while (heap.length > 0) {
      const entry = heapPop(heap);
      const rank = Math.floor(entry / 4294967296);
      const i = entry - rank * 4294967296;
      if (dead[i]) continue;
      const j = next[i];
      if (j >= n) continue;
      // Stale if the pair at i changed since the entry was pushed (ranks identify pairs).
      const [a, b, m] = this.merges[rank];
      if (sym[i] !== a || sym[j] !== b) continue;
      sym[i] = m;
      dead[j] = 1;
      next[i] = next[j];
      if (next[j] < n) prev[next[j]] = i;
      if (prev[i] >= 0) push(prev[i]);
      push(i);
    }
    const out: number[] = [];
    for (let i = 0; i < n; i = next[i]) out.push(sym[i]);
    return out;
  }

  // -------------------------------------------------------------------------------------------
  // Hugging Face files

  /** `tokenizer.json` in the format of Hugging Face `tokenizers` (merges as pairs). */
  toTokenizerJson(): Record<string, unknown> {
    // Null-prototype object: a token spelled "__proto__" must stay an ordinary key.
    const vocab: Record<string, number> = Object.create(null);
    this.tokens.forEach((t, id) => (vocab[t] = id));
    return {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: this.tokens.flatMap((content, id) =>
        this.special[id]
          ? [{ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }]
          : [],
      ),
      normalizer: null,
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      post_processor: null,
      decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: false,
        byte_fallback: false,
        ignore_merges: false,
        vocab,
        merges: this.merges.map(([a, b]) => [this.tokens[a], this.tokens[b]]),
      },
    };
  }

  /** `tokenizer_config.json` for transformers' PreTrainedTokenizerFast. */
  tokenizerConfigJson(opts: { modelMaxLength?: number } = {}): Record<string, unknown> {
    const addedTokensDecoder: Record<string, unknown> = {};
    this.tokens.forEach((content, id) => {
      if (this.special[id]) {
        addedTokensDecoder[String(id)] = {
          content,
          lstrip: false,
          normalized: false,
          rstrip: false,
          single_word: false,
          special: true,
        };
      }
    });
    return {
      tokenizer_class: 'PreTrainedTokenizerFast',
      bos_token: BOS,
      eos_token: EOS,
      pad_token: PAD,
      unk_token: null,
      model_max_length: opts.modelMaxLength ?? 2048,
      clean_up_tokenization_spaces: false,
      additional_special_tokens: this.languages.map(langTag),
      added_tokens_decoder: addedTokensDecoder,
    };
  }

  /**
   * Reads a `tokenizer.json` (byte-level BPE with <pad>, <bos>, <eos> as special added tokens; the
   * `<lang:xxx>` added tokens give the languages). Anything else is rejected with an error naming
   * `file` and the problem.
   */
  static fromTokenizerJson(json: unknown, file = 'tokenizer.json'): BpeTokenizer {
    const fail = (msg: string): never => {
      throw new Error(`${file}: ${msg}`);
    };
    if (!isObject(json)) return fail('expected a JSON object');
    const model = json.model;
    if (!isObject(model)) return fail('missing the "model" object');
    if (model.type !== 'BPE') fail(`model.type must be "BPE", got ${JSON.stringify(model.type)}`);
    for (const [k, ok] of [
      ['dropout', (v: unknown) => v == null],
      ['unk_token', (v: unknown) => v == null],
      ['continuing_subword_prefix', (v: unknown) => v == null || v === ''],
      ['end_of_word_suffix', (v: unknown) => v == null || v === ''],
      ['byte_fallback', (v: unknown) => v == null || v === false],
      ['ignore_merges', (v: unknown) => v == null || v === false],
    ] as const) {
      if (!ok(model[k])) fail(`model.${k} = ${JSON.stringify(model[k])} is not supported (byte-level BPE without it)`);
    }
    if (json.normalizer != null) fail('a normalizer is not supported (byte-level BPE must see the raw text)');
    const pre = json.pre_tokenizer;
    if (!isObject(pre) || pre.type !== 'ByteLevel') fail('pre_tokenizer must be {"type": "ByteLevel", ...}');
    else {
      if (pre.add_prefix_space === true) fail('pre_tokenizer.add_prefix_space = true is not supported');
      if (pre.use_regex === false) fail('pre_tokenizer.use_regex = false is not supported');
    }
    const decoder = json.decoder;
    if (decoder != null && (!isObject(decoder) || decoder.type !== 'ByteLevel')) fail('decoder must be ByteLevel or null');

    const vocab = model.vocab;
    if (!isObject(vocab)) return fail('model.vocab must be an object of token → id');
    const byId = new Map<number, string>();
    for (const [token, id] of Object.entries(vocab)) {
      if (!Number.isInteger(id) || (id as number) < 0) {
        fail(`model.vocab[${JSON.stringify(token)}] = ${JSON.stringify(id)} is not a non-negative integer id`);
      }
      const other = byId.get(id as number);
      if (other !== undefined) fail(`model.vocab gives id ${id} to both ${JSON.stringify(other)} and ${JSON.stringify(token)}`);
      byId.set(id as number, token);
    }

    const special = new Set<number>();
    const added = json.added_tokens ?? [];
    if (!Array.isArray(added)) return fail('added_tokens must be an array');
    added.forEach((t: unknown, i: number) => {
      if (!isObject(t) || !Number.isInteger(t.id) || (t.id as number) < 0 || typeof t.content !== 'string' || t.content === '') {
        return fail(`added_tokens[${i}] must have an integer "id" and a non-empty string "content"`);
      }
      const id = t.id as number;
      if (t.special !== true) {
        fail(`added_tokens[${i}] (${JSON.stringify(t.content)}) is not special; only special added tokens are supported`);
      }
      const inVocab = byId.get(id);
      if (inVocab !== undefined && inVocab !== t.content) {
        fail(`added_tokens[${i}] says id ${id} is ${JSON.stringify(t.content)}, model.vocab says ${JSON.stringify(inVocab)}`);
      }
      if (special.has(id)) fail(`added_tokens[${i}] repeats id ${id}`);
      byId.set(id, t.content);
      special.add(id);
    });

    const size = byId.size;
    const tokens: string[] = new Array(size);
    for (const [id, t] of byId) {
      if (id >= size) fail(`token ids must run from 0 without gaps; id ${id} is beyond ${size - 1} (some id is missing)`);
      tokens[id] = t;
    }
    const ids = new Map(tokens.map((t, i) => [t, i]));

    const merges = model.merges;
    if (!Array.isArray(merges)) return fail('model.merges must be an array');
    const parsed: Array<[number, number, number]> = merges.map((entry: unknown, rank: number): [number, number, number] => {
      let pair: unknown[];
      if (typeof entry === 'string') {
        // The older form "a b": byte-level tokens never contain a real space (it is 'Ġ').
        pair = entry.split(' ');
      } else if (Array.isArray(entry)) {
        pair = entry;
      } else {
        return fail(`model.merges[${rank}] must be a ["left", "right"] pair or a "left right" string`);
      }
      if (pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') {
        return fail(`model.merges[${rank}] = ${JSON.stringify(entry)} is not a pair of two tokens`);
      }
      const [left, right] = pair as [string, string];
      const a = ids.get(left);
      const b = ids.get(right);
      const m = ids.get(left + right);
      if (a === undefined) fail(`model.merges[${rank}] refers to ${JSON.stringify(left)}, which is not in the vocabulary`);
      if (b === undefined) fail(`model.merges[${rank}] refers to ${JSON.stringify(right)}, which is not in the vocabulary`);
      if (m === undefined) {
        fail(`model.merges[${rank}]: the merged token ${JSON.stringify(left + right)} is not in the vocabulary`);
      }
      return [a as number, b as number, m as number];
    });

    const languages: string[] = [];
    const specialIds = [...special].sort((x, y) => x - y);
    for (const id of specialIds) {
      const lang = LANG_TAG.exec(tokens[id]);
      if (lang) languages.push(lang[1]);
    }
    return new BpeTokenizer({ tokens, special: tokens.map((_, i) => special.has(i)), merges: parsed, languages }, file);
  }
}

// ---------------------------------------------------------------------------------------------

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function validateLanguages(languages: readonly string[], where: string): string[] {
  if (!Array.isArray(languages)) throw new Error(`${where}: languages must be an array of codes`);
  const seen = new Set<string>();
  for (const code of languages) {
    if (typeof code !== 'string' || !LANG_TAG.test(langTag(code))) {
      throw new Error(`${where}: invalid language code ${JSON.stringify(code)}`);
    }
    if (seen.has(code)) throw new Error(`${where}: language '${code}' is listed twice`);
    seen.add(code);
  }
  return [...languages];
}

/** Binary min-heap of numbers. */
function heapPush(h: number[], v: number): void {
  let i = h.length;
  h.push(v);
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (h[p] <= v) break;
    h[i] = h[p];
    i = p;
  }
  h[i] = v;
}

function heapPop(h: number[]): number {
  const top = h[0];
  const last = h.pop() as number;
  const n = h.length;
  if (n > 0) {
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const c = l + 1 < n && h[l + 1] < h[l] ? l + 1 : l;
      if (h[c] >= last) break;
      h[i] = h[c];
      i = c;
    }
    h[i] = last;
  }
  return top;
}

/** Max-heap of (pair key, count): highest count first, then the smallest (left, right) strings. */
class PairHeap {
  private readonly keys: number[] = [];
  private readonly counts: number[] = [];

  constructor(private readonly tokens: readonly string[]) {}

  /** True when entry x comes before entry y. */
  private before(kx: number, cx: number, ky: number, cy: number): boolean {
    if (cx !== cy) return cx > cy;
    const ax = Math.floor(kx / ID_LIMIT);
    const ay = Math.floor(ky / ID_LIMIT);
    if (ax !== ay) return this.tokens[ax] < this.tokens[ay];
    return this.tokens[kx - ax * ID_LIMIT] < this.tokens[ky - ay * ID_LIMIT];
  }

  push(key: number, count: number): void {
    const { keys, counts } = this;
    let i = keys.length;
    keys.push(key);
    counts.push(count);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(key, count, keys[p], counts[p])) break;
      keys[i] = keys[p];
      counts[i] = counts[p];
      i = p;
    }
    keys[i] = key;
    counts[i] = count;
  }

  pop(): [number, number] | undefined {
    const { keys, counts } = this;
    if (keys.length === 0) return undefined;
    const top: [number, number] = [keys[0], counts[0]];
    const lk = keys.pop() as number;
    const lc = counts.pop() as number;
    const n = keys.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const c = l + 1 < n && this.before(keys[l + 1], counts[l + 1], keys[l], counts[l]) ? l + 1 : l;
        if (!this.before(keys[c], counts[c], lk, lc)) break;
        keys[i] = keys[c];
        counts[i] = counts[c];
        i = c;
      }
      keys[i] = lk;
      counts[i] = lc;
    }
    return top;
  }
}
