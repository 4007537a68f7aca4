// A value from outside data, written into an error message: JSON where it can be (so an object
// with an own "toString" field cannot throw from inside the message), shortened.
export function show(v: unknown, max = 60): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  let s: string | undefined;
  try {
    s = typeof v === 'string' ? v : JSON.stringify(v);
  } catch {
    s = undefined;
  }
  s ??= Object.prototype.toString.call(v);
  return s.length > max ? `${s.slice(0, max)}…` : s;
}
