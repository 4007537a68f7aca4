// npm run bench:peers — the Bench panel's "Peers in one page" in Debian's Chromium (Playwright, WebGPU
// on whatever adapter Chromium finds; SwiftShader here): our engine, onnxruntime-web WebGPU and WASM,
// and TensorFlow.js WebGPU on the same models in the same page. Prints the report as JSON on stdout
// and writes docs/results/peers-<adapter>.md. Needs the built app (npm run bench:peers builds it).
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { chromium } from '@playwright/test';
import type { PeersReport } from '../src/engine/api.ts';
import { PEER_LABELS } from '../src/bench/peers/labels.ts';

const port = 4300 + Math.floor(Math.random() * 500);
const preview = spawn('npx', ['vite', 'preview', '--host', '127.0.0.1', '--port', String(port), '--strictPort'], { stdio: ['ignore', 'pipe', 'pipe'] });
const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const adapterArgs = process.env.PEERS_ADAPTER ? [`--use-webgpu-adapter=${process.env.PEERS_ADAPTER}`] : ['--use-webgpu-adapter=swiftshader'];
try {
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('vite preview did not start in 60 s')), 60_000);
    preview.stdout!.on('data', (d: Buffer) => /127\.0\.0\.1:\d+/.test(d.toString()) && (clearTimeout(t), resolve()));
    preview.once('exit', (c) => reject(new Error(`vite preview exited (${c})`)));
  });
  const browser = await chromium.launch({ executablePath, args: ['--enable-unsafe-webgpu', ...adapterArgs, '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] });
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${port}/#bench`);
  await page.getByTestId('peers-run').click({ timeout: 120_000 });
  let last = '';
  const timer = setInterval(async () => {
    const p = await page.getByTestId('peers-card').getByRole('progressbar').getAttribute('aria-label', { timeout: 500 }).catch(() => null);
    if (p && p !== last) process.stderr.write(`${(last = p).trim()}\n`);
  }, 2000);
  const table = page.getByTestId('peers-table');
  await table.waitFor({ timeout: 30 * 60_000 });
  clearInterval(timer);
  const report = JSON.parse((await table.getAttribute('data-report'))!) as PeersReport;
  await browser.close();

  const a = report.adapter;
  const slug = `${a.vendor}-${a.architecture}`.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'unknown';
  const f = (x: number | null, d = 1) => (x === null ? '—' : x.toFixed(d));
  const r2 = (x: number | null) => (x === null ? '—' : `${x.toFixed(2)}×`);
  const md = `# Peers in one page — ${a.vendor} / ${a.architecture}

The Bench panel's "Peers in one page", run by \`npm run bench:peers\` in Chromium (${report.runtime}).
Adapter: ${a.vendor} / ${a.architecture}${a.description ? ` (${a.description})` : ''}${a.isFallbackAdapter ? ', a fallback (software) adapter' : ''}.
Versions: onnxruntime-web ${report.versions.onnxruntimeWeb}, TensorFlow.js ${report.versions.tfjs}. ${report.startedAt}, ${report.seconds.toFixed(0)} s.

Work: a ${report.options.promptTokens}-token held-out French prompt (prefill), ${report.options.decodeTokens} greedy decode steps with a KV
cache (each step's logits read back), and a training step (forward + backward + Adam) on ${report.options.trainBatch} × ${report.options.trainSeq}
tokens where the runtime trains; the median of ${report.options.repeats} timed runs after a warm-up. "Ours ÷ peer" > 1 means ours
is faster, measured in the same run. Every peer's prefill logits (≤ 1e-3 of ours), greedy tokens (equal) and first
training loss (≤ 1e-3) are checked, so the work is the same.

Models: ${report.models.map((m) => `${m.name} (${(m.parameters / 1e6).toFixed(2)} M parameters, hidden ${m.hiddenSize}, ${m.layers} layers, vocabulary ${m.vocabSize})`).join('; ')}.

| model | runtime | prefill tok/s | decode tok/s | train tok/s | ours ÷ peer: prefill | decode | train | same work |
|---|---|---:|---:|---:|---:|---:|---:|---|
${report.rows
  .map((r) =>
    r.error
      ? `| ${r.model} | ${PEER_LABELS[r.runtime]} | did not run: ${r.error.replace(/\|/g, '\\|').slice(0, 160)} | | | | | | |`
      : `| ${r.model} | ${PEER_LABELS[r.runtime]} | ${f(r.prefillTokensPerSecond)} | ${f(r.decodeTokensPerSecond)} | ${r.trainTokensPerSecond === null ? '—' : f(r.trainTokensPerSecond)} | ${r.runtime === 'ours' ? '1' : r2(r.oursOver.prefill)} | ${r.runtime === 'ours' ? '1' : r2(r.oursOver.decode)} | ${r.runtime === 'ours' ? (r.trainTokensPerSecond === null ? '—' : '1') : r2(r.oursOver.train)} | ${r.runtime === 'ours' ? '—' : `${r.check.ok ? '✓' : '✗'} logits Δ ${r.check.maxAbsLogit?.toExponential(1) ?? '—'}, tokens ${r.check.decodeSame ? 'equal' : 'differ'}${r.check.lossDelta !== null ? `, loss Δ ${r.check.lossDelta.toExponential(1)}` : ''}`} |`,
  )
  .join('\n')}

Command: \`npm run bench:peers\` (\`PEERS_ADAPTER=…\` picks Chromium's WebGPU adapter; default swiftshader).
`;
  const out = `docs/results/peers-${slug}.md`;
  writeFileSync(out, md);
  process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  process.stderr.write(`\n${md}\nwrote ${out}\n`);
} catch (e) {
  process.stderr.write(`bench:peers failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
} finally {
  preview.kill();
  // npx leaves `vite preview` running with our pipes open: without an exit the script never ends
  // (once stdout has flushed the report: a pipe writes asynchronously).
  process.stdout.write('', () => process.exit(process.exitCode ?? 0));
}
