// `aya-playground <command>`: the Engine in Node (Dawn). JSON on stdout with --json.
// Every command goes through the same EngineApi as the app (src/engine/api.ts): plain calls, and jobs
// followed event by event (src/cli/jobs.ts).
import { checkOutputFolder, makeDirs, readTextFile } from '../util/fs.node.ts';
import { writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { Engine } from '../engine/engine.ts';
import type { EngineApi, TrainRequest } from '../engine/api.ts';
import { releaseNodeGpu } from '../gpu/node.ts';
import { UNIVERSAL_VOCAB_SIZE } from '../tokenizer/universal.ts';
import { LANGUAGE_CODES } from '../data/languages.ts';
import { type PairRecord, parsePairsJsonl } from '../train/data.ts';
import { runJob } from './jobs.ts';
import { withResumeHint } from './checkpointHint.ts';
import { SERVE_OPTIONS, SERVE_USAGE, runServeCommand } from './serveCommand.ts';
import { ARBITRAGE_OPTIONS, ARBITRAGE_USAGE, runArbitrageCommand } from './arbitrageCommands.ts';
import { MERGE_OPTIONS, MERGE_USAGE, runMergeCommand } from './mergeCommand.ts';
import { MERGE_SEARCH_OPTIONS, MERGE_SEARCH_USAGE, runMergeSearchCommand } from './mergeSearchCommand.ts';
import { int, need, num, UsageError, type Values } from './args.ts';
import { DPO_OPTIONS, DPO_USAGE, runDpoCommand } from './dpoCommand.ts';
import { DEFAULT_SAMPLING, type SamplingOptions } from '../model/sample.ts';
import { MODEL_PRESETS } from '../model/presets.ts';
import { GGUF_DTYPES, type GgufDtype } from '../model/ggufExport.ts';
import { ONNX_MODEL_FILE, ONNX_OPSET } from '../model/onnxExport.ts';
import { formatBench, formatCheck, formatInfo, formatKernels } from './format.ts';
import { nodePlatform } from './platform.ts';
import { ggufTeachers } from './teacherOptions.ts';

const USAGE = `usage: aya-playground <command> [options]        (--json: JSON on stdout)

  info                                       adapter, limits and versions
  check [--seed N]                           every WGSL op against its CPU reference
  bench [--sizes 256,512,1024] [--variants v4,v5] [--no-model-shapes] [--no-model] [--seconds S]
                                             FMA peak, matmul GFLOP/s (ratio to peak), model
                                             forward GFLOP/s, training and decoding tokens/s
  tune [--model DIR]                         times every matmul variant at a model's shapes (default:
                                             the zoo's), keeps the fastest exact one per row class for
                                             this adapter (a file the CLI and serve read)
  create --out DIR [--size ${MODEL_PRESETS.map((p) => p.id).join('|')}] [--seed N]
                                             a randomly initialised model folder (universal tokenizer)
  tokenize [--tokenizer MODEL_DIR] (--text "…" | --file F.jsonl)
                                             {"ids", "decoded"}; one {"text": …} per input line
  logprobs --model DIR (--text "…" [--lang xx] | --ids 1,2,3)
                                             log p(ids[i] | ids[<i]) with top-10 entropy and mass
  sample --model DIR --lang xx --prompt "…" [--max-new-tokens N] [--min-new-tokens 16]
         [--temperature T] [--top-k K] [--top-p P] [--seed S]
                                             a completion, streamed as it is generated
  train-tokenizer --out DIR [--vocab-size N] the universal byte-level BPE on the 23 languages
  export --format gguf --model DIR --out FILE.gguf [--dtype f32|f16]
                                             a llama.cpp GGUF (architecture command-r) and an
                                             Ollama Modelfile beside it
  export --format onnx --model DIR --out DIR  the transformers.js layout: onnx/model.onnx (a
                                             decoder with a KV cache) and its JSON files
  train --model DIR --out DIR [--langs fra,spa,… | --data pairs.jsonl] [--steps N] [--batch B]
        [--seq T] [--lr LR] [--seed S] [--eval-every N] [--checkpoint-every N]
                                             fine-tune (SFT) a model; one JSON metrics line per step
        | --resume DIR                       continue an interrupted run from its folder (checkpoints
                                             and cancelled runs keep their optimizer state): the
                                             result is bit-identical to a run that never stopped
  zoo [--out public/models] [--size tiny] [--teacher-steps N] [--student-steps N] [--batch B]
      [--seq T] [--seed S]                   train the family teachers and the base student
${ARBITRAGE_USAGE}${DPO_USAGE}${MERGE_USAGE}${MERGE_SEARCH_USAGE}${SERVE_USAGE}
  <command> --help                           that command's usage
`;

/** One command's part of the usage (its block, up to the next command's). */
export function commandUsage(command: string): string {
  const lines = USAGE.split('\n');
  const start = lines.findIndex((l) => l.startsWith(`  ${command} `) || l === `  ${command}`);
  if (start < 0) return USAGE;
  let end = start + 1;
  while (end < lines.length && /^ {3,}\S/.test(lines[end])) end++; // continuation lines are indented deeper
  return `usage: aya-playground ${lines.slice(start, end).map((l) => l.slice(2)).join('\n')}\n${command === 'serve' ? '' : '        (--json: JSON on stdout)\n'}`;
}


const COMMON: ParseArgsConfig['options'] = { json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } };

