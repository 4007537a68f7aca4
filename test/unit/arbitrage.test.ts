import { beforeAll, describe, expect, it } from 'vitest';
import { ReferenceArbiter } from '../../src/arbiter/arbiter.ts';
import {
  type ArbitragePrompt,
  type ArbitrageSpec,
  familyTable,
  parsePreferenceJsonl,
  parsePromptsJsonl,
  preferenceJsonl,
  runArbitrage,
  sftJsonl,
  type TeacherInfo,
  trainCrossFittedRouters,
} from '../../src/arbitrage/arbitrage.ts';
import { Router, routerFeatures, softmax, klDivergence } from '../../src/arbitrage/router.ts';
import { buildPrompts, loadCorpus } from '../../src/data/corpus.ts';
import { nodeUdhrSource } from '../../src/data/source.node.ts';
import { parsePairsJsonl } from '../../src/train/data.ts';
import { LANGUAGE_CODES } from '../../src/data/languages.ts';

// Three fake teachers: "fr" writes the reference in French and nonsense elsewhere, "ru" the same
// for Russian, "junk" always writes Latin gibberish. The real reference arbiter scores them.
const teachers: TeacherInfo[] = [
  { id: 'fr', name: 'French expert', family: 'romance' },
  { id: 'ru', name: 'Russian expert', family: 'slavic' },
  { id: 'junk', name: 'Junk' },
];
let arbiter: ReferenceArbiter;
let prompts: ArbitragePrompt[];
const calls: string[] = [];
const generate = async (teacher: string, p: ArbitragePrompt, opts: { seed: number }) => {
  calls.push(`${teacher}|${p.id}|${opts.seed}`);
  if ((teacher === 'fr' && p.language === 'fra') || (teacher === 'ru' && p.language === 'rus')) return p.reference ?? '';
  return teacher === 'junk' ? 'qq zz xx' : 'de la la la';
};
const spec = (strategy: ArbitrageSpec['strategy'], extra: Partial<ArbitrageSpec> = {}): ArbitrageSpec => ({
  strategy,
  teachers,
  samplesPerTeacher: 1,
  seed: 3,
  sampling: { temperature: 0.8, topK: 40, topP: 0.95, maxNewTokens: 16 },
  ...extra,
});

beforeAll(async () => {
  const docs = await loadCorpus(nodeUdhrSource, ['fra', 'rus']);
  arbiter = ReferenceArbiter.fromCorpus(docs);
  prompts = ['fra', 'rus'].flatMap((l) => buildPrompts(docs.get(l)!, l, 'train').slice(0, 6)).map((p) => ({ id: p.id, prompt: p.prompt, language: p.language, reference: p.reference }));
});

