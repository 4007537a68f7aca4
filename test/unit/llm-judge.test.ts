// The LLM judge and mixed teacher pools (issue 12, items 5–6). The parsing, order-combining and κ
// are checked against hand-worked cases; the judging itself runs on real backends: a real `serve`
// with our export of a zoo model behind llama.cpp (a JSON-schema grammar), one of our engine's
// models (finite-choice constrained decoding) and the runtime's own /v1 as an OpenAI endpoint
// (response_format), all over the WebSocket the tab uses.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRuntime, type Runtime } from '../../src/runtime/server.ts';
import { LlamaTeachers } from '../../src/runtime/llamaTeachers.ts';
import { modelToGguf } from '../../src/model/ggufExport.ts';
import { wsClient } from './runtimeClient.ts';
import type { RemoteEngineApi } from '../../src/engine/protocol.ts';
import { loadFolder } from './oracle/llamacpp.ts';
import { ChoiceConstraint, finiteJsonChoices } from '../../src/model/constrained.ts';
import { cohenKappa, combineOrders, judgeMessages, type JudgeCall, parseVerdictLabel, rawJudgePrompt, swapLabel, VERDICT_LABELS, VERDICT_SCHEMA } from '../../src/eval/llmJudge.ts';
import { evalCsv } from '../../src/eval/headToHead.ts';
import { generationsJsonl } from '../../src/arbitrage/arbitrage.ts';

const VERDICT_TEXTS = VERDICT_LABELS.map((l) => JSON.stringify({ verdict: `[[${l}]]` }));
const call = (label: JudgeCall['label']): JudgeCall => ({ text: label ? `[[${label}]]` : 'no idea', label, seconds: 0, constrained: false });

describe('verdicts', () => {
  it('reads the last label, in either notation, and nothing from text without one', () => {
    expect(parseVerdictLabel('Maybe [[A>B]] at first, but my final verdict is: [[B>>A]]')).toBe('B>>A');
    expect(parseVerdictLabel('{"verdict":"[[A=B]]"}')).toBe('A=B');
    expect(parseVerdictLabel('[[ A < B ]]')).toBe('B>A');
    expect(parseVerdictLabel('[[A<<B]] then [[B<A]]')).toBe('A>B');
    expect(parseVerdictLabel('[[A>A]] [A>B] A>>B')).toBeNull();
    expect(parseVerdictLabel('')).toBeNull();
    for (const l of VERDICT_LABELS) expect(swapLabel(swapLabel(l))).toBe(l);
    expect(swapLabel('A>>B')).toBe('B>>A');
  });

  it('combines the two orders: agreement decides, disagreement or a missing label is a tie', () => {
    // B shown first and judged better ("A>B" about positions) = model B better.
    expect(combineOrders(call('B>A'), call('A>B'))).toMatchObject({ verdict: 'b', outcome: 'consistent' });
    expect(combineOrders(call('A>>B'), call('B>A'))).toMatchObject({ verdict: 'a', outcome: 'consistent' });
    expect(combineOrders(call('A=B'), call('A=B'))).toMatchObject({ verdict: 'tie', outcome: 'consistent' });
    // Always preferring the first position: the orders disagree.
    expect(combineOrders(call('A>B'), call('A>B'))).toMatchObject({ verdict: 'tie', outcome: 'inconsistent' });
    expect(combineOrders(call(null), call('A>B'))).toMatchObject({ verdict: 'tie', outcome: 'unparseable' });
  });

  it("Cohen's κ on a hand-worked table", () => {
    // 10 items: raters agree on 7; marginals x = (a 5, b 3, tie 2), y = (a 4, b 4, tie 2).
    const x = ['a', 'a', 'a', 'a', 'a', 'b', 'b', 'b', 'tie', 'tie'] as const;
    const y = ['a', 'a', 'a', 'b', 'tie', 'b', 'b', 'a', 'tie', 'b'] as const;
    const k = cohenKappa([...x], [...y]);
    const pe = 0.5 * 0.4 + 0.3 * 0.4 + 0.2 * 0.2;
    expect(k.agreement).toBeCloseTo(0.6, 12);
    expect(k.kappa).toBeCloseTo((0.6 - pe) / (1 - pe), 12);
    expect(cohenKappa(['a', 'a'], ['a', 'a']).kappa).toBeNull();
  });

  it('the prompt asks for the prompt language and names the labels', () => {
    const m = judgeMessages({ prompt: 'Что такое право?', language: 'rus', first: 'X', second: 'Y', constrained: false });
    expect(m.system).toMatch(/The prompt is in Russian\. An answer must be written in Russian/);
    expect(m.system).toContain('[[A>>B]]');
    expect(m.user).toMatch(/<\|The Start of Assistant A's Answer\|>\nX\n.*<\|The Start of Assistant B's Answer\|>\nY\n/s);
    expect(rawJudgePrompt(judgeMessages({ prompt: 'p', language: 'fra', first: 'a', second: 'b', constrained: true }), true)).toMatch(/\{"verdict": LABEL\}.*Verdict \(JSON\): $/s);
  });
});