const OPTIONS: Record<string, ParseArgsConfig['options']> = {
  info: {},
  check: { seed: { type: 'string' } },
  bench: { sizes: { type: 'string' }, variants: { type: 'string' }, 'no-model-shapes': { type: 'boolean' }, 'no-model': { type: 'boolean' }, seconds: { type: 'string' } },
  tune: { model: { type: 'string' } },
  create: { out: { type: 'string' }, size: { type: 'string', default: 'tiny' }, seed: { type: 'string', default: '1' }, name: { type: 'string' } },
  tokenize: { tokenizer: { type: 'string' }, text: { type: 'string' }, file: { type: 'string' } },
  logprobs: { model: { type: 'string' }, text: { type: 'string' }, ids: { type: 'string' }, lang: { type: 'string' } },
  sample: {
    model: { type: 'string' },
    lang: { type: 'string' },
    prompt: { type: 'string' },
    'max-new-tokens': { type: 'string' },
    'min-new-tokens': { type: 'string' },
    temperature: { type: 'string' },
    'top-k': { type: 'string' },
    'top-p': { type: 'string' },
    seed: { type: 'string' },
  },
  'train-tokenizer': { out: { type: 'string' }, 'vocab-size': { type: 'string' } },
  export: { model: { type: 'string' }, out: { type: 'string' }, format: { type: 'string', default: 'gguf' }, dtype: { type: 'string', default: 'f32' } },
  train: {
    model: { type: 'string' },
    out: { type: 'string' },
    langs: { type: 'string' },
    data: { type: 'string' },
    steps: { type: 'string' },
    batch: { type: 'string' },
    seq: { type: 'string' },
    lr: { type: 'string' },
    seed: { type: 'string' },
    'eval-every': { type: 'string' },
    'checkpoint-every': { type: 'string' },
    resume: { type: 'string' },
  },
  zoo: {
    out: { type: 'string', default: 'public/models' },
    size: { type: 'string', default: 'tiny' },
    'teacher-steps': { type: 'string' },
    'student-steps': { type: 'string' },
    batch: { type: 'string' },
    seq: { type: 'string' },
    seed: { type: 'string' },
    'eval-examples': { type: 'string' },
  },
  ...ARBITRAGE_OPTIONS,
  ...DPO_OPTIONS,
  ...MERGE_OPTIONS,
  ...MERGE_SEARCH_OPTIONS,
  ...SERVE_OPTIONS,
};

/** Every command the CLI knows. */
export const COMMANDS = Object.keys(OPTIONS);

