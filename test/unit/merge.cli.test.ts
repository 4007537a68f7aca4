// `aya-playground merge CONFIG.yml --out DIR` end to end: tiny models made by `create`, merged into
// an HF folder that the model loader reads and the CLI can score with.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readModelFolder } from '../../src/model/folder.ts';
import { readModelDir } from '../../src/model/folder.node.ts';
import { linearCpu } from '../../src/merge/methods.ts';
import { parseMergekitYaml } from '../../src/merge/yaml.ts';

const run = (...args: string[]): string => execFileSync('node', ['bin/aya-playground.js', ...args], { encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', 'pipe'] });

function fails(args: string[]): { status: number; stderr: string } {
  try {
    run(...args);
  } catch (e) {
    const err = e as { status: number; stderr: string };
    return { status: err.status, stderr: String(err.stderr) };
  }
  throw new Error(`expected 'aya-playground ${args.join(' ')}' to fail`);
}

describe('aya-playground merge', () => {
  const root = mkdtempSync(join(tmpdir(), 'aya-merge-cli-'));
  const a = join(root, 'a');
  const b = join(root, 'b');

  it('merges two created models (linear) into a folder the loader reads and the CLI scores with', async () => {
    run('create', '--out', a, '--size', 'tiny', '--seed', '1');
    run('create', '--out', b, '--size', 'tiny', '--seed', '2');
    const cfg = join(root, 'linear.yml');
    writeFileSync(cfg, `merge_method: linear\nmodels:\n  - model: ${a}\n    parameters: {weight: 0.3}\n  - model: ${b}\n    parameters: {weight: 0.7}\ndtype: float16\n`);
    const out = join(root, 'merged');
    const r = JSON.parse(run('merge', cfg, '--out', out, '--json'));
    expect(r.method).toBe('linear');
    expect(r.device).toBe('gpu');
    expect(r.files).toContain('mergekit_config.yml');

    const merged = readModelFolder(await readModelDir(out), out);
    const A = readModelFolder(await readModelDir(a), a);
    const B = readModelFolder(await readModelDir(b), b);
    const name = 'model.layers.1.self_attn.v_proj.weight';
    const expected = linearCpu([A.weights.get(name)!.data as Float32Array, B.weights.get(name)!.data as Float32Array], [0.3, 0.7], true);
    const got = merged.weights.get(name)!.data;
    let err = 0;
    for (let i = 0; i < got.length; i++) err = Math.max(err, Math.abs(got[i] - expected[i]));
    expect(err).toBeLessThan(1e-6);
    expect(merged.tokenizerJson).toEqual(A.tokenizerJson);
    expect(merged.playground!.trained).toBe(false); // both parents are random inits
    expect(parseMergekitYaml(readFileSync(join(out, 'mergekit_config.yml'), 'utf8')).config.models.map((m) => m.model)).toEqual([a, b]);

    const lp = JSON.parse(run('logprobs', '--model', out, '--ids', '1,8,300,301'));
    expect(lp.logprobs.slice(1).every((x: number) => x < 0)).toBe(true);
  });

  it('shards with --max-shard-size and accepts --config; dare_ties with a seed is reproducible', async () => {
    const cfg = join(root, 'dare.yml');
    writeFileSync(cfg, `merge_method: dare_ties\nbase_model: ${a}\nmodels:\n  - model: ${b}\n    parameters: {weight: 1, density: 0.5}\n`);
    const one = join(root, 'dare-1');
    const two = join(root, 'dare-2');
    run('merge', '--config', cfg, '--out', one, '--seed', '3', '--max-shard-size', '400KB');
    run('merge', cfg, '--out', two, '--seed', '3', '--cpu');
    const shards = readdirSync(one).filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f));
    expect(shards.length).toBeGreaterThan(1);
    const x = readModelFolder(await readModelDir(one), one);
    const y = readModelFolder(await readModelDir(two), two);
    for (const [name, t] of y.weights) {
      const g = x.weights.get(name)!.data;
      let num = 0;
      let den = 0;
      for (let i = 0; i < g.length; i++) {
        num += (g[i] - t.data[i]) ** 2;
        den += t.data[i] ** 2;
      }
      expect(Math.sqrt(num / den), name).toBeLessThan(1e-5); // GPU (sharded) vs CPU reference: same masks
    }
    expect(readFileSync(join(one, 'mergekit_config.yml'), 'utf8')).toContain('# aya-playground: {"seed":3}');
  });

  it('reports bad input clearly: a missing model, a missing --out, an unsupported method', () => {
    const cfg = join(root, 'bad.yml');
    writeFileSync(cfg, `merge_method: linear\nmodels:\n  - model: ${join(root, 'nope')}\n    parameters: {weight: 1}\n`);
    const missing = fails(['merge', cfg, '--out', join(root, 'x')]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/nope: no such model folder/);
    expect(fails(['merge', cfg]).status).toBe(2);
    writeFileSync(cfg, 'merge_method: della\nmodels: [{model: a}]\n');
    expect(fails(['merge', cfg, '--out', join(root, 'x')]).stderr).toMatch(/bad\.yml: merge_method 'della' is not supported/);
  });

  it('refuses out-of-range merge parameters before writing anything: the output folder stays as it was', () => {
    const out = join(root, 'untouched');
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'keep.txt'), 'mine');
    const cfg = join(root, 'dense.yml');
    writeFileSync(cfg, `merge_method: ties\nbase_model: ${a}\nmodels:\n  - model: ${b}\n    parameters: {weight: 1, density: 5}\n`);
    const r = fails(['merge', cfg, '--out', out]);
    expect(r.status).toBeGreaterThan(0);
    expect(r.stderr).toContain(`model '${b}': density = 5 is out of range; density must be in [0, 1]`);
    expect(readdirSync(out)).toEqual(['keep.txt']);
    writeFileSync(cfg, `merge_method: slerp\nbase_model: ${a}\nmodels:\n  - model: ${b}\nparameters:\n  t: [0, nope, 1]\n`);
    expect(fails(['merge', cfg, '--out', out]).stderr).toMatch(/t\[1\]: "nope" is not a number/);
    expect(readdirSync(out)).toEqual(['keep.txt']);
  });
});