describe('constrained decoding for our models', () => {
  it('expands finite schemas and refuses the others', () => {
    expect(finiteJsonChoices(VERDICT_SCHEMA)).toEqual(VERDICT_TEXTS);
    expect(finiteJsonChoices({ type: 'object', properties: { ok: { type: 'boolean' }, n: { enum: [1, 2] } }, required: ['ok', 'n'] })).toEqual(['{"ok":true,"n":1}', '{"ok":true,"n":2}', '{"ok":false,"n":1}', '{"ok":false,"n":2}']);
    expect(finiteJsonChoices({ type: 'string' })).toBeNull();
    expect(finiteJsonChoices({ type: 'object', properties: { a: { const: 1 } } })).toBeNull(); // optional field
  });

  it('masks every token that leaves the allowed texts, and <eos> until one is whole', () => {
    const texts = ['', 'y', 'ye', 's', 'no', 'n', 'o', 'x'];
    const c = new ChoiceConstraint(texts, 0, ['yes', 'no']);
    const row = new Float32Array(8);
    c.mask(row);
    expect([...row].map((v) => v !== -Infinity)).toEqual([false, true, true, false, true, true, false, false]);
    c.accept(2); // 'ye'
    row.fill(0);
    c.mask(row);
    expect([...row].map((v) => v !== -Infinity)).toEqual([false, false, false, true, false, false, false, false]);
    c.accept(3);
    expect(c.complete()).toBe(true);
  });
});

const dir = mkdtempSync(join(tmpdir(), 'aya-judge-'));
let runtime: Runtime;
let api: RemoteEngineApi;
const greedy = (maxNewTokens: number) => ({ temperature: 0, topK: 0, topP: 1, maxNewTokens, minNewTokens: 0, seed: 3 });
// Our zoo models have a 256-token context: too short for the judge's instructions, which is what
// a judge with a longer context is for. The constraint itself is tested on a short prompt.
const shortPrompt = 'Toute personne a droit au travail. Verdict (JSON): ';

beforeAll(async () => {
  const m = await loadFolder('public/models/teacher-romance', 'teacher-romance');
  writeFileSync(join(dir, 'romance.gguf'), modelToGguf(m.folder, m.tok, { dtype: 'f32', name: 'teacher-romance' }));
  // The judge: the same weights with a 2048-token context (RoPE has no position table, so the
  // model runs there; its verdicts mean nothing — this checks the mechanics, not the judgement).
  writeFileSync(join(dir, 'judge.gguf'), modelToGguf({ ...m.folder, config: { ...m.folder.config, maxPositionEmbeddings: 2048 } }, m.tok, { dtype: 'f32', name: 'judge' }));
  const teachers = await LlamaTeachers.open([join(dir, 'romance.gguf'), join(dir, 'judge.gguf')], { gpu: false });
  runtime = await startRuntime({ port: 0, roots: [mkdtempSync(join(tmpdir(), 'aya-lib-'))], zooDir: 'public/models', appDir: null, teachers: [teachers] });
  api = wsClient(runtime);
  // The runtime's own /v1 as an OpenAI-compatible endpoint of its engine.
  await api.connectEndpoint({ name: 'self', baseUrl: `http://127.0.0.1:${runtime.port}/v1`, apiKey: runtime.token });
}, 60_000);