const out = (s: string) => process.stdout.write(s);
const json = (v: unknown) => out(`${JSON.stringify(v)}\n`);

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    out(USAGE);
    return command ? 0 : 2;
  }
  const options = OPTIONS[command];
  if (!options) {
    process.stderr.write(`aya-playground: unknown command '${command}'\n${USAGE}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    out(commandUsage(command));
    return 0;
  }
  let values: Values;
  try {
    // `merge CONFIG.yml` takes its config as the one positional argument (or --config).
    const parsed = parseArgs({ args: rest, options: { ...COMMON, ...options }, strict: true, allowPositionals: command === 'merge' });
    values = parsed.values as Values;
    if (parsed.positionals.length > 1) throw new Error(`expected one config file, got ${parsed.positionals.length}: ${parsed.positionals.join(' ')}`);
    if (parsed.positionals.length === 1) values = { ...values, config: parsed.positionals[0] };
  } catch (e) {
    process.stderr.write(`aya-playground ${command}: ${(e as Error).message}\n${commandUsage(command)}`);
    return 2;
  }
  const asJson = Boolean(values.json);
  if (command === 'serve') {
    try {
      return await runServeCommand(values);
    } catch (e) {
      process.stderr.write(`aya-playground serve: ${(e as Error).message}\n`);
      return e instanceof UsageError ? 2 : 1;
    }
  }
  let engine: Engine | null = null;
  try {
    // The commands that sample take teachers from elsewhere too (GGUF files through llama.cpp).
    const gguf = command === 'arbitrage' || command === 'eval' ? await ggufTeachers(values) : null;
    engine = new Engine(gguf ? { ...nodePlatform, teachers: [gguf] } : nodePlatform);
    return await run(engine, command, values, asJson);
  } catch (e) {
    process.stderr.write(`aya-playground ${command}: ${(e as Error).message}\n`);
    return e instanceof UsageError ? 2 : 1;
  } finally {
    engine?.dispose();
    releaseNodeGpu();
  }
}

async function run(engine: EngineApi, command: string, values: Values, asJson: boolean): Promise<number> {
  const handled = (await runArbitrageCommand(engine, command, values, asJson)) ?? (await runDpoCommand(engine, command, values, asJson)) ?? (await runMergeCommand(engine, command, values, asJson)) ?? (await runMergeSearchCommand(engine, command, values, asJson));
  if (handled !== null) return handled;
  switch (command) {
    case 'info': {
      const info = await engine.info();
      out(asJson ? `${JSON.stringify(info, null, 2)}\n` : formatInfo(info));
      return 0;
    }
    case 'check': {
      const seed = int(values, 'seed', Math.floor(Math.random() * 2 ** 31));
      const summary = await runJob(engine, 'checkOps', { seed }, ({ row, index, total }) => {
        if (!asJson) process.stderr.write(`\r${index + 1}/${total} ${row.op} ${row.shape}`.padEnd(70));
      });
      if (!asJson) process.stderr.write('\n');
      out(asJson ? `${JSON.stringify(summary, null, 2)}\n` : formatCheck(summary));
      return summary.failed === 0 ? 0 : 1;
    }
    case 'bench': {
      const sizes = typeof values.sizes === 'string' ? values.sizes.split(',').map((s) => int({ s }, 's')) : undefined;
      const variants = typeof values.variants === 'string' ? values.variants.split(',') : undefined;
      const report = await runJob(
        engine,
        'bench',
        { sizes, variants, modelShapes: !values['no-model-shapes'], model: !values['no-model'], secondsPerRow: values.seconds ? num(values, 'seconds', 0.4) : undefined },
        (p) => {
          if (!asJson) process.stderr.write(`\r[${Math.round(p.fraction * 100)}%] ${p.message}`.padEnd(80));
        },
      );
      if (!asJson) process.stderr.write('\n');
      const info = await engine.info();
      out(asJson ? `${JSON.stringify({ adapter: info.adapter, ...report }, null, 2)}\n` : formatBench(info, report));
      return 0;
    }
    case 'tune': {
      const k = await runJob(engine, 'tuneKernels', typeof values.model === 'string' ? { modelId: resolve(values.model) } : {}, (p) => {
        if (!asJson) process.stderr.write(`\r[${Math.round(p.fraction * 100)}%] measuring`.padEnd(40));
      });
      if (!asJson) process.stderr.write('\n');
      out(asJson ? `${JSON.stringify(k, null, 2)}\n` : formatKernels(k, (await engine.info()).matmul.choicesStored));
      return 0;
    }
    case 'create': {
      const dir = resolve(need(values, 'out'));
      const m = await engine.createModel({ name: basename(dir), preset: String(values.size), seed: int(values, 'seed'), outId: dir });
      const summary = { dir, size: values.size, seed: int(values, 'seed'), files: m.files, config: m.config };
      if (asJson) json(summary);
      else out(`wrote a randomly initialised '${values.size}' model to ${dir} (untrained: its samples are noise)\n`);
      return 0;
    }
    case 'tokenize': {
      const model = typeof values.tokenizer === 'string' ? resolve(values.tokenizer) : null;
      const one = async (text: string) => {
        const { ids, decoded } = await engine.tokenize(model, text);
        return { ids, decoded };
      };
      if (typeof values.text === 'string') json(await one(values.text));
      else if (typeof values.file === 'string') {
        const lines = (await readTextFile(values.file, '--file')).split('\n');
        for (const [i, line] of lines.entries()) {
          if (!line.trim()) continue;
          let rec: unknown;
          try {
            rec = JSON.parse(line);
          } catch {
            throw new Error(`${values.file}:${i + 1}: not valid JSON`);
          }
          const text = (rec as { text?: unknown })?.text;
          if (typeof text !== 'string') throw new Error(`${values.file}:${i + 1}: expected {"text": "..."}`);
          json(await one(text));
        }
      } else throw new UsageError('give --text or --file');
      return 0;
    }
    case 'logprobs': {
      const model = need(values, 'model');
      let input: { text: string; lang?: string } | { ids: number[] };
      if (typeof values.ids === 'string') {
        const ids = values.ids.split(',').map((s) => Number(s.trim()));
        if (ids.some((x) => !Number.isInteger(x) || x < 0)) throw new UsageError(`--ids: expected comma-separated token ids, got '${values.ids}'`);
        input = { ids };
      } else if (typeof values.text === 'string') input = { text: values.text, lang: values.lang as string | undefined };
      else throw new UsageError('give --text or --ids');
      json(await engine.logprobs(model, input));
      return 0;
    }
    case 'sample': {
      const opts: SamplingOptions = {
        maxNewTokens: int(values, 'max-new-tokens', DEFAULT_SAMPLING.maxNewTokens),
        minNewTokens: int(values, 'min-new-tokens', DEFAULT_SAMPLING.minNewTokens),
        temperature: num(values, 'temperature', DEFAULT_SAMPLING.temperature),
        topK: int(values, 'top-k', DEFAULT_SAMPLING.topK),
        topP: num(values, 'top-p', DEFAULT_SAMPLING.topP),
        seed: int(values, 'seed', DEFAULT_SAMPLING.seed),
      };
      const lang = need(values, 'lang');
      if (!LANGUAGE_CODES.includes(lang)) throw new UsageError(`--lang: unknown language '${lang}'; one of ${LANGUAGE_CODES.join(', ')}`);
      const prompt = need(values, 'prompt');
      if (!asJson) out(prompt);
      const r = await runJob(engine, 'sample', { modelId: need(values, 'model'), prompt, lang, sampling: opts }, (e) => {
        if (!asJson) out(e.delta);
      });
      if (asJson) {
        json({ prompt, language: lang, completion: r.text, ids: r.ids, prompt_ids: r.promptIds, stop_reason: r.stopReason, tokens_per_second: r.tokensPerSecond, ...opts });
      } else out(`\n[${r.ids.length} tokens, ${r.tokensPerSecond.toFixed(1)} tokens/s, stopped: ${r.stopReason}]\n`);
      return 0;
    }
    case 'export': {
      const model = resolve(need(values, 'model'));
      const target = resolve(need(values, 'out'));
      if (values.format === 'onnx') {
        // A folder in the transformers.js layout: onnx/model.onnx beside the JSON files.
        const files = await engine.exportModel(model, { format: 'onnx' });
        for (const [name, bytes] of files) {
          await makeDirs(dirname(join(target, name)));
          await writeFile(join(target, name), bytes);
        }
        const onnxBytes = files.get(ONNX_MODEL_FILE)!.byteLength;
        if (asJson) json({ out: target, files: [...files.keys()], onnx_bytes: onnxBytes });
        else out(`wrote ${target}/ (${[...files.keys()].join(', ')}; model.onnx ${(onnxBytes / 2 ** 20).toFixed(2)} MiB, opset ${ONNX_OPSET}, the transformers.js decoder layout with a KV cache)\n`);
        return 0;
      }
      if (values.format !== 'gguf') throw new UsageError(`--format: '${values.format}' is not an export format; the ones there are: gguf, onnx (a model folder is already the safetensors format)`);
      const outFile = target;
      const dtype = String(values.dtype);
      if (!GGUF_DTYPES.includes(dtype as GgufDtype)) throw new UsageError(`--dtype: expected one of ${GGUF_DTYPES.join(', ')}, got '${dtype}'`);
      const files = await engine.exportModel(model, { format: 'gguf', dtype: dtype as GgufDtype, fileName: basename(outFile) });
      await makeDirs(dirname(outFile));
      const gguf = files.get(basename(outFile))!;
      await writeFile(outFile, gguf);
      const modelfile = join(dirname(outFile), 'Modelfile');
      await writeFile(modelfile, files.get('Modelfile')!);
      if (asJson) json({ out: outFile, bytes: gguf.byteLength, dtype, modelfile });
      else out(`wrote ${outFile} (${(gguf.byteLength / 2 ** 20).toFixed(2)} MiB, ${dtype.toUpperCase()}, llama.cpp architecture command-r) and ${modelfile}\n`);
      return 0;
    }
    case 'train-tokenizer': {
      const dir = resolve(need(values, 'out'));
      const r = await runJob(engine, 'trainTokenizer', { vocabSize: int(values, 'vocab-size', UNIVERSAL_VOCAB_SIZE) });
      await makeDirs(dir);
      for (const [name, bytes] of r.files) await writeFile(join(dir, name), bytes);
      const summary = { dir, vocab_size: r.vocabSize, merges: r.merges, seconds: r.seconds };
      if (asJson) json(summary);
      else out(`trained a ${r.vocabSize}-token tokenizer (${r.merges} merges) in ${r.seconds.toFixed(1)} s → ${dir}\n`);
      return 0;
    }
    case 'zoo': {
      const manifest = await runJob(
        engine,
        'zoo',
        {
          out: resolve(String(values.out)),
          size: String(values.size),
          teacherSteps: int(values, 'teacher-steps', 400),
          studentSteps: int(values, 'student-steps', 200),
          batchSize: int(values, 'batch', 8),
          seqLen: int(values, 'seq', 64),
          seed: int(values, 'seed', 1),
          evalExamples: int(values, 'eval-examples', 16),
        },
        (e) => {
          if (!asJson) process.stderr.write(`${e.line}\n`);
        },
      );
      if (asJson) json(manifest);
      return 0;
    }
    case 'train': {
      if (typeof values.resume === 'string') {
        // The interrupted run's folder holds its request: nothing else may be given.
        const others = Object.keys(TRAIN_RUN_OPTIONS).filter((k) => values[k] !== undefined);
        if (others.length) throw new UsageError(`--resume continues a saved run with its own settings; drop ${others.map((k) => `--${k}`).join(', ')}`);
        const dest = resolve(values.resume);
        await checkOutputFolder(dest, '--resume');
        return trainCommand(engine, { resumeFrom: dest } as TrainRequest, dest, asJson);
      }
      const src = resolve(need(values, 'model'));
      const dest = resolve(need(values, 'out'));
      await checkOutputFolder(dest);
      let pairs: PairRecord[] | undefined;
      let langs: string[];
      if (typeof values.data === 'string') {
        pairs = parsePairsJsonl(await readTextFile(values.data, '--data'), values.data);
        langs = [...new Set(pairs.map((p) => p.language))];
      } else {
        langs = typeof values.langs === 'string' ? values.langs.split(',').map((l) => l.trim()) : [...LANGUAGE_CODES];
        for (const l of langs) if (!LANGUAGE_CODES.includes(l)) throw new UsageError(`--langs: unknown language '${l}'`);
      }
      const steps = int(values, 'steps', 100);
      return trainCommand(
        engine,
        {
          modelId: src,
          name: basename(dest),
          outId: dest,
          mix: langs.map((language) => ({ language, weight: 1 })),
          pairs,
          useCorpus: !pairs,
          steps,
          batchSize: int(values, 'batch', 8),
          seqLen: int(values, 'seq', 64),
          lr: num(values, 'lr', 3e-3),
          seed: int(values, 'seed', 1),
          evalEvery: int(values, 'eval-every', 0),
          checkpointEvery: int(values, 'checkpoint-every', 0),
        },
        dest,
        asJson,
      );
    }
  }
  return 2;
}

/** The options of a training run (which --resume takes from the saved run instead). */
const TRAIN_RUN_OPTIONS = Object.fromEntries(Object.entries(OPTIONS.train ?? {}).filter(([k]) => k !== 'resume'));

async function trainCommand(engine: EngineApi, req: TrainRequest, dest: string, asJson: boolean): Promise<number> {
  let steps = req.steps;
  const r = await runJob(engine, 'train', req, (e) => {
    if (asJson) json(e.type === 'checkpoint' ? { type: e.type, step: e.step, out: dest } : e);
    else if (e.type === 'step') {
      const p = e.point;
      steps ??= Math.round(p.step / e.fraction);
      process.stderr.write(`\rstep ${p.step}/${steps} loss ${p.loss.toFixed(4)} ${p.tokensPerSecond.toFixed(0)} tok/s, about ${Math.round(e.etaSeconds)} s left`.padEnd(80));
    } else if (e.type === 'eval') process.stderr.write(`\nheld-out loss at step ${e.point.step}: mean ${e.point.mean.toFixed(4)}\n`);
  }).catch((e: unknown) => {
    if (!asJson) process.stderr.write('\n');
    throw withResumeHint(e, 'train', [dest]);
  });
  if (asJson) json({ type: 'done', out: r.model ? dest : null, steps: r.steps, stopped: r.stopped, error: r.error ?? null, seconds: r.seconds });
  else process.stderr.write(`\n${r.stopped === 'done' ? 'trained' : `stopped (${r.stopped}${r.error ? `: ${r.error}` : ''})`} after ${r.steps} steps${r.model ? ` → ${dest}` : ''}${r.stopped === 'cancelled' ? ` (continue it with: aya-playground train --resume ${dest})` : ''}\n`);
  return r.stopped === 'non-finite' ? 1 : 0;
}
