// CLI `merge`: a mergekit YAML over model folders → a merged model folder, streamed tensor by tensor
// (src/merge/merge.node.ts), on the Engine's GPU (or the CPU reference with --cpu).
import { checkOutputFolder } from '../util/fs.node.ts';
import { readFile } from 'node:fs/promises';
import type { ParseArgsConfig } from 'node:util';
import { basename, resolve } from 'node:path';
import type { EngineApi } from '../engine/api.ts';
import { parseByteSize } from '../merge/merge.node.ts';
import { parseMergekitYaml } from '../merge/yaml.ts';
import { int, need, UsageError, type Values } from './args.ts';
import { runJob } from './jobs.ts';

export const MERGE_USAGE = `  merge CONFIG.yml --out DIR [--max-shard-size 2GB] [--seed N] [--cpu]
                                             merge model folders with a mergekit config (linear,
                                             task_arithmetic, slerp, ties, dare_linear, dare_ties,
                                             breadcrumbs[_ties], model_stock); writes weights,
                                             config, tokenizer, mergekit_config.yml, playground.json
`;

export const MERGE_OPTIONS: Record<string, ParseArgsConfig['options']> = {
  merge: { config: { type: 'string' }, out: { type: 'string' }, 'max-shard-size': { type: 'string' }, seed: { type: 'string' }, cpu: { type: 'boolean' } },
};

/** Runs `merge`; null for any other command. */
export async function runMergeCommand(engine: EngineApi, command: string, values: Values, asJson: boolean): Promise<number | null> {
  if (command !== 'merge') return null;
  const configPath = need(values, 'config');
  const outDir = need(values, 'out');
  await checkOutputFolder(outDir);
  let text: string;
  try {
    text = await readFile(configPath, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${configPath}: ${(e as Error).message}`);
  }
  const { config, warnings } = parseMergekitYaml(text, configPath);
  if (values.seed !== undefined) config.seed = int(values, 'seed');
  let maxShardBytes: number | undefined;
  if (typeof values['max-shard-size'] === 'string') {
    try {
      maxShardBytes = parseByteSize(values['max-shard-size']);
    } catch (e) {
      throw new UsageError(`--max-shard-size: ${(e as Error).message}`);
    }
  }
  for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
  const r = await runJob(engine, 'merge', { config, name: basename(resolve(outDir)), outId: outDir, maxShardBytes, cpu: Boolean(values.cpu) }, (p) => {
    if (!asJson) process.stderr.write(`\r[${Math.round(p.fraction * 100)}%] ${p.index}/${p.total} ${p.tensor}`.padEnd(80));
  }).catch((e: unknown) => {
    if (!asJson) process.stderr.write('\n'); // the error on a line of its own, not after the progress
    throw e;
  });
  if (!asJson) process.stderr.write('\n');
  for (const w of r.warnings) if (!warnings.includes(w)) process.stderr.write(`warning: ${w}\n`);
  const out = resolve(outDir);
  if (asJson) process.stdout.write(`${JSON.stringify({ out, method: config.method, files: r.model.files, tensors: r.tensors, parameters: r.parameters, seconds: r.seconds, device: r.device, warnings: r.warnings })}\n`);
  else process.stdout.write(`merged ${r.tensors} tensors (${r.parameters} parameters, ${config.method}) in ${r.seconds.toFixed(1)} s → ${out}\n`);
  return 0;
}
