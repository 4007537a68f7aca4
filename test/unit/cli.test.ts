import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { COMMANDS, main } from '../../src/cli/main.ts';
import { onnx } from '../../src/model/onnxExport.ts';
import { readGgufHeader } from '../../src/model/gguf.ts';

const run = (...args: string[]): string => execFileSync('node', ['bin/aya-playground.js', ...args], { encoding: 'utf8', timeout: 120_000 });

describe('aya-playground CLI', () => {
  it('info --json prints the adapter, limits and versions', () => {
    const info = JSON.parse(run('info', '--json'));
    expect(info.adapter.runtime).toBe('node-dawn');
    expect(typeof info.adapter.vendor).toBe('string');
    expect(info.adapter.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
    expect(info.versions.app).toMatch(/^\d+\.\d+\.\d+/);
    expect(info.matmul.variants).toContain(info.matmul.default);
  });

  it('rejects an unknown command with usage and exit code 2', () => {
    expect(() => run('frobnicate')).toThrow(/unknown command 'frobnicate'/);
    try {
      run('frobnicate');
    } catch (e) {
      expect((e as { status: number }).status).toBe(2);
    }
  });

  it('--help on every command prints that command’s usage and exits 0', async () => {
    expect(COMMANDS.length).toBeGreaterThan(15);
    for (const command of COMMANDS) {
      let printed = '';
      const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((printed += String(chunk)), true));
      let code: number;
      try {
        code = await main([command, '--help']);
      } finally {
        spy.mockRestore();
      }
      expect(code, command).toBe(0);
      expect(printed, command).toMatch(new RegExp(`^usage: aya-playground ${command}( |\n)`));
      expect(printed.split('\n').length, command).toBeLessThan(20); // that command's part, not the whole list (over 80 lines)
    }
    // As a real process too, for the command the issue named.
    expect(run('arbitrage', '--help')).toMatch(/^usage: aya-playground arbitrage --teachers/);
  });

  it('refuses numeric options out of range with the option, the value and the range (exit 2)', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['train', '--model', 'm', '--out', 'o', '--steps=-5'], /--steps: -5 is out of range \(1 ≤ steps\)/],
      [['train', '--model', 'm', '--out', 'o', '--lr', '0'], /--lr: 0 is out of range \(0 < lr\)/],
      [['sample', '--model', 'm', '--lang', 'fra', '--prompt', 'x', '--top-p', '1.5'], /--top-p: 1.5 is out of range \(0 < top-p ≤ 1\)/],
      [['sample', '--model', 'm', '--lang', 'fra', '--prompt', 'x', '--min-new-tokens=-1'], /--min-new-tokens: -1 is out of range/],
      [['eval', '--a', 'x', '--b', 'y', '--out', 'r.json', '--bootstrap', '10'], /--bootstrap: 10 is out of range \(1000 ≤ bootstrap\)/],
      [['dpo', '--model', 'm', '--out', 'o', '--mode', 'online', '--k', '1'], /--k: 1 is out of range \(2 ≤ k\)/],
      [['serve', '--port', '70000'], /--port: 70000 is out of range \(0 ≤ port ≤ 65535\)/],
      [['train', '--model', 'm', '--out', 'o', '--batch', 'two'], /--batch: 'two' is not an integer/],
    ];
    for (const [args, message] of cases) {
      let err = '';
      const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((err += String(chunk)), true));
      let code: number;
      try {
        code = await main(args);
      } finally {
        spy.mockRestore();
      }
      expect(code, args.join(' ')).toBe(2);
      expect(err, args.join(' ')).toMatch(message);
    }
  });

  it('bench --json reports the peak and matmul rows with ratios (tiny sizes)', () => {
    const r = JSON.parse(run('bench', '--json', '--sizes', '32', '--variants', 'v1,v2', '--no-model-shapes', '--no-model', '--seconds', '0.01'));
    expect(r.peak.gflops).toBeGreaterThan(0);
    expect(r.matmul.length).toBe(2 * r.matmul.filter((x: { transB: boolean }) => !x.transB).length);
    for (const row of r.matmul) {
      expect(row.gflops).toBeGreaterThan(0);
      expect(row.ratio).toBeCloseTo(row.gflops / r.peak.gflops, 10);
    }
  });

  it('create → tokenize → logprobs → sample on a model folder the CLI wrote', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'aya-cli-')), 'tiny');
    const created = JSON.parse(run('create', '--out', dir, '--size', 'tiny', '--seed', '2', '--json'));
    expect(created.files).toContain('model.safetensors');

    const text = 'Tous les êtres humains naissent libres — 人人生而自由';
    const tok = JSON.parse(run('tokenize', '--tokenizer', dir, '--text', text));
    expect(tok.decoded).toBe(text);
    const jsonl = join(dir, 'in.jsonl');
    writeFileSync(jsonl, `${JSON.stringify({ text: 'a' })}\n${JSON.stringify({ text: 'שלום' })}\n`);
    const lines = run('tokenize', '--tokenizer', dir, '--file', jsonl).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.decoded)).toEqual(['a', 'שלום']);

    const lp = JSON.parse(run('logprobs', '--model', dir, '--ids', tok.ids.slice(0, 5).join(',')));
    expect(lp.ids).toEqual(tok.ids.slice(0, 5));
    expect(lp.logprobs[0]).toBeNull();
    expect(lp.logprobs.slice(1).every((x: number) => x < 0)).toBe(true);
    expect(lp.top10_entropy).toHaveLength(5);
    expect(lp.top10_mass[1]).toBeGreaterThan(0);

    const args = ['sample', '--model', dir, '--lang', 'fra', '--prompt', 'Tous les', '--max-new-tokens', '4', '--seed', '3', '--json'];
    const a = JSON.parse(run(...args));
    const b = JSON.parse(run(...args));
    expect(a.ids).toHaveLength(4);
    expect(b.completion).toBe(a.completion);
    expect(() => run('sample', '--model', dir, '--lang', 'xx', '--prompt', 'a')).toThrow(/unknown language 'xx'/);

    // export --format gguf: the file, and a Modelfile beside it naming it.
    const out = join(dir, 'gguf', 'tiny.f16.gguf');
    const r = JSON.parse(run('export', '--format', 'gguf', '--model', dir, '--out', out, '--dtype', 'f16', '--json'));
    expect(r).toMatchObject({ out, dtype: 'f16', modelfile: join(dir, 'gguf', 'Modelfile') });
    const bytes = readFileSync(out);
    expect(bytes.byteLength).toBe(r.bytes);
    expect(readGgufHeader(bytes, out).metadata.get('general.architecture')).toBe('command-r');
    expect(readFileSync(r.modelfile, 'utf8')).toContain('FROM ./tiny.f16.gguf\n');
    expect(() => run('export', '--model', dir, '--out', out, '--dtype', 'q4')).toThrow(/--dtype: expected one of f32, f16, got 'q4'/);
    expect(() => run('export', '--model', join(dir, 'missing'), '--out', out)).toThrow(/missing/);

    // export --format onnx: the transformers.js folder, its graph parsed back.
    const onnxDir = join(dir, 'onnx-export');
    const o = JSON.parse(run('export', '--format', 'onnx', '--model', dir, '--out', onnxDir, '--json'));
    expect(o.files.sort()).toEqual(['config.json', 'generation_config.json', 'onnx/model.onnx', 'tokenizer.json', 'tokenizer_config.json']);
    const graph = onnx.ModelProto.decode(readFileSync(join(onnxDir, 'onnx', 'model.onnx'))).graph!;
    expect(graph.input!.map((v) => v.name).slice(0, 3)).toEqual(['input_ids', 'attention_mask', 'position_ids']);
    expect(graph.output![0].name).toBe('logits');
    expect(JSON.parse(readFileSync(join(onnxDir, 'config.json'), 'utf8')).model_type).toBe('cohere');
    expect(() => run('export', '--format', 'tflite', '--model', dir, '--out', onnxDir)).toThrow(/the ones there are: gguf, onnx/);
  });
});