describe('routing strategies', () => {
  it('reward-based asks every teacher and keeps the arg-max; the heatmap counts the kept teacher per language', async () => {
    const r = await runArbitrage(prompts, spec('reward'), { generate, arbiter });
    expect(r.summary.completions).toBe(prompts.length * 3);
    expect(r.generations).toHaveLength(prompts.length * 3);
    expect(r.summary.selection.fra).toEqual({ fr: 6, ru: 0, junk: 0 });
    expect(r.summary.selection.rus).toEqual({ fr: 0, ru: 6, junk: 0 });
    for (const o of r.outcomes) {
      expect(o.best.reward).toBe(Math.max(...r.generations.filter((g) => g.promptId === o.promptId).map((g) => g.reward)));
      expect(o.worst!.reward).toBe(Math.min(...r.generations.filter((g) => g.promptId === o.promptId).map((g) => g.reward)));
    }
    expect(r.generations.filter((g) => g.selected)).toHaveLength(prompts.length);
  });

  it('single, fixed and random ask one teacher per prompt; fixed follows the family table', async () => {
    const single = await runArbitrage(prompts, spec('single', { single: 'junk' }), { generate, arbiter });
    expect(single.summary.completions).toBe(prompts.length);
    expect(new Set(single.generations.map((g) => g.teacher))).toEqual(new Set(['junk']));
    expect(single.outcomes.every((o) => o.worst === null)).toBe(true); // one completion: no preference pair
    const fixed = await runArbitrage(prompts, spec('fixed'), { generate, arbiter });
    expect(fixed.summary.selection.fra.fr).toBe(6);
    expect(fixed.summary.selection.rus.ru).toBe(6);
    const a = await runArbitrage(prompts, spec('random'), { generate, arbiter });
    const b = await runArbitrage(prompts, spec('random'), { generate, arbiter });
    expect(a.generations.map((g) => g.teacher)).toEqual(b.generations.map((g) => g.teacher));
    expect(new Set(a.generations.map((g) => g.teacher)).size).toBeGreaterThan(1);
  });

  it('the family table sends each language to its family teacher (shared languages too)', () => {
    const t = familyTable(teachers);
    expect(t.fra).toBe('fr');
    expect(t.ukr).toBe('ru');
    expect(t.eng).toBe('fr'); // no Germanic teacher in this pool: falls back to the first
    expect(Object.keys(t)).toEqual([...LANGUAGE_CODES]);
  });

  it('every strategy asks a teacher for the same seeded completion of a prompt', async () => {
    calls.length = 0;
    await runArbitrage(prompts, spec('reward'), { generate, arbiter });
    const all = new Set(calls);
    calls.length = 0;
    await runArbitrage(prompts, spec('fixed'), { generate, arbiter });
    for (const c of calls) expect(all.has(c)).toBe(true);
  });

  it('the learned router, trained on a reward-based run, routes held-out folds to the right expert', async () => {
    const reward = await runArbitrage(prompts, spec('reward'), { generate, arbiter });
    const learned = await runArbitrage(prompts, spec('learned', { routerData: reward.generations }), { generate, arbiter });
    expect(learned.summary.completions).toBe(prompts.length);
    expect(learned.summary.routerAccuracy).toBe(1);
    expect(learned.summary.selection.fra.fr).toBe(6);
    expect(learned.summary.selection.rus.ru).toBe(6);
    expect(learned.outcomes[0].routerProbabilities).toHaveLength(3);
    await expect(runArbitrage(prompts, spec('learned'), { generate, arbiter })).rejects.toThrow(/reward-based run/);
  });

  it('stops when cancelled and says so, dropping a completion the cancel cut short', async () => {
    let stop = false;
    let n = 0;
    const cut = async (t: string, p: ArbitragePrompt, o: { seed: number }) => {
      if (++n === 5) stop = true; // the cancel arrives while the 5th completion is generated
      return generate(t, p, o);
    };
    const r = await runArbitrage(prompts, spec('reward'), { generate: cut, arbiter, shouldStop: () => stop });
    expect(r.cancelled).toBe(true);
    expect(r.generations).toHaveLength(4);
    expect(r.outcomes).toHaveLength(1); // only the first prompt finished all 3 teachers
  });

  it('rejects unknown teachers and strategies clearly', async () => {
    await expect(runArbitrage(prompts, spec('single', { single: 'nobody' }), { generate, arbiter })).rejects.toThrow(/'nobody' is not in the pool/);
    await expect(runArbitrage(prompts, spec('fixed', { fixedTable: { fra: 'x' } }), { generate, arbiter })).rejects.toThrow(/sends fra to 'x'/);
    await expect(runArbitrage(prompts, { ...spec('reward'), strategy: 'best' as never }, { generate, arbiter })).rejects.toThrow(/unknown strategy/);
  });
});

