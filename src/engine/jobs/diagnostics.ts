// Jobs on the device itself: every op against its CPU reference, and the benchmarks.
import { runOpChecks } from '../../ops/checks.ts';
import { runBench, type BenchOptions, type BenchProgress, type BenchReport } from '../../bench/bench.ts';
import { type CheckEvent, type CheckRequest, type CheckSummary, JobCancelled } from '../api.ts';
import type { EngineCore } from '../core.ts';
import type { JobControl } from '../jobRegistry.ts';

/** Rows stream as events; a cancel returns the rows so far. */
export async function checkOps(core: EngineCore, req: CheckRequest, ctl: JobControl<CheckEvent>): Promise<CheckSummary> {
  const seed = Number(req?.seed);
  if (!Number.isInteger(seed)) throw new Error(`check: the seed must be an integer, got ${String(req?.seed)}`);
  const c = await core.device.context();
  const results = await runOpChecks(c, seed, (row, index, total) => ctl.emit({ row, index, total }), ctl.shouldStop);
  const passed = results.filter((r) => r.pass).length;
  return { results, passed, failed: results.length - passed, cancelled: ctl.shouldStop(), seed };
}

/** A bench cut short measures nothing worth keeping: a cancel ends it with no result. */
export async function bench(core: EngineCore, opts: BenchOptions, ctl: JobControl<BenchProgress>): Promise<BenchReport> {
  const c = await core.device.context();
  const report = await runBench(c, opts ?? {}, (p) => ctl.emit(p), ctl.shouldStop);
  if (ctl.shouldStop()) throw new JobCancelled(ctl.id);
  return report;
}
