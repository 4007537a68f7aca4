// Human-readable output for the CLI (the --json forms print the objects as they are).
import { type KernelChoices, MATMUL_CLASSES } from '../ops/tune.ts';
import type { BenchReport } from '../bench/bench.ts';
import type { CheckSummary, EngineInfo } from '../engine/api.ts';

export function formatInfo(info: EngineInfo): string {
  const a = info.adapter;
  const lines = [
    `adapter       ${a.vendor} / ${a.architecture}${a.device ? ` / ${a.device}` : ''}`,
    `description   ${a.description}`,
    `runtime       ${a.runtime} (${info.versions.runtime})`,
    `app           aya-playground ${info.versions.app}`,
    `subgroups     ${a.subgroupMinSize ?? '?'}–${a.subgroupMaxSize ?? '?'}`,
    `features      ${a.features.join(', ')}`,
    `matmul        ${info.matmul.choices ? `measured: ${MATMUL_CLASSES.map((c) => `${c.name} ${info.matmul.choices!.choices[c.name]}`).join(', ')} (${info.matmul.choices.measuredAt})` : `not measured on this adapter (aya-playground tune), the built-in rule: ${MATMUL_CLASSES.map((c) => `${c.name} ${info.matmul.inForce[c.name]}`).join(', ')}`}`,
    'limits:',
    ...Object.entries(a.limits).map(([k, v]) => `  ${k.padEnd(44)} ${v}`),
  ];
  return `${lines.join('\n')}\n`;
}

export function formatCheck(s: CheckSummary): string {
  const lines = s.results.map(
    (r) =>
      `${r.pass ? 'pass' : 'FAIL'}  ${r.op.padEnd(20)} ${r.shape.padEnd(28)} rel.err ${r.relError.toExponential(2)} (${r.tolerance < 1e-30 ? 'exact' : `< ${r.tolerance}`})  ${r.ms.toFixed(1)} ms${r.error ? `  ${r.error}` : ''}`,
  );
  lines.push(`${s.passed} passed, ${s.failed} failed (seed ${s.seed})`);
  return `${lines.join('\n')}\n`;
}

export function formatBench(info: EngineInfo, r: BenchReport): string {
  const lines = [
    `adapter: ${info.adapter.vendor} / ${info.adapter.architecture} (${info.adapter.description})`,
    `FMA peak: ${r.peak.gflops.toFixed(2)} GFLOP/s  [${r.peak.kernel}]`,
    '',
    `${'shape'.padEnd(40)} ${'variant'.padEnd(8)} ${'ms'.padStart(9)} ${'GFLOP/s'.padStart(9)} ${'of peak'.padStart(8)}`,
  ];
  for (const row of r.matmul) {
    lines.push(
      `${row.label.padEnd(40)} ${row.variant.padEnd(8)} ${row.ms.toFixed(2).padStart(9)} ${row.gflops.toFixed(2).padStart(9)} ${(row.ratio * 100).toFixed(1).padStart(7)}%`,
    );
  }
  if (r.model) {
    const m = r.model;
    lines.push(
      '',
      `model '${m.preset}' (${m.parameters.toLocaleString()} parameters), batch ${m.batch} × ${m.seqLen}:`,
      `  forward            ${m.forwardMs.toFixed(1)} ms = ${m.forwardGflops.toFixed(2)} GFLOP/s (${(m.forwardRatio * 100).toFixed(1)}% of peak)`,
      `  training step      ${m.trainStepMs.toFixed(1)} ms = ${m.trainTokensPerSecond.toFixed(0)} tokens/s (forward + backward + AdamW)`,
      ...(m.dpoStepMs !== undefined ? [`  DPO step           ${m.dpoStepMs.toFixed(1)} ms = ${m.dpoOverSft.toFixed(2)}× the training step on the same tokens (policy + reference forwards, one backward)`] : []),
      `  decoding           ${m.decodeTokensPerSecond.toFixed(1)} tokens/s (KV cache, one sequence, sampled: top-k 40, top-p 0.95)`,
      ...(m.batchedDecodeTokensPerSecond !== undefined ? [`  batched decoding   ${m.batchedDecodeTokensPerSecond.toFixed(1)} tokens/s (${m.batchedDecodeRows} samples of one prompt advancing together; all sequences' tokens)`] : []),
      ...(m.matmulShare ? [`  time in matmul     ${(m.matmulShare.decode * 100).toFixed(0)}% of a decoding step's GPU time, ${(m.matmulShare.train * 100).toFixed(0)}% of a training step's (each kernel replayed alone)`] : []),
      ...(m.perDecodedToken ? [`  GPU work           per decoded token: ${workText(m.perDecodedToken)}; per training step: ${workText(m.perTrainStep)}${m.perDpoStep ? `; per DPO step: ${workText(m.perDpoStep)}` : ''}`] : []),
    );
  }
  if (r.at512) {
    lines.push('', `best A·B at 512³: ${r.at512.variant}, ${r.at512.gflops.toFixed(2)} GFLOP/s = ${(r.at512.ratio * 100).toFixed(1)}% of peak (default variant: ${r.defaultVariant})`);
  }
  return `${lines.join('\n')}\n`;
}

const workText = (w: { dispatches: number; matmulDispatches: number; submissions: number }) =>
  `${w.dispatches.toFixed(0)} dispatches (${w.matmulDispatches.toFixed(0)} matmul), ${w.submissions.toFixed(1)} submissions`;

/** The kernel choices per row class and every variant's time (src/ops/tune.ts). */
export function formatKernels(k: KernelChoices, stored: string | null): string {
  const variants = [...new Set(k.rows.map((r) => r.variant))].sort();
  const lines = [`matmul kernels measured on ${k.adapter} in ${k.seconds.toFixed(1)} s (ms for one step's matmuls of each class; ≠: bits differ from v1, not eligible):`, ''];
  lines.push(['class'.padEnd(9), ...variants.map((v) => v.padStart(10)), '  chosen'].join(''));
  for (const c of MATMUL_CLASSES) {
    const cells = variants.map((v) => {
      const r = k.rows.find((x) => x.cls === c.name && x.variant === v);
      return (r ? (r.ms === null ? 'failed' : `${r.ms.toFixed(1)}${r.exact ? '' : '≠'}`) : '—').padStart(10);
    });
    lines.push([c.name.padEnd(9), ...cells, `  ${k.choices[c.name]}   (${c.serves})`].join(''));
  }
  if (stored) lines.push('', `kept in ${stored}`);
  return `${lines.join('\n')}\n`;
}