describe('router', () => {
  it('minimises KL to softmax(rewards/τ): the loss falls and the arg-max is learned', () => {
    const ex = [
      { prompt: 'bonjour le monde', language: 'fra', rewards: [0.9, 0.1] },
      { prompt: 'la liberté', language: 'fra', rewards: [0.8, 0.2] },
      { prompt: 'привет мир', language: 'rus', rewards: [0.1, 0.9] },
      { prompt: 'свобода', language: 'rus', rewards: [0.2, 0.7] },
    ];
    const untrained = Router.train(['a', 'b'], ex, { tau: 0.1, epochs: 0, lr: 0.5, l2: 0 });
    const r = Router.train(['a', 'b'], ex, { tau: 0.1, epochs: 200, lr: 0.5, l2: 0 });
    expect(untrained.loss(ex)).toBeCloseTo(ex.reduce((s, e) => s + klDivergence(softmax(e.rewards.map((x) => x / 0.1)), [0.5, 0.5]), 0) / 4, 12);
    expect(r.loss(ex)).toBeLessThan(untrained.loss(ex) / 2);
    expect(r.route('bonjour', 'fra')).toBe('a');
    expect(r.route('мир', 'rus')).toBe('b');
    expect(Router.fromJson(JSON.parse(JSON.stringify(r.toJson()))).predict('la', 'fra')).toEqual(r.predict('la', 'fra'));
  });

  it('its gradient (p − q) matches finite differences of the KL through the bias', () => {
    // With no features but the language one-hot, the logits are w[lang] + b: a 1-example check.
    const ex = [{ prompt: '', language: 'eng', rewards: [0.3, 0.5, 0.2] }];
    const q = softmax(ex[0].rewards.map((x) => x / 0.2));
    const loss = (z: number[]) => klDivergence(q, softmax(z));
    const z = [0.1, -0.2, 0.05];
    const p = softmax(z);
    for (let k = 0; k < 3; k++) {
      const h = 1e-6;
      const zp = [...z];
      const zm = [...z];
      zp[k] += h;
      zm[k] -= h;
      expect((loss(zp) - loss(zm)) / (2 * h)).toBeCloseTo(p[k] - q[k], 8);
    }
    expect(routerFeatures('', 'eng')).toEqual([[LANGUAGE_CODES.indexOf('eng'), 1]]);
  });

  it('cross-fitting reports how often the held-out router agreed with the reward arg-max', () => {
    const gens = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6'].flatMap((id, i) =>
      ['a', 'b'].map((t) => ({ promptId: id, prompt: `texte ${i}`, language: 'fra', teacher: t, sample: 0, seed: 0, completion: '', reward: t === 'a' ? 0.9 : 0.1, components: { language: 0, fluency: 0, adequacy: null }, selected: false })),
    );
    const r = trainCrossFittedRouters(gens, ['a', 'b']);
    expect(r.examples).toBe(6);
    expect(r.accuracy).toBe(1);
    expect(() => trainCrossFittedRouters(gens.slice(0, 2), ['a', 'b'])).toThrow(/at least 2/);
  });
});

describe('TRL JSONL exports and imports', () => {
  it('the SFT set is {"prompt","completion"} per line (read back by the trainer) and the preference set {"prompt","chosen","rejected"}', async () => {
    const r = await runArbitrage(prompts, spec('reward'), { generate, arbiter });
    const sft = sftJsonl(r.outcomes);
    const lines = sft.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(prompts.length);
    for (const l of lines) {
      expect(typeof l.prompt).toBe('string');
      expect(typeof l.completion).toBe('string');
      expect(typeof l.teacher).toBe('string');
      expect(typeof l.reward).toBe('number');
    }
    expect(parsePairsJsonl(sft)).toHaveLength(prompts.length);
    const pref = preferenceJsonl(r.outcomes);
    const recs = parsePreferenceJsonl(pref);
    expect(recs.length).toBe(prompts.length);
    for (const [i, l] of pref.trim().split('\n').map((x) => JSON.parse(x)).entries()) {
      expect(l.chosen_reward).toBeGreaterThan(l.rejected_reward);
      expect(recs[i].chosen).toBe(l.chosen);
      expect(l.prompt).toBe(r.outcomes[i].prompt);
    }
  });

  it('reads prompt sets, including m-ArenaHard lines with question_id, and names bad lines', () => {
    const ps = parsePromptsJsonl('{"question_id":"abc","category":"x","cluster":"y","prompt":"Bonjour ?"}\n{"prompt":"Hola","language":"spa","reference":"mundo"}\n', 'arena.jsonl', 'fra');
    expect(ps).toEqual([
      { id: 'fra:abc', prompt: 'Bonjour ?', language: 'fra', reference: undefined },
      { id: 'spa:spa-2', prompt: 'Hola', language: 'spa', reference: 'mundo' },
    ]);
    expect(() => parsePromptsJsonl('{"prompt":"x"}', 'a.jsonl')).toThrow(/a.jsonl:1: no "language"/);
    expect(() => parsePromptsJsonl('{"prompt":"x","language":"xx"}', 'a.jsonl')).toThrow(/unknown language 'xx'/);
    expect(() => parsePromptsJsonl('not json', 'a.jsonl')).toThrow(/a.jsonl:1: not valid JSON/);
    expect(() => parsePreferenceJsonl('{"prompt":"a","chosen":"b"}', 'p.jsonl')).toThrow(/p.jsonl:1: "rejected" must be a string/);
  });
});