afterAll(async () => {
  api?.connection.close();
  await runtime?.close();
});

describe('constrained replies on every backend', () => {
  for (const modelId of ['builtin:teacher-romance', 'gguf:romance', 'openai:self/builtin:teacher-romance', 'openai:self/gguf:romance']) {
    it(`${modelId} answers with one of the verdicts`, async () => {
      const r = await api.start('sample', { modelId, prompt: shortPrompt, lang: 'eng', sampling: greedy(32), jsonSchema: VERDICT_SCHEMA as unknown as Record<string, unknown> }).result();
      expect(r.constrained).toBe(true);
      // llama.cpp's JSON grammar allows whitespace; the value is what counts.
      expect(VERDICT_TEXTS).toContain(JSON.stringify(JSON.parse(r.text)));
      expect(parseVerdictLabel(r.text)).not.toBeNull();
    }, 60_000);
  }

  it('/v1 refuses an open schema for our models, with the reason', async () => {
    const res = await fetch(`http://127.0.0.1:${runtime.port}/v1/completions`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${runtime.token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ model: 'builtin:teacher-romance', prompt: 'x', response_format: { type: 'json_schema', json_schema: { name: 'r', schema: { type: 'string' } } } }),
    });
    expect(res.status).toBe(400);
    expect((await res.json()).error.message).toMatch(/finite set of JSON values/);
  });
});

describe('Evaluate with an LLM judge', () => {
  it('judges every comparison in both orders and reports consistency and κ against the Arbiter', async () => {
    const job = api.start('evaluate', {
      a: 'builtin:teacher-romance',
      b: 'gguf:romance',
      prompts: { source: { kind: 'udhr', split: 'heldout' }, languages: ['fra', 'spa'], perLanguage: 1 },
      samples: 1,
      seed: 5,
      sampling: { temperature: 0.8, topK: 40, topP: 0.95, maxNewTokens: 10, minNewTokens: 4 },
      bootstrap: 1000,
      judge: 'both',
      judgeModel: 'gguf:judge',
    });
    const r = await job.result();
    expect(r.names.b).toMatch(/^romance/); // the teacher's name, from its backend
    expect(r.judges?.map((j) => j.kind)).toEqual(['arbiter', 'llm']);
    expect(r.transcripts).toHaveLength(2);
    for (const t of r.transcripts) {
      expect(t.llm!.ab.constrained && t.llm!.ba.constrained).toBe(true);
      expect(t.llm!.ab.label).not.toBeNull();
      expect(t.llm!.ba.label).not.toBeNull();
      expect(['consistent', 'inconsistent']).toContain(t.llm!.outcome);
      expect(t.verdict).toBe(t.arbiterVerdict);
    }
    const s = r.llmJudge!;
    expect(s).toMatchObject({ id: 'gguf:judge', comparisons: 2, unparseable: 0, constrainedCalls: 4, failedCalls: 0 });
    expect(s.consistent + s.inconsistent).toBe(2);
    expect(s.positionConsistency).toBe(s.consistent / 2);
    const k = cohenKappa(r.transcripts.map((t) => t.llm!.verdict), r.transcripts.map((t) => t.arbiterVerdict!));
    expect(s.agreement).toBe(k.agreement);
    expect(s.kappa).toBe(k.kappa);
    const llmTable = r.judges![1];
    expect(llmTable.overall.n).toBe(2);
    expect(llmTable.overall.wins + llmTable.overall.ties + llmTable.overall.losses).toBe(2);
    expect(llmTable.overall.wins).toBe(r.transcripts.filter((t) => t.llm!.verdict === 'a').length);
    expect(evalCsv(r).trim().split('\n').filter((l) => l.startsWith('overall,'))).toHaveLength(2);
  }, 120_000);

  it("a judge that cannot be reached leaves every comparison a counted tie with the server's message", async () => {
    await api.connectEndpoint({ name: 'gone', baseUrl: `http://127.0.0.1:${runtime.port}/v1`, apiKey: runtime.token });
    const r = await api
      .start('evaluate', {
        a: 'builtin:teacher-romance',
        b: 'builtin:teacher-germanic-hellenic',
        prompts: { source: { kind: 'udhr', split: 'heldout' }, languages: ['fra'], perLanguage: 1 },
        samples: 1,
        seed: 5,
        sampling: { temperature: 0.8, topK: 40, topP: 0.95, maxNewTokens: 6, minNewTokens: 2 },
        bootstrap: 1000,
        judge: 'llm',
        judgeModel: 'openai:gone/no-such-model',
      })
      .result();
    expect(r.transcripts).toHaveLength(1);
    expect(r.transcripts[0].verdict).toBe('tie');
    expect(r.llmJudge).toMatchObject({ unparseable: 1, failedCalls: 2, firstError: expect.stringMatching(/404.*no-such-model/) });
    expect(r.judges?.map((j) => j.kind)).toEqual(['llm']);
    await api.disconnectEndpoint('gone');
  }, 60_000);
});

