import { beforeAll, describe, expect, it } from 'vitest';
import { chrF } from '../../src/arbiter/chrf.ts';
import { CharNgramModel } from '../../src/arbiter/charNgram.ts';
import { identifyLanguage, languageScore } from '../../src/arbiter/languageId.ts';
import { combine, DEFAULT_WEIGHTS, ReferenceArbiter, SHORT_FLUENCY_CHARS, validateWeights, verdictFromRewards } from '../../src/arbiter/arbiter.ts';
import { buildPrompts, loadCorpus, type UdhrDocument } from '../../src/data/corpus.ts';
import { nodeUdhrSource } from '../../src/data/source.node.ts';

describe('chrF', () => {
  it('is 100 for identical strings and 0 for strings with no character in common', () => {
    expect(chrF('Toute personne a droit', 'Toute personne a droit')).toBe(100);
    expect(chrF('abc', 'xyz')).toBe(0);
    expect(chrF('', 'abc')).toBe(0);
  });

  it('matches a value computed by hand: "ab" against "abc" = 7/11', () => {
    // n=1: P = 2/2, R = 2/3; n=2: P = 1/1, R = 1/2; n≥3: no hypothesis n-grams (not counted).
    // avgP = 1, avgR = 7/12; F₂ = 5·1·(7/12) / (4·1 + 7/12) = 35/55.
    expect(chrF('ab', 'abc')).toBeCloseTo((100 * 7) / 11, 10);
  });

  it('ignores whitespace and matches sacreBLEU on its documented example', () => {
    expect(chrF('a b', 'ab')).toBe(100);
    // sacreBLEU 2.x / HF `chrf` metric card: 61.576379378113785.
    expect(chrF('The relationship between Obama and Netanyahu is not exactly friendly.', 'The ties between Obama and Netanyahu are not particularly friendly.')).toBeCloseTo(61.576379378113785, 9);
  });

  it('counts code points, not UTF-16 units', () => {
    expect(chrF('𠀀𠀁', '𠀀𠀁')).toBe(100);
    expect(chrF('𠀀', '𠀀𠀁')).toBeCloseTo((100 * 5 * 1 * 0.5) / (4 + 0.5), 10); // P = 1, R = 1/2 at n = 1 only
  });
});

describe('character n-gram model (Witten–Bell)', () => {
  // Fitted on "ab" with order 2: vocabulary {a, b} + unseen = 3.
  // P₀(a) = (1 + 2·⅓)/(2 + 2) = 5/12; P(a | start) = (1 + 1·5/12)/(1 + 1) = 17/24.
  const m = CharNgramModel.fit(['ab'], 2);
  it('gives hand-computed probabilities', () => {
    expect(m.meanLogProb('a').mean).toBeCloseTo(Math.log(17 / 24), 12);
    expect(m.meanLogProb('ab').mean).toBeCloseTo(Math.log(17 / 24), 12); // P(b | a) = 17/24 too
    expect(m.meanLogProb('aa').mean).toBeCloseTo((Math.log(17 / 24) + Math.log(5 / 24)) / 2, 12);
    expect(m.meanLogProb('z').mean).toBeCloseTo(Math.log(1 / 12), 12); // unseen: (⅔/4)/2
  });
  it('conditions on a context and survives a JSON round trip', () => {
    expect(m.meanLogProb('b', 'a').mean).toBeCloseTo(Math.log(17 / 24), 12);
    expect(m.meanLogProb('b').mean).not.toBeCloseTo(Math.log(17 / 24), 3);
    const again = CharNgramModel.fromJson(JSON.parse(JSON.stringify(m.toJson())));
    expect(again.meanLogProb('aab', 'b').mean).toBe(m.meanLogProb('aab', 'b').mean);
  });
  it('normalises: probabilities of every next character (seen + the unseen class) sum to 1', () => {
    const big = CharNgramModel.fit(['the cat sat on the mat', 'a hat'], 3);
    const chars = [...new Set(Array.from('the cat sat on the mat a hat'))];
    for (const ctx of ['th', 'at', 'zz', '']) {
      const hist = Array.from(ctx);
      const seen = chars.reduce((s, c) => s + Math.exp(big.logProb(hist, c)), 0);
      const unseen = Math.exp(big.logProb(hist, '\u{1F600}')); // the one unseen class
      expect(seen + unseen).toBeCloseTo(1, 12);
    }
  });
});

describe('language identification (franc, restricted to the 23)', () => {
  it('recognises UDHR sentences and scores a wrong script 0', () => {
    expect(identifyLanguage('Tous les êtres humains naissent libres et égaux en dignité et en droits.').language).toBe('fra');
    expect(identifyLanguage('人人生而自由，在尊严和权利上一律平等。').language).toBe('zho');
    expect(languageScore('Все люди рождаются свободными и равными', 'rus')).toBe(1);
    expect(languageScore('Все люди рождаются свободными и равными', 'fra')).toBe(0);
    expect(languageScore('Tous les êtres humains naissent libres', 'jpn')).toBe(0);
  });
  it('does not guess on text too short or without letters', () => {
    expect(identifyLanguage('.').language).toBe('und');
    expect(languageScore('', 'eng')).toBe(0);
  });
});

