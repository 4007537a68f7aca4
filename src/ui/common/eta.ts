/** Seconds left for a job that has done `fraction` of its work since `startedMs`. */
export function etaSeconds(startedMs: number, fraction: number, nowMs = performance.now()): number | null {
  if (fraction <= 0.02 || fraction >= 1) return null;
  const elapsed = (nowMs - startedMs) / 1000;
  return (elapsed / fraction) * (1 - fraction);
}
