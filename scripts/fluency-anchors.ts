// How often genuine held-out UDHR text scores below the Arbiter's fluency "0" anchor (uniformly
// random characters of the language's alphabet), by snippet length: snippets of L characters taken
// every 37 characters from each held-out paragraph (from character 20 on), each scored after the
// paragraph's text before it, as a completion is scored after its prompt. Prints the markdown table
// of docs/results/fluency-anchors.md.  Run: node --import tsx scripts/fluency-anchors.ts
import { heldOutParagraphs, loadCorpus, trainParagraphs } from '../src/data/corpus.ts';
import { nodeUdhrSource } from '../src/data/source.node.ts';
import { CharNgramModel } from '../src/arbiter/charNgram.ts';
import { LANGUAGE_CODES } from '../src/data/languages.ts';

const LENGTHS = [3, 5, 10, 20, 40];
const docs = await loadCorpus(nodeUdhrSource, [...LANGUAGE_CODES]);
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const fractions: number[][] = LENGTHS.map(() => []);
const rows: string[] = [];
for (const [code, doc] of docs) {
  const m = CharNgramModel.fit(trainParagraphs(doc));
  let total = 0;
  let chars = 0;
  for (const p of heldOutParagraphs(doc)) {
    const r = m.meanLogProb(p);
    total += r.mean * r.chars;
    chars += r.chars;
  }
  const cells = LENGTHS.map((L, i) => {
    let n = 0;
    let below = 0;
    for (const p of heldOutParagraphs(doc)) {
      const cs = Array.from(p);
      for (let start = 20; start + L < cs.length; start += 37) {
        n++;
        if (m.meanLogProb(cs.slice(start, start + L).join(''), cs.slice(0, start).join('')).mean < m.uniformLogProb) below++;
      }
    }
    fractions[i].push(below / n);
    return pct(below / n);
  });
  rows.push(`| ${code} | ${m.vocabulary} | ${m.uniformLogProb.toFixed(2)} | ${(total / chars).toFixed(2)} | ${cells.join(' | ')} |`);
}
console.log(`| language | alphabet | "0" (nats/char) | "1" (nats/char) | ${LENGTHS.map((l) => `${l} chars`).join(' | ')} |`);
console.log(`|---|---:|---:|---:|${LENGTHS.map(() => '---:').join('|')}|`);
for (const r of rows) console.log(r);
console.log(`| **mean** | | | | ${fractions.map((f) => `**${pct(f.reduce((a, b) => a + b, 0) / f.length)}**`).join(' | ')} |`);
