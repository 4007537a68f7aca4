// Option values shared by the CLI's commands: required/int/number parsing with usage errors.

export type Values = Record<string, string | boolean | undefined>;

/** A mistake in how the command was called (exit code 2). */
export class UsageError extends Error {}

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
  if (!Number.isInteger(n)) throw new UsageError(`--${name}: '${v}' is not an integer`);
  return n;
}

export function num(values: Values, name: string, dflt: number): number {
  const v = values[name];
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`--${name}: '${v}' is not a number`);
  return n;
}
