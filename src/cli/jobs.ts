// How the CLI runs an Engine job: start it, follow its events, Ctrl-C once cancels it (the job then
// ends with its partial result, as in the app), a second Ctrl-C exits at once.
import type { EngineApi, JobEvent, JobKind, JobRequest, JobResult } from '../engine/api.ts';

/** The job's result; for a cancelled job its partial result (or an error when it has none). */
export async function runJob<K extends JobKind>(api: EngineApi, kind: K, request: JobRequest<K>, onEvent?: (e: JobEvent<K>) => void): Promise<JobResult<K>> {
  const job = api.start(kind, request);
  if (onEvent) job.on(onEvent);
  let interrupts = 0;
  const onSigint = () => {
    if (++interrupts > 1) process.exit(130);
    process.stderr.write(`\ncancelling ${kind} (Ctrl-C again to quit at once)…\n`);
    void job.cancel();
  };
  process.on('SIGINT', onSigint);
  try {
    const o = await job.outcome;
    if (o.status === 'done') return o.result;
    if (o.status === 'failed') throw new Error(o.error);
    if (o.result === null) throw new Error(`${kind} cancelled; nothing was written`);
    return o.result;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