describe('Arbitrage with a mixed pool', () => {
  it('one GGUF teacher, one OpenAI endpoint and one of our models: every generation records its backend and cost', async () => {
    const teachers = ['gguf:romance', 'openai:self/builtin:teacher-slavic', 'builtin:teacher-germanic-hellenic', 'openai:self/no-such-model'];
    const r = await api
      .start('arbitrage', {
        teachers,
        prompts: { source: { kind: 'udhr', split: 'train' }, languages: ['fra', 'rus'], perLanguage: 1 },
        strategy: 'reward',
        samplesPerTeacher: 1,
        seed: 2,
        sampling: { temperature: 0.8, topK: 40, topP: 0.95, maxNewTokens: 8, minNewTokens: 4 },
      })
      .result();
    expect(r.outcomes).toHaveLength(2);
    expect(r.generations).toHaveLength(6);
    const backendOf = Object.fromEntries(r.generations.map((g) => [g.teacher, g.backend]));
    expect(backendOf).toEqual({ 'gguf:romance': 'llama.cpp', 'openai:self/builtin:teacher-slavic': 'openai', 'builtin:teacher-germanic-hellenic': 'engine' });
    for (const g of r.generations) {
      expect(g.tokens).toBeGreaterThanOrEqual(4);
      expect(g.tokens).toBeLessThanOrEqual(8);
      expect(g.seconds).toBeGreaterThan(0);
    }
    // The endpoint's missing model fails its completions; the run goes on with the others.
    expect(r.failures).toHaveLength(2);
    expect(r.failures![0]).toMatchObject({ teacher: 'openai:self/no-such-model', message: expect.stringMatching(/404/) });
    const cost = r.summary.cost!;
    expect(Object.keys(cost).sort()).toEqual(teachers.slice(0, 3).sort());
    expect(cost['gguf:romance']).toMatchObject({ backend: 'llama.cpp', completions: 2, tokens: r.generations.filter((g) => g.teacher === 'gguf:romance').reduce((s, g) => s + g.tokens!, 0) });
    const lines = generationsJsonl(r.generations).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.backend).sort()).toEqual(['engine', 'engine', 'llama.cpp', 'llama.cpp', 'openai', 'openai']);
  }, 120_000);
});
