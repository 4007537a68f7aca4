// Learning-rate schedule: linear warmup from 0, then cosine decay to minLr. Pure; no GPU.

export interface CosineSchedule {
  /** Peak learning rate, reached at step = warmup. */
  lr: number;
  /** Warmup steps (0: start at the peak). */
  warmup: number;
  /** Step at which the cosine reaches minLr (it stays there afterwards); total ≤ warmup means no
   *  decay (the peak after warmup). */
  total: number;
  /** Final learning rate (default 0). */
  minLr?: number;
}

/** The learning rate for 1-based optimizer step `step` (the same t as AdamW's bias correction):
 *  lr · step / warmup while step < warmup, then minLr + (lr − minLr) · ½(1 + cos(π · progress)) with
 *  progress = (step − warmup) / (total − warmup), clamped to [0, 1]. */
export function cosineSchedule(step: number, s: CosineSchedule): number {
  const minLr = s.minLr ?? 0;
  if (step < s.warmup) return (s.lr * Math.max(0, step)) / s.warmup;
  const span = s.total - s.warmup;
  if (span <= 0) return s.lr;
  const progress = Math.min(1, (step - s.warmup) / span);
  return minLr + (s.lr - minLr) * 0.5 * (1 + Math.cos(Math.PI * progress));
}
