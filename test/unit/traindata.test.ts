import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BpeTokenizer } from '../../src/tokenizer/bpe.ts';
import { BatchSampler, pairExample, parsePairsJsonl, textExample, window } from '../../src/train/data.ts';
import { heldOutBatches } from '../../src/train/sft.ts';
import { Rng } from '../../src/util/rng.ts';

const tok = BpeTokenizer.fromTokenizerJson(JSON.parse(readFileSync('public/tokenizers/universal-23/tokenizer.json', 'utf8')));

describe('training data', () => {
  it('text examples predict everything after the language tag', () => {
    const ex = textExample(tok, 'fra', 'Bonjour');
    expect(ex.ids[0]).toBe(tok.bos);
    expect(ex.ids[1]).toBe(tok.langId('fra'));
    expect(ex.ids.at(-1)).toBe(tok.eos);
    expect(ex.mask).toHaveLength(ex.ids.length - 1);
    expect(ex.mask[0]).toBe(0);
    expect(ex.mask.slice(1).every((m) => m === 1)).toBe(true);
  });

  it('pair examples count only the completion and <eos>', () => {
    const ex = pairExample(tok, 'eng', 'Question', ' answer');
    const head = tok.encodePrompt('Question', 'eng').length;
    const counted = ex.mask.map((m, i) => (m ? ex.ids[i + 1] : -1)).filter((x) => x >= 0);
    expect(counted).toEqual([...tok.encode(' answer'), tok.eos]);
    expect(ex.mask.slice(0, head - 1).every((m) => m === 0)).toBe(true);
  });

  it('windows pad short examples with masked-out pad tokens', () => {
    const ex = { language: 'eng', ids: [1, 5, 6, 2], mask: [0, 1, 1] };
    const w = window(ex, 6, 0, new Rng(1));
    expect(w.ids).toEqual([1, 5, 6, 2, 0, 0]);
    expect(w.targets).toEqual([5, 6, 2, 0, 0, 0]);
    expect(w.mask).toEqual([0, 1, 1, 0, 0, 0]);
  });

  it('a long pair keeps its completion and cuts the prompt from the left', () => {
    const ex = pairExample(tok, 'eng', 'word '.repeat(60), ' the answer');
    for (const seed of [1, 2, 3]) {
      const w = window(ex, 16, tok.pad, new Rng(seed));
      const counted = w.mask.map((m, i) => (m ? w.targets[i] : -1)).filter((x) => x >= 0);
      expect(counted).toEqual([...tok.encode(' the answer'), tok.eos]);
    }
  });

  it("held-out batches of a language do not depend on which other languages are evaluated", () => {
    const long = (t: string) => textExample(tok, 'eng', `${t} `.repeat(80));
    const eng = [long('alpha'), long('beta')];
    const alone = heldOutBatches(new Map([['eng', eng]]), 2, 16, 2, tok.pad).get('eng');
    const withOthers = heldOutBatches(new Map([['fra', [long('gamma')]], ['eng', eng]]), 2, 16, 2, tok.pad).get('eng');
    expect(withOthers).toEqual(alone);
  });

  it('the sampler is seeded and follows the mix weights', () => {
    const pool = new Map([
      ['eng', [textExample(tok, 'eng', 'a b c d e f g')]],
      ['fra', [textExample(tok, 'fra', 'h i j k l m n')]],
    ]);
    const mix = [{ language: 'eng', weight: 3 }, { language: 'fra', weight: 1 }];
    const a = new BatchSampler(pool, mix, 4).next(400, 8, tok.pad);
    const b = new BatchSampler(pool, mix, 4).next(400, 8, tok.pad);
    expect(b).toEqual(a);
    const eng = a.languages.filter((l) => l === 'eng').length / 400;
    expect(eng).toBeGreaterThan(0.68);
    expect(eng).toBeLessThan(0.82);
    expect(() => new BatchSampler(pool, [{ language: 'deu', weight: 1 }], 1)).toThrow(/no training examples for 'deu'/);
  });

  it('JSONL pairs: errors name the line', () => {
    expect(parsePairsJsonl('{"prompt":"a","completion":"b","language":"fra"}\n')).toHaveLength(1);
    expect(() => parsePairsJsonl('{"prompt":"a"}\n', 'x.jsonl')).toThrow(/x\.jsonl:1: "completion" must be a string/);
    expect(() => parsePairsJsonl('\n{"prompt":"a","completion":"b","language":"xx"}', 'x.jsonl')).toThrow(/x\.jsonl:2: unknown language 'xx'/);
    expect(() => parsePairsJsonl('nope', 'x.jsonl')).toThrow(/x\.jsonl:1: not valid JSON/);
  });
});
