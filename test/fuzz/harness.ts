// Runs a door on many inputs with fast-check (seeded, reproducible). Each case must end in
// acceptance or in an Error whose message names the file (or source) and the place in it; anything
// else — another kind of throw, a message that does not say where, a case over its time limit, an
// unhandled rejection while it ran — fails, is shrunk by fast-check, and can be kept as a fixture.
import fc from 'fast-check';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { decodeCase, encodeCase } from './mutate.ts';

export interface Door<I = unknown> {
  /** Short id: the fixture file prefix and the table's row. */
  name: string;
  /** What enters there, for the report. */
  what: string;
  /** Valid inputs mutated, and inputs made from scratch. */
  input: fc.Arbitrary<I>;
  /** Enters the door: returns on acceptance, throws the door's refusal. */
  enter(input: I): Promise<void> | void;
  /** A refusal must match both: the file or source it names, and the place (line, field, tensor, offset). */
  names: { file: RegExp; place: RegExp };
  /** A refusal of ours that quotes a library's own words (onnxruntime's protobuf reader, which
   *  cannot say where): its message is not read for signs of a crash, and the file is all the place
   *  it can name. The error must still be a plain Error of ours that names the file. */
  foreign?: RegExp;
  /** Per-case time limit (ms); default 5000. */
  timeoutMs?: number;
  /** Starts what the door needs (a server) and stops it. */
  setup?(): Promise<void>;
  teardown?(): Promise<void>;
}

export interface DoorResult {
  door: string;
  what: string;
  cases: number;
  accepted: number;
  refused: number;
  failures: number;
  seed: number;
  /** The shrunk failing case and why it failed, when there was one. */
  failure?: { reason: string; input: unknown };
  ms: number;
}

export class CaseFailure extends Error {}

/** Runs one case; resolves 'accepted' | 'refused', throws CaseFailure saying what went wrong. */
export async function runCase<I>(door: Door<I>, input: I): Promise<'accepted' | 'refused'> {
  const limit = door.timeoutMs ?? 5000;
  const stray: unknown[] = [];
  const onStray = (e: unknown) => stray.push(e);
  process.on('unhandledRejection', onStray);
  const started = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const outcome = await Promise.race([
      Promise.resolve()
        .then(() => door.enter(input))
        .then(
          () => 'accepted' as const,
          (e: unknown) => ({ error: e }),
        ),
      new Promise<'hang'>((resolve) => (timer = setTimeout(() => resolve('hang'), limit))),
    ]);
    // A synchronous door cannot be interrupted; one that ran past the limit is a hang all the same.
    const ms = performance.now() - started;
    if (outcome === 'hang' || ms > limit) throw new CaseFailure(`hang: no answer within ${limit} ms`);
    await new Promise((r) => setImmediate(r));
    if (stray.length) throw new CaseFailure(`unhandled rejection: ${describe(stray[0])}`);
    if (outcome === 'accepted') return 'accepted';
    const e = outcome.error;
    if (!(e instanceof Error)) throw new CaseFailure(`threw a non-Error: ${describe(e)}`);
    const foreign = e.constructor === Error && door.foreign?.test(e.message) === true;
    if (!foreign && isCrash(e)) throw new CaseFailure(`crashed: ${e.name}: ${e.message}\n${e.stack?.split('\n').slice(1, 4).join('\n')}`);
    if (!door.names.file.test(e.message)) throw new CaseFailure(`refusal does not name the file (${door.names.file}): ${e.message}`);
    // The place must be said besides the file's name (which alone would match many patterns).
    if (!foreign && !door.names.place.test(e.message.replace(door.names.file, ''))) throw new CaseFailure(`refusal does not say where (${door.names.place}): ${e.message}`);
    return 'refused';
  } finally {
    clearTimeout(timer);
    process.off('unhandledRejection', onStray);
  }
}

/** Errors of the engine are plain Errors with a message; these mean the code itself broke. */
function isCrash(e: Error): boolean {
  if (e instanceof TypeError || e instanceof RangeError || e instanceof ReferenceError) return true;
  if (e instanceof SyntaxError && !/JSON|YAML/i.test(e.message)) return true;
  return e.message.trim() === '' || CRASH_MESSAGE.test(e.message);
}

/** What a TypeError/RangeError says, found inside a message that wrapped it (the CLI prints only messages). */
export const CRASH_MESSAGE =
  /Cannot read prop|Cannot set prop|Cannot destructure|Cannot convert (object|undefined|null|a BigInt|a Symbol)|is not a function|is not a constructor|is not iterable|Cannot use 'in' operator|Maximum call stack|Invalid array length|Invalid typed array length|Invalid string length|before initialization|circular structure|Do not know how to serialize a BigInt|Cannot mix BigInt/;

function describe(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** Fuzzes a door for `cases` inputs from `seed`; a failure is shrunk and returned (and kept under `fixtures`). */
export async function fuzzDoor<I>(door: Door<I>, opts: { cases: number; seed: number; fixtures?: string }): Promise<DoorResult> {
  const started = performance.now();
  let accepted = 0;
  let refused = 0;
  await door.setup?.();
  try {
    const details = await fc.check(
      fc.asyncProperty(door.input, async (input) => {
        const r = await runCase(door, input);
        if (r === 'accepted') accepted++;
        else refused++;
      }),
      { numRuns: opts.cases, seed: opts.seed, endOnFailure: false, markInterruptAsFailure: true },
    );
    const result: DoorResult = { door: door.name, what: door.what, cases: details.numRuns, accepted, refused, failures: details.failed ? 1 : 0, seed: opts.seed, ms: Math.round(performance.now() - started) };
    if (details.failed && details.counterexample) {
      const input = details.counterexample[0];
      const reason = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
      result.failure = { reason, input };
      if (opts.fixtures) keepFixture(opts.fixtures, door.name, input, reason);
    }
    return result;
  } finally {
    await door.teardown?.();
  }
}

/** A shrunk failing case, kept: test/fuzz/regressions/<door>-<hash>.json. */
export function keepFixture(dir: string, door: string, input: unknown, reason: string): string {
  mkdirSync(dir, { recursive: true });
  const body = encodeCase({ door, reason, input });
  const file = join(dir, `${door}-${createHash('sha256').update(encodeCase(input)).digest('hex').slice(0, 12)}.json`);
  writeFileSync(file, body + '\n');
  return file;
}

/** Every kept fixture of a door. */
export function fixtures(dir: string, door: string): Array<{ file: string; reason: string; input: unknown; expect?: 'accepted' | 'refused' }> {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.startsWith(`${door}-`) && n.endsWith('.json'))
    .sort()
    .map((n) => {
      const c = decodeCase(readFileSync(join(dir, n), 'utf8')) as { reason: string; input: unknown; expect?: 'accepted' | 'refused' };
      return { file: n, reason: c.reason, input: c.input, expect: c.expect };
    });
}
