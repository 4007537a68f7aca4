// Writes docs/results/onnx-parity.md: every shipped model exported to ONNX (the transformers.js
// layout), run by onnxruntime-web's WASM backend in Node, against our engine (Dawn) — the numbers
// the ORT oracle test checks.
//   node scripts/run-ts.mjs scripts/onnx-parity.ts
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { createNodeContext } from '../src/gpu/node.ts';
import { BpeTokenizer } from '../src/tokenizer/bpe.ts';
import { ONNX_OPSET } from '../src/model/onnxExport.ts';
import { heldOutTexts, loadFolder, stressModel } from '../test/unit/oracle/llamacpp.ts';
import { measureOnnxParity, ONNX_LANGUAGES, ONNX_LOGIT_BOUND, ONNX_POSITIONS, type OnnxParityRow } from '../test/unit/oracle/onnxruntime.ts';

const OUT = 'docs/results/onnx-parity.md';
const ZOO = 'public/models';
const manifest = JSON.parse(readFileSync(`${ZOO}/manifest.json`, 'utf8')) as { models: Array<{ id: string }> };
const ortVersion = (JSON.parse(readFileSync('node_modules/onnxruntime-web/package.json', 'utf8')) as { version: string }).version;
const protoVersion = (JSON.parse(readFileSync('node_modules/onnx-proto/package.json', 'utf8')) as { version: string }).version;

const ctx = await createNodeContext();
const texts = await heldOutTexts(ONNX_LANGUAGES);
const rows: OnnxParityRow[] = [];
for (const { id } of manifest.models) {
  rows.push(await measureOnnxParity(ctx, await loadFolder(`${ZOO}/${id}`, id), texts));
  process.stderr.write(`${id}\n`);
}
const tok = BpeTokenizer.fromTokenizerJson(JSON.parse(readFileSync('public/tokenizers/universal-23/tokenizer.json', 'utf8')));
const stress = stressModel(tok);
rows.push(await measureOnnxParity(ctx, stress, texts));
const wrong = [
  { label: 'our side ignores logit_scale (uses 1)', change: { logitScale: 1 } },
  { label: 'our side uses rope_theta 10000', change: { ropeTheta: 10000 } },
  { label: 'our side uses layer_norm_eps 1e-2', change: { layerNormEps: 1e-2 } },
];
const wrongRows = [];
for (const w of wrong) wrongRows.push({ ...w, row: await measureOnnxParity(ctx, stress, texts, { positions: 16, oursConfig: { ...stress.folder.config, ...w.change } }) });
ctx.destroy();

const e = (x: number) => x.toExponential(1);
const mib = (b: number) => `${(b / 2 ** 20).toFixed(2)} MiB`;
const md = `# onnxruntime parity (issue 13, item 2)

Every shipped model is exported with \`aya-playground export --format onnx\` (the transformers.js
layout: \`onnx/model.onnx\`, opset ${ONNX_OPSET}, a Cohere decoder with \`input_ids\`, \`attention_mask\`,
\`position_ids\`, \`past_key_values.N.key/value\` in and \`logits\`, \`present.N.key/value\` out; encoded with
onnx-proto ${protoVersion}), run by onnxruntime-web ${ortVersion} (its WASM backend in Node, one thread, all graph
optimisations), and its logits compared with our engine's (WGSL on Dawn) on held-out UDHR text
(articles 23–30): the first ${ONNX_POSITIONS} tokens (\`<bos><lang:xx>\` + text) in each of ${ONNX_LANGUAGES.length} scripts
(${ONNX_LANGUAGES.join(', ')}), every logit at every position, three ways:

- **full**: the whole sequence in one run (a zero-length past);
- **KV cache**: the first half in one run, then one token a step, each step's \`past_key_values\` the
  previous step's \`present\`;
- **left-padded batch**: a batch of two — the text, and the text less 3 tokens left-padded back to
  length with attention_mask 0 (what batched generation in transformers.js feeds).

Bound: max |Δlogit| ≤ ${e(ONNX_LOGIT_BOUND)} in each. Command: \`node scripts/run-ts.mjs scripts/onnx-parity.ts\`
(machine: ${cpus().length} CPUs, ${cpus()[0]?.model ?? 'unknown'}). The test \`test/unit/onnx-parity.test.ts\`
checks the same numbers in \`npm test\`.

| model | model.onnx | positions | max \\|Δlogit\\| full | KV cache | padded batch | max \\|logit\\| |
|---|---:|---:|---:|---:|---:|---:|
${rows.map((r) => `| ${r.model} | ${mib(r.fileBytes)} | ${r.positions} | ${e(r.maxAbsFull)} | ${e(r.maxAbsCached)} | ${e(r.maxAbsPadded)} | ${r.maxAbsLogit.toFixed(1)} |`).join('\n')}

The last row is a model off every default (logit_scale 0.625, rope_theta 500, layer_norm_eps 1e-4,
norm weights ≠ 1, a large embedding for confident predictions), so that the export cannot pass by
ignoring a field. The same comparison catches a misreading on our side by orders of magnitude:

| our side | max \\|Δlogit\\| (16 positions a script) |
|---|---:|
${wrongRows.map((w) => `| ${w.label} | ${e(w.row.maxAbsFull)} |`).join('\n')}
`;
writeFileSync(OUT, md);
process.stderr.write(`wrote ${OUT}\n`);
