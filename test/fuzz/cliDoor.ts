// The CLI's arguments as a door: `main(argv)` in this process (stdout and stderr captured), on
// commands whose accepted runs are short (the fuzz model, a step or a few tokens). Each case must
// exit 0, or 1/2 with a message that names the command and the option or path at fault; a failed
// command must leave no output behind.
import fc from 'fast-check';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';
import { writeModelDir } from '../../src/model/folder.node.ts';
import { CRASH_MESSAGE, type Door } from './harness.ts';
import { MERGE_YAMLS, tinyModel } from './fixtures.ts';
import YAML from 'yaml';

let dir = '';

/** Values an option may get: valid small ones, paths, and nonsense. */
function values(opt: string): fc.Arbitrary<string> {
  const nonsense = fc.constantFrom('', ' ', '-1', '0', '1e999', 'NaN', '0x10', ' 2', '١٢', '2.5', '9007199254740993', '--json', 'true', '../..', '/dev/null', '\u0000');
  const valid: Record<string, string[]> = {
    steps: ['1'],
    batch: ['1', '2'],
    seq: ['4', '8'],
    lr: ['0.001'],
    seed: ['1', '4294967295', '4294967296'],
    'max-new-tokens': ['1', '3'],
    'min-new-tokens': ['0', '1'],
    temperature: ['0', '0.7', '2'],
    'top-k': ['0', '5'],
    'top-p': ['0.9', '1', '1.5'],
    lang: ['fra', 'eng', 'xx', 'rus'],
    langs: ['fra', 'fra,eng', 'fra,,eng', 'zzz'],
    prompt: ['Bonjour', ''],
    text: ['Bonjour le monde', ''],
    ids: ['1,2,3', '1,,2', '-1', '99999'],
    size: ['tiny', 'huge'],
    format: ['gguf', 'onnx', 'zip'],
    dtype: ['f32', 'f16', 'q4'],
    'eval-every': ['0'],
    'checkpoint-every': ['0'],
    'max-shard-size': ['1KB', '2GB', 'lots'],
  };
  // $DIR stands for this run's folder (so a kept case replays anywhere); inputs are never outputs.
  const paths = fc.constantFrom('$DIR/tiny', '$DIR/missing', '$DIR/merge.yml', '$DIR/data.jsonl', '/proc/self/nonexistent');
  const out = fc.integer({ min: 0, max: 1e9 }).map((n) => `$DIR/out-${n}`);
  if (opt === 'out') return fc.oneof({ weight: 4, arbitrary: out }, { weight: 1, arbitrary: fc.constantFrom('$DIR/missing/deeper', '/proc/self/nonexistent', '') });
  if (opt === 'model' || opt === 'tokenizer' || opt === 'file' || opt === 'data' || opt === 'config') return fc.oneof({ weight: 3, arbitrary: paths }, { weight: 1, arbitrary: nonsense });
  return fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...(valid[opt] ?? ['1'])) }, { weight: 2, arbitrary: nonsense }, { weight: 1, arbitrary: fc.string({ maxLength: 6 }) });
}

const COMMANDS: Record<string, string[]> = {
  tokenize: ['tokenizer', 'text', 'file'],
  create: ['out', 'size', 'seed'],
  sample: ['model', 'lang', 'prompt', 'max-new-tokens', 'min-new-tokens', 'temperature', 'top-k', 'top-p', 'seed'],
  logprobs: ['model', 'text', 'ids', 'lang'],
  export: ['model', 'out', 'format', 'dtype'],
  train: ['model', 'out', 'langs', 'data', 'steps', 'batch', 'seq', 'lr', 'seed', 'eval-every', 'checkpoint-every'],
  merge: ['config', 'out', 'max-shard-size', 'seed'],
};
/** What keeps an accepted run short, unless the case sets it itself. */
const BOUNDS: Record<string, Record<string, string>> = {
  sample: { 'max-new-tokens': '2' },
  train: { steps: '1', 'eval-every': '0', 'checkpoint-every': '0' },
};
/** What a run needs to do anything: present half the time, so cases get past "required". */
const REQUIRED: Record<string, Record<string, string>> = {
  train: { batch: '1', seq: '4' },
};

