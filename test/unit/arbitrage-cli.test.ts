import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parsePairsJsonl } from '../../src/train/data.ts';
import { parsePreferenceJsonl } from '../../src/arbitrage/arbitrage.ts';

const run = (...args: string[]): string => execFileSync('node', ['bin/aya-playground.js', ...args], { encoding: 'utf8', timeout: 240_000 });

describe('aya-playground arbitrage / eval on the shipped zoo', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aya-arb-'));

  it('arbitrage --strategy reward writes every generation, the SFT set and the preference set as TRL JSONL', () => {
    const r = JSON.parse(run('arbitrage', '--zoo', 'public/models', '--strategy', 'reward', '--langs', 'fra,rus', '--per-language', '1', '--max-new-tokens', '8', '--out', join(dir, 'reward'), '--json'));
    expect(r.summary.prompts).toBe(2);
    expect(r.summary.completions).toBe(10); // 5 teachers × 2 prompts
    const gens = readFileSync(join(dir, 'reward', 'generations.jsonl'), 'utf8').trim().split('\n');
    expect(gens).toHaveLength(10);
    const sft = parsePairsJsonl(readFileSync(join(dir, 'reward', 'sft.jsonl'), 'utf8'));
    expect(sft.map((p) => p.language)).toEqual(['fra', 'rus']);
    const prefs = readFileSync(join(dir, 'reward', 'preferences.jsonl'), 'utf8');
    for (const l of prefs.trim().split('\n').filter(Boolean).map((x) => JSON.parse(x))) {
      expect(Object.keys(l).slice(0, 3)).toEqual(['prompt', 'chosen', 'rejected']);
      expect(l.chosen_reward).toBeGreaterThan(l.rejected_reward);
    }
    parsePreferenceJsonl(prefs);
    // The learned router learns from that run.
    const learned = JSON.parse(run('arbitrage', '--zoo', 'public/models', '--strategy', 'learned', '--router-data', join(dir, 'reward', 'generations.jsonl'), '--langs', 'fra,rus', '--per-language', '1', '--max-new-tokens', '8', '--out', join(dir, 'learned'), '--json'));
    expect(learned.summary.completions).toBe(2);
    expect(learned.summary.routerAccuracy).toBeGreaterThanOrEqual(0);
  });

  it('eval writes a JSON report and CSV; a model against itself ties everywhere', () => {
    const out = join(dir, 'self.json');
    const m = 'public/models/teacher-romance';
    const r = JSON.parse(run('eval', '--a', m, '--b', m, '--langs', 'fra,ita', '--per-language', '2', '--max-new-tokens', '6', '--bootstrap', '1000', '--out', out, '--json'));
    expect(r.overall).toMatchObject({ n: 4, wins: 0, ties: 4, losses: 0, winRate: 0.5, ciBootstrap: [0.5, 0.5], verdict: 'too-few' });
    // 4 prompts cannot pin a win-rate down, even when all tie: the reported interval says so.
    expect(r.overall.ci[0]).toBeLessThan(0.3);
    expect(r.overall.ci[1]).toBeGreaterThan(0.7);
    const csv = readFileSync(join(dir, 'self.csv'), 'utf8').trim().split('\n');
    expect(csv).toHaveLength(4); // header, fra, ita, overall
    const report = JSON.parse(readFileSync(out, 'utf8'));
    expect(report.transcripts).toHaveLength(4);
    expect(report.transcripts[0].a.completion).toBe(report.transcripts[0].b.completion);
  });

  it('eval --judge both with a GGUF judge, and arbitrage with a GGUF teacher in the pool (llama.cpp)', () => {
    const m = 'public/models/teacher-romance';
    const gguf = join(dir, 'gguf');
    run('export', '--format', 'gguf', '--model', m, '--out', join(gguf, 'romance.gguf'));
    const out = join(dir, 'judged.json');
    // teacher-romance's 256-token context cannot hold the judge's instructions: the judge's
    // replies fail, each a counted tie that says why, and the Arbiter's table stands.
    const r = JSON.parse(run('eval', '--a', m, '--b', 'gguf:romance', '--gguf', join(gguf, 'romance.gguf'), '--judge', 'both', '--judge-model', 'gguf:romance', '--langs', 'fra', '--per-language', '1', '--max-new-tokens', '6', '--bootstrap', '1000', '--out', out, '--json'));
    expect(r.judges.map((j: { kind: string }) => j.kind)).toEqual(['arbiter', 'llm']);
    expect(r.llmJudge).toMatchObject({ comparisons: 1, unparseable: 1, failedCalls: 2 });
    expect(r.llmJudge.firstError).toMatch(/context/);
    expect(readFileSync(out.replace(/json$/, 'csv'), 'utf8').trim().split('\n')).toHaveLength(5); // header, fra + overall per judge
    const arb = JSON.parse(run('arbitrage', '--teachers', `gguf:romance,${m}`, '--gguf', gguf, '--langs', 'fra', '--per-language', '1', '--max-new-tokens', '6', '--out', join(dir, 'mixed'), '--json'));
    expect(Object.values(arb.summary.cost).map((c) => (c as { backend: string }).backend).sort()).toEqual(['engine', 'llama.cpp']);
    const gens = readFileSync(join(dir, 'mixed', 'generations.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(gens.map((g) => g.backend).sort()).toEqual(['engine', 'llama.cpp']);
    expect(() => run('eval', '--a', m, '--b', m, '--judge', 'llm', '--out', out)).toThrow(/--judge llm needs --judge-model/);
  });

  it('rejects a malformed prompt file, naming the line', () => {
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, '{"prompt":"Bonjour","language":"fra"}\n{"prompt":"x","language":"klingon"}\n');
    expect(() => run('eval', '--a', 'public/models/teacher-romance', '--b', 'public/models/teacher-slavic', '--prompts', bad, '--out', join(dir, 'x.json'))).toThrow(/bad.jsonl:2: unknown language 'klingon'/);
  });
});

