// Option values shared by the CLI's commands: required/int/number parsing with usage errors, and one
// table of the range every numeric option must lie in (the same name means the same thing in every
// command), so a nonsense value is refused at the door with the option, the value and the range.

export type Values = Record<string, string | boolean | undefined>;

/** A mistake in how the command was called (exit code 2). */
export class UsageError extends Error {}

interface Range {
  min?: number;
  /** min is exclusive (lr > 0). */
  above?: boolean;
  max?: number;
}

export const OPTION_RANGES: Record<string, Range> = {
  steps: { min: 1 },
  'online-steps': { min: 1 },
  'teacher-steps': { min: 1 },
  'student-steps': { min: 1 },
  batch: { min: 1 },
  seq: { min: 2 },
  lr: { min: 0, above: true },
  beta: { min: 0, above: true },
  'eval-every': { min: 0 },
  'checkpoint-every': { min: 0 },
  'eval-examples': { min: 1 },
  'eval-per-language': { min: 0 },
  'per-language': { min: 1 },
  'heldout-per-language': { min: 1 },
  samples: { min: 1 },
  'eval-samples': { min: 1 },
  bootstrap: { min: 1000 },
  iterations: { min: 1 },
  k: { min: 2 },
  'max-new-tokens': { min: 1 },
  'min-new-tokens': { min: 0 },
  temperature: { min: 0 },
  'top-k': { min: 0 },
  'top-p': { min: 0, above: true, max: 1 },
  seed: { min: 0, max: 2 ** 32 - 1 },
  port: { min: 0, max: 65535 },
  'max-message-mb': { min: 1 },
  budget: { min: 1 },
  population: { min: 2 },
  resolution: { min: 1 },
  seconds: { min: 0, above: true },
};

function inRange(name: string, n: number): void {
  const r = OPTION_RANGES[name];
  if (!r) return;
  const low = r.min !== undefined && (r.above ? n <= r.min : n < r.min);
  const high = r.max !== undefined && n > r.max;
  if (!low && !high) return;
  const lo = r.min === undefined ? '' : `${r.min} ${r.above ? '<' : '≤'} `;
  const hi = r.max === undefined ? '' : ` ≤ ${r.max}`;
  throw new UsageError(`--${name}: ${n} is out of range (${lo}${name}${hi})`);
}

export function need(values: Values, name: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v === '') throw new UsageError(`--${name} is required`);
  return v;
}

export function int(values: Values, name: string, dflt?: number): number {
  const v = values[name];
  if (v === undefined) {
    if (dflt === undefined) throw new UsageError(`--${name} is required`);
    return dflt;
  }
  const n = Number(v);
  if (v === '' || !Number.isInteger(n)) throw new UsageError(`--${name}: '${v}' is not an integer`);
  inRange(name, n);
  return n;
}

export function num(values: Values, name: string, dflt: number): number {
  const v = values[name];
  if (v === undefined) return dflt;
  const n = Number(v);
  if (v === '' || !Number.isFinite(n)) throw new UsageError(`--${name}: '${v}' is not a number`);
  inRange(name, n);
  return n;
}
