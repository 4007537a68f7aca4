// docs/results/speed.md from two runs of `npm run -s bench -- --json` and of `npm run -s bench:peers`
// (before and after a change, same machine, one after the other): every number in the page is read
// from those JSON files, which are copied next to it (docs/results/speed/).
//   node scripts/run-ts.mjs scripts/speed-report.ts DIR BEFORE_COMMIT AFTER_COMMIT
// DIR holds before-bench.json, after-bench.json, before-peers.json, after-peers.json, and optionally
// after-peers-2.json (a second after run of bench:peers, to show the spread).
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [dir, beforeCommit, afterCommit] = process.argv.slice(2);
if (!dir || !beforeCommit || !afterCommit) {
  console.error('usage: speed-report.ts DIR BEFORE_COMMIT AFTER_COMMIT');
  process.exit(2);
}
type Json = Record<string, any>;
const read = (name: string): Json => JSON.parse(readFileSync(join(dir, name), 'utf8'));
const bench = { before: read('before-bench.json'), after: read('after-bench.json') };
const peers = { before: read('before-peers.json'), after: read('after-peers.json') };
const out = 'docs/results/speed';
mkdirSync(out, { recursive: true });
const second = existsSync(join(dir, 'after-peers-2.json')) ? read('after-peers-2.json') : null;
for (const f of ['before-bench.json', 'after-bench.json', 'before-peers.json', 'after-peers.json', ...(second ? ['after-peers-2.json'] : [])]) copyFileSync(join(dir, f), join(out, f));

const f1 = (x: number | null | undefined) => (x === null || x === undefined ? '—' : x.toFixed(1));
const f2 = (x: number | null | undefined) => (x === null || x === undefined ? '—' : x.toFixed(2));
const ratio = (a: number | null | undefined, b: number | null | undefined) => (a && b ? `${(a / b).toFixed(2)}×` : '—');
const work = (w: Json | undefined) => (w ? `${w.dispatches.toFixed(0)} (${w.matmulDispatches.toFixed(0)} matmul), ${w.submissions.toFixed(1)} submissions` : '—');

const a = bench.after.adapter;
const mb = bench.before.model;
const ma = bench.after.model;
const lines: string[] = [];
lines.push('# Speed at the dispatch limit: before and after (issue 14)', '');
lines.push(`Adapter: ${a.vendor} / ${a.architecture} (${a.description}), ${a.runtime}${a.isFallbackAdapter ? ', a software (CPU) adapter' : ''}.`);
lines.push(`Before: commit ${beforeCommit}; after: commit ${afterCommit}; the same machine, one run after the other (${bench.before.startedAt} and ${bench.after.startedAt}).`, '');
lines.push('What changed between the two: decoding matmuls that give a row 4 outputs per invocation with vec4 loads (v7, v8; bit-identical to v1, checked on each device); a fused decoder forward (one q/k/v matmul whose output RoPE splits into the KV cache, one gate/up matmul, both residual adds and the next LayerNorm in one dispatch); bind groups and uniform buffers kept across steps; sampling ranked on the GPU (radix select) or on the host by bounded insertion, whichever the device measures faster; batched decoding of several samples of one prompt; matmul kernels chosen by measurement when asked (not used in these runs: the built-in rule picked). The training step is the same code in both (its forward and backward are backprop.ts\'s), so its figures show the run-to-run spread.', '');
lines.push('## `npm run bench` (Node, Dawn)', '');
lines.push(`Model '${ma.preset}' (${ma.parameters.toLocaleString('en-US')} parameters), batch ${ma.batch} × ${ma.seqLen}.`, '');
lines.push('| measure | before | after | after ÷ before |', '|---|---:|---:|---:|');
lines.push(`| decoding, tokens/s (before: greedy forward + full readback; after: sampled through generate(), top-k 40) | ${f1(mb.decodeTokensPerSecond)} | ${f1(ma.decodeTokensPerSecond)} | ${ratio(ma.decodeTokensPerSecond, mb.decodeTokensPerSecond)} |`);
lines.push(`| batched decoding, tokens/s of ${ma.batchedDecodeRows ?? '—'} samples together (before: not built) | — | ${f1(ma.batchedDecodeTokensPerSecond)} | — |`);
lines.push(`| … over sequential sampling (after ÷ after) | — | ${ratio(ma.batchedDecodeTokensPerSecond, ma.decodeTokensPerSecond)} | — |`);
lines.push(`| training, tokens/s | ${f1(mb.trainTokensPerSecond)} | ${f1(ma.trainTokensPerSecond)} | ${ratio(ma.trainTokensPerSecond, mb.trainTokensPerSecond)} |`);
lines.push(`| DPO step ÷ SFT step on the same tokens | ${f2(mb.dpoOverSft)} | ${f2(ma.dpoOverSft)} | — |`);
lines.push(`| forward (prefill), GFLOP/s | ${f2(mb.forwardGflops)} | ${f2(ma.forwardGflops)} | ${ratio(ma.forwardGflops, mb.forwardGflops)} |`);
lines.push(`| GPU work per decoded token | ${work(mb.perDecodedToken)} | ${work(ma.perDecodedToken)} | — |`);
lines.push(`| GPU work per training step | ${work(mb.perTrainStep)} | ${work(ma.perTrainStep)} | — |`);
lines.push(`| share of GPU time in matmul: decoding · training (kernels replayed alone) | — | ${ma.matmulShare ? `${(ma.matmulShare.decode * 100).toFixed(0)}% · ${(ma.matmulShare.train * 100).toFixed(0)}%` : '—'} | — |`);
lines.push(`| FMA peak, GFLOP/s | ${f2(bench.before.peak.gflops)} | ${f2(bench.after.peak.gflops)} | — |`, '');