describe('aya-playground dpo', () => {
  it('runs offline DPO from a zoo model on TRL preference JSONL, logs TRL-named metrics and saves the stage model', () => {
    const dir = mkdtempSync(join(tmpdir(), 'aya-dpo-'));
    const data = join(dir, 'prefs.jsonl');
    writeFileSync(data, '{"prompt":"Toute personne a droit","chosen":" à la liberté.","rejected":" zz qq.","language":"fra"}\n{"prompt":"Все люди","chosen":" рождаются свободными.","rejected":" xx yy.","language":"rus"}\n');
    const lines = run('dpo', '--model', 'public/models/base-student', '--data', data, '--steps', '2', '--batch', '2', '--seq', '32', '--langs', 'fra,rus', '--eval-per-language', '1', '--max-new-tokens', '6', '--out', join(dir, 'out'), '--json')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const steps = lines.filter((l) => l.type === 'step');
    expect(steps).toHaveLength(2);
    for (const k of ['loss', 'rewards/chosen', 'rewards/rejected', 'rewards/margins', 'rewards/accuracies', 'logps/chosen', 'logps/rejected', 'grad_norm', 'learning_rate']) expect(typeof steps[1].point[k]).toBe('number');
    expect(steps[0].point['rewards/margins']).toBeCloseTo(0, 4); // policy = reference at step 1
    const evals = lines.filter((l) => l.type === 'eval');
    expect(evals.length).toBe(2); // before and after
    for (const k of ['kl', 'top10Entropy', 'top10Mass', 'meanReward']) expect(Number.isFinite(evals[1].point[k])).toBe(true);
    const done = lines.at(-1);
    expect(done).toMatchObject({ type: 'done', stopped: 'done' });
    expect(done.models[0].id).toBe(join(dir, 'out', 'offline'));
    expect(JSON.parse(readFileSync(join(dir, 'out', 'offline', 'playground.json'), 'utf8')).preference).toMatchObject({ mode: 'offline', loss: 'sigmoid', stage: 'offline', steps: 2 });
  });
});
