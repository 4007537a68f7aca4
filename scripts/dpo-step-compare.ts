// Before/after check for a change to the DPO step: runs the same 8-step DPO (tiny preset, 4 pairs ×
// 64 tokens, seed 3) from the checkout at ROOT and prints the median step time and a SHA-256 of the
// final weights, so two checkouts can be compared for speed and for bit-identical results:
//   node scripts/run-ts.mjs scripts/dpo-step-compare.ts ROOT
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
const root = process.argv[2] ?? process.cwd();
const { createNodeContext } = await import(`${root}/src/gpu/node.ts`);
const { initWeights } = await import(`${root}/src/model/init.ts`);
const { preset } = await import(`${root}/src/model/presets.ts`);
const { validateConfig } = await import(`${root}/src/model/config.ts`);
const { BpeTokenizer } = await import(`${root}/src/tokenizer/bpe.ts`);
const { runDpo } = await import(`${root}/src/train/dpo.ts`);
const tok = BpeTokenizer.fromTokenizerJson(JSON.parse(readFileSync(`${root}/public/tokenizers/universal-23/tokenizer.json`, 'utf8')));
const config = validateConfig({ ...preset('tiny').config, vocabSize: tok.vocabSize, bosTokenId: tok.bos, eosTokenId: tok.eos, padTokenId: tok.pad, maxPositionEmbeddings: 256 });
const ctx = await createNodeContext();
const w = initWeights(config, 7);
const ref = initWeights(config, 8);
const pairs = [
  { prompt: 'Toute personne a droit', chosen: ' à la liberté et à la sécurité.', rejected: ' zzz qqq xx.', language: 'fra' },
  { prompt: 'Jeder Mensch hat', chosen: ' das Recht auf Leben und Freiheit.', rejected: ' aaa bbb.', language: 'deu' },
  { prompt: 'Todo individuo tiene', chosen: ' derecho a la vida.', rejected: ' xx yy zz ww.', language: 'spa' },
  { prompt: 'Ogni individuo ha', chosen: ' diritto alla vita.', rejected: ' qq.', language: 'ita' },
];
const spec = { loss: 'sigmoid', beta: 0.1, steps: 8, batchPairs: 4, seqLen: 64, lr: 1e-3, seed: 3 };
await runDpo(ctx, config, w, ref, tok, pairs, { ...spec, steps: 1 }); // compile
const r = await runDpo(ctx, config, w, ref, tok, pairs, spec);
const h = createHash('sha256');
for (const [k, t] of [...r.weights].sort()) { h.update(k); h.update(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)); }
const per = r.history.map((p) => (2 * 4 * 64) / p.tokensPerSecond * 1000);
per.sort((a, b) => a - b);
console.log(JSON.stringify({ root, stepMsMedian: per[Math.floor(per.length / 2)], seconds: r.seconds, lastLoss: r.history.at(-1).loss, weightsSha256: h.digest('hex') }));
ctx.destroy();