lines.push('## `npm run bench:peers` (Chromium, the same models in one page)', '');
lines.push(`Work: a ${peers.after.options.promptTokens}-token prompt, ${peers.after.options.decodeTokens} greedy decode steps (each step's logits read back, the same for every runtime), a training step on ${peers.after.options.trainBatch} × ${peers.after.options.trainSeq} tokens; median of ${peers.after.options.repeats}. onnxruntime-web ${peers.after.versions.onnxruntimeWeb}, TensorFlow.js ${peers.after.versions.tfjs}.`, '');
lines.push('| model | runtime | decode tok/s before | after | after ÷ before | ours ÷ peer, decode: before | after | train tok/s before | after | ours ÷ peer, train: after | same work (after) |');
lines.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|');
for (const r of peers.after.rows as Json[]) {
  const b = (peers.before.rows as Json[]).find((x) => x.model === r.model && x.runtime === r.runtime);
  const ours = r.runtime === 'ours';
  lines.push(`| ${r.model} | ${r.runtime} | ${f1(b?.decodeTokensPerSecond)} | ${f1(r.decodeTokensPerSecond)} | ${ratio(r.decodeTokensPerSecond, b?.decodeTokensPerSecond)} | ${ours ? '—' : `${f2(b?.oursOver?.decode)}×`} | ${ours ? '—' : `${f2(r.oursOver.decode)}×`} | ${f1(b?.trainTokensPerSecond)} | ${f1(r.trainTokensPerSecond)} | ${ours || r.oursOver.train === null ? '—' : `${f2(r.oursOver.train)}×`} | ${r.error ? r.error : ours ? '—' : r.check.ok ? '✓' : '✗'} |`);
}
lines.push('');
if (second) {
  lines.push('A second after run of `bench:peers`, minutes later on the same machine (2 cores shared with the browser: the spread between runs is large):', '');
  lines.push('| model | runtime | decode tok/s | train tok/s | ours ÷ peer, decode | ours ÷ peer, train |', '|---|---|---:|---:|---:|---:|');
  for (const r of second.rows as Json[]) lines.push(`| ${r.model} | ${r.runtime} | ${f1(r.decodeTokensPerSecond)} | ${f1(r.trainTokensPerSecond)} | ${r.runtime === 'ours' ? '—' : `${f2(r.oursOver.decode)}×`} | ${r.runtime === 'ours' || r.oursOver.train === null ? '—' : `${f2(r.oursOver.train)}×`} |`);
  lines.push('');
}
lines.push('## Targets', '');
const oursAfter = (peers.after.rows as Json[]).filter((r) => r.runtime === 'ours');
for (const o of oursAfter) {
  const ortGpu = (peers.after.rows as Json[]).find((r) => r.model === o.model && r.runtime === 'ort-webgpu');
  const tf = (peers.after.rows as Json[]).find((r) => r.model === o.model && r.runtime === 'tfjs-webgpu');
  const before = (peers.before.rows as Json[]).find((r) => r.model === o.model && r.runtime === 'ours');
  const o2 = (second?.rows as Json[] | undefined)?.find((r) => r.model === o.model && r.runtime === 'ours');
  lines.push(`- ${o.model}: decode ${ratio(o.decodeTokensPerSecond, ortGpu?.decodeTokensPerSecond)} onnxruntime-web WebGPU's (target ≥ 3×); ${ratio(o.decodeTokensPerSecond, before?.decodeTokensPerSecond)} the decode figure before${o2 ? ` (${ratio(o2.decodeTokensPerSecond, before?.decodeTokensPerSecond)} in the second run)` : ''} (target ≥ 4×); training ${ratio(o.trainTokensPerSecond, tf?.trainTokensPerSecond)} TensorFlow.js WebGPU's (target ≥ 3×).`);
}
lines.push(`- DPO step ÷ SFT step: ${f2(ma.dpoOverSft)} (target ≤ 1.4).`);
lines.push('- Same outputs before and after: the fused forward is bit-identical to the op-by-op one (test/unit/model-fused.test.ts), the decoding kernels to v1 (test/unit/matmul-decode.test.ts), batched decoding to sequential (test/unit/generate-batch.test.ts), GPU ranking to the host sampler (test/unit/topk.test.ts).', '');
lines.push(`Commands: \`npm run -s bench -- --json\` and \`npm run -s bench:peers\` in each checkout, then \`node scripts/run-ts.mjs scripts/speed-report.ts DIR ${beforeCommit} ${afterCommit}\`.`);
writeFileSync('docs/results/speed.md', `${lines.join('\n')}\n`);
console.log('wrote docs/results/speed.md');