describe('reference arbiter', () => {
  let docs: Map<string, UdhrDocument>;
  let arb: ReferenceArbiter;
  beforeAll(async () => {
    docs = await loadCorpus(nodeUdhrSource, ['fra', 'rus', 'jpn']);
    arb = ReferenceArbiter.fromCorpus(docs);
  });

  it('combines components as a weighted mean over those present (weights visible)', () => {
    expect(combine({ language: 1, fluency: 0.5, adequacy: null }, DEFAULT_WEIGHTS)).toBeCloseTo((0.4 * 1 + 0.3 * 0.5) / 0.7, 12);
    expect(combine({ language: 1, fluency: 0.5, adequacy: 0 }, { language: 1, fluency: 0, adequacy: 1 })).toBe(0.5);
    expect(() => validateWeights({ language: 0, fluency: 0, adequacy: 0 })).toThrow(/all 0/);
    expect(() => validateWeights({ language: -1, fluency: 0, adequacy: 1 })).toThrow(/language/);
  });

  it('gives the reference continuation adequacy 1 and language 1; an empty completion reward 0', () => {
    const p = buildPrompts(docs.get('fra')!, 'fra', 'heldout')[0];
    const s = arb.score(p.prompt, p.reference, 'fra', p.reference);
    expect(s.components.adequacy).toBe(1);
    expect(s.components.language).toBe(1);
    expect(s.details.detectedLanguage).toBe('fra');
    expect(s.components.fluency).toBeGreaterThan(0.5);
    expect(s.reward).toBeCloseTo(combine(s.components, DEFAULT_WEIGHTS), 12);
    const empty = arb.score(p.prompt, '', 'fra', p.reference);
    expect(empty.reward).toBe(0);
    expect(empty.components).toEqual({ language: 0, fluency: 0, adequacy: 0 });
  });

  it('scores text in the wrong script low on language and fluency, and prefers the right language', () => {
    const p = buildPrompts(docs.get('rus')!, 'rus', 'heldout')[0];
    const wrong = arb.score(p.prompt, 'Toute personne a droit au travail et à la protection.', 'rus', p.reference);
    expect(wrong.components.language).toBe(0);
    expect(wrong.components.fluency).toBe(0);
    const right = arb.score(p.prompt, p.reference, 'rus', p.reference);
    expect(right.reward).toBeGreaterThan(wrong.reward + 0.5);
    expect(arb.judge(p.prompt, p.reference, 'Toute personne a droit au travail.', 'rus', p.reference)).toBe('a');
    expect(arb.judge(p.prompt, 'same', 'same', 'rus')).toBe('tie');
  });

  it('without a reference, adequacy is null and the weights renormalise', () => {
    const s = arb.score('日本語の', 'すべての人は、教育を受ける権利を有する。', 'jpn');
    expect(s.components.adequacy).toBeNull();
    expect(s.reward).toBeCloseTo((0.4 * s.components.language! + 0.3 * s.components.fluency!) / 0.7, 12);
    const onlyLanguage = arb.withWeights({ language: 1, fluency: 0, adequacy: 0 });
    expect(onlyLanguage.score('日本語の', 'すべての人は、教育を受ける権利を有する。', 'jpn').reward).toBe(s.components.language);
    expect(() => arb.score('x', 'y', 'deu')).toThrow(/no character model for 'deu'/);
  });

  it('reports fluency’s anchors with every score, and maps the raw nats/char between them', () => {
    const p = buildPrompts(docs.get('fra')!, 'fra', 'heldout')[0];
    const s = arb.score(p.prompt, p.reference, 'fra', p.reference);
    const scale = s.details.fluencyScale!;
    expect(scale.zero).toBeCloseTo(Math.log(1 / scale.alphabet), 12);
    expect(scale.alphabet).toBeGreaterThan(30);
    expect(scale.one).toBeGreaterThan(scale.zero);
    const expected = Math.min(1, Math.max(0, (s.details.logProbPerChar! - scale.zero) / (scale.one - scale.zero)));
    expect(s.components.fluency).toBeCloseTo(expected, 12);
    // A short completion is scored (and flagged by the UI below SHORT_FLUENCY_CHARS characters).
    const short = arb.score(p.prompt, 'le', 'fra');
    expect(short.details.chars).toBeLessThan(SHORT_FLUENCY_CHARS);
    expect(short.details.fluencyScale).toEqual(scale);
  });

  it('judges with a tie margin', () => {
    expect(verdictFromRewards(0.5, 0.505)).toBe('tie');
    expect(verdictFromRewards(0.5, 0.52)).toBe('b');
    expect(verdictFromRewards(0.6, 0.52, 0)).toBe('a');
  });
});
