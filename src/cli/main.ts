// `aya-playground <command>`: the Engine in Node (Dawn). JSON on stdout with --json.
import { parseArgs } from 'node:util';
import { Engine } from '../engine/engine.ts';
import { createNodeContext, releaseNodeGpu } from '../gpu/node.ts';
import type { BenchReport } from '../bench/bench.ts';
import { formatBench, formatCheck, formatInfo } from './format.ts';

const USAGE = `usage: aya-playground <command> [options]

commands:
  info    [--json]                       adapter, limits and versions
  check   [--json] [--seed N]            every WGSL op against its CPU reference
  bench   [--json] [--sizes 256,512,1024] [--variants v1,v2] [--no-model-shapes] [--seconds S]
                                         FMA peak and matmul GFLOP/s (ratio to peak)
`;

function webgpuVersion(): string {
  return `node ${process.versions.node}, webgpu (Dawn)`;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE);
    return command ? 0 : 2;
  }
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        json: { type: 'boolean', default: false },
        seed: { type: 'string' },
        sizes: { type: 'string' },
        variants: { type: 'string' },
        'no-model-shapes': { type: 'boolean', default: false },
        seconds: { type: 'string' },
      },
      strict: true,
    }));
  } catch (e) {
    process.stderr.write(`aya-playground ${command}: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const json = Boolean(values.json);
  const engine = new Engine(createNodeContext, webgpuVersion());
  try {
    switch (command) {
      case 'info': {
        const info = await engine.info();
        process.stdout.write(json ? `${JSON.stringify(info, null, 2)}\n` : formatInfo(info));
        return 0;
      }
      case 'check': {
        const seed = values.seed !== undefined ? parseInteger('seed', String(values.seed)) : Math.floor(Math.random() * 2 ** 31);
        const summary = await engine.checkOps('cli', seed, (row, i, total) => {
          if (!json) process.stderr.write(`\r${i + 1}/${total} ${row.op} ${row.shape}`.padEnd(70));
        });
        if (!json) process.stderr.write('\n');
        process.stdout.write(json ? `${JSON.stringify(summary, null, 2)}\n` : formatCheck(summary));
        return summary.failed === 0 ? 0 : 1;
      }
      case 'bench': {
        const sizes = values.sizes ? String(values.sizes).split(',').map((s) => parseInteger('sizes', s)) : undefined;
        const variants = values.variants ? String(values.variants).split(',') : undefined;
        const secondsPerRow = values.seconds ? Number(values.seconds) : undefined;
        const report: BenchReport = await engine.bench('cli', { sizes, variants, modelShapes: !values['no-model-shapes'], secondsPerRow }, (p) => {
          if (!json) process.stderr.write(`\r[${Math.round(p.fraction * 100)}%] ${p.message}`.padEnd(80));
        });
        if (!json) process.stderr.write('\n');
        const info = await engine.info();
        process.stdout.write(json ? `${JSON.stringify({ adapter: info.adapter, ...report }, null, 2)}\n` : formatBench(info, report));
        return 0;
      }
      default:
        process.stderr.write(`aya-playground: unknown command '${command}'\n${USAGE}`);
        return 2;
    }
  } catch (e) {
    process.stderr.write(`aya-playground ${command}: ${(e as Error).message}\n`);
    return 1;
  } finally {
    engine.dispose();
    releaseNodeGpu();
  }
}

function parseInteger(name: string, s: string): number {
  const n = Number(s);
  if (!Number.isInteger(n)) throw new Error(`--${name}: '${s}' is not an integer`);
  return n;
}