const argv: fc.Arbitrary<string[]> = fc.constantFrom(...Object.keys(COMMANDS)).chain((cmd) =>
  fc
    .tuple(
      fc.uniqueArray(fc.constantFrom(...COMMANDS[cmd]), { maxLength: 6 }).chain((opts) => fc.tuple(...opts.map((o) => values(o).map((v) => [o, v] as const)))),
      fc.boolean(),
      fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom('--nope', '-x', '--json', 'extra', '--steps') }),
    )
    .map(([pairs, withRequired, odd]) => {
      const given = new Map<string, string>(pairs);
      // Without the required values the run is refused early; with them it may really run (briefly).
      for (const [k, v] of Object.entries({ ...BOUNDS[cmd], ...(withRequired ? REQUIRED[cmd] : {}) })) if (!given.has(k)) given.set(k, v);
      const args = [cmd, ...[...given].flatMap(([k, v]) => [`--${k}`, v])];
      if (odd) args.push(odd);
      return args;
    }),
);

/** Runs the CLI in-process, capturing what it writes. */
async function runCli(args: string[]): Promise<{ code: number; stderr: string }> {
  const write = { out: process.stdout.write, err: process.stderr.write };
  let stderr = '';
  process.stdout.write = (() => true) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  }) as typeof process.stderr.write;
  try {
    return { code: await main(args), stderr };
  } finally {
    process.stdout.write = write.out;
    process.stderr.write = write.err;
  }
}

export const cliArguments: Door<string[]> = {
  name: 'cli-arguments',
  what: "the CLI's arguments (tokenize, create, sample, logprobs, export, train, merge)",
  input: argv,
  enter: async (given) => {
    const args = given.map((a) => a.replaceAll('$DIR', dir));
    const out = args.includes('--out') ? args[args.indexOf('--out') + 1] : null;
    const fresh = out !== null && out.startsWith(`${dir}/out-`) && !existsSync(out);
    const { code, stderr } = await runCli(args);
    if (code === 0) return;
    if (code !== 1 && code !== 2) throw new TypeError(`exit code ${code}`);
    // Progress lines (\r-rewritten) may come first; the error is the command's own line.
    const lines = stderr.split(/[\r\n]+/).filter((l) => l.trim());
    const message = lines.find((l) => l.startsWith('aya-playground ')) ?? lines.at(-1) ?? '';
    if (CRASH_MESSAGE.test(stderr)) throw new TypeError(message);
    // A command that failed must not leave a half-written output folder.
    if (fresh && existsSync(out!)) throw new TypeError(`failed (exit ${code}) but left ${out} behind: ${message}`);
    throw new Error(message);
  },
  names: { file: /^aya-playground \w[\w-]*: /, place: /\w+\[\d+\]|--[a-z][a-z-]*|'[^']*'|"[^"]*"|\/|unknown command|config|model|tokenizer/ },
  timeoutMs: 60_000,
  setup: async () => {
    dir = mkdtempSync(join(tmpdir(), 'aya-fuzz-cli-'));
    const model = join(dir, 'tiny');
    await writeModelDir(model, tinyModel().files);
    const merge = YAML.parse(MERGE_YAMLS[0]);
    merge.models = merge.models.map((m: { model: string; parameters?: unknown }) => ({ ...m, model }));
    writeFileSync(join(dir, 'merge.yml'), YAML.stringify(merge));
    writeFileSync(join(dir, 'data.jsonl'), '{"prompt": "Bonjour", "completion": " le monde", "language": "fra"}\n');
  },
  teardown: async () => rmSync(dir, { recursive: true, force: true }),
};
