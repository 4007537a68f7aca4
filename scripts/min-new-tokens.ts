// What min_new_tokens does to the zoo's completions (issue 17, items 2 and 3): each teacher continues
// the first 2 held-out prompts of each of its family's own languages with the default sampling,
// once with min_new_tokens 0 and once with the default (16); printed: tokens, characters, fluency
// and how often fluency is 0, as the markdown of docs/results/fluency-anchors.md's second table.
// Run: node scripts/run-ts.mjs scripts/min-new-tokens.ts   (Dawn/SwiftShader, a few minutes on 2 cores)
import { Engine } from '../src/engine/engine.ts';
import { nodePlatform } from '../src/cli/platform.ts';
import { releaseNodeGpu, configureVulkanDriver } from '../src/gpu/node.ts';
import { DEFAULT_SAMPLING } from '../src/model/sample.ts';
import { FAMILIES } from '../src/data/languages.ts';

configureVulkanDriver();
const engine = new Engine(nodePlatform);
const rows: string[] = [];
const totals = new Map<number, { n: number; tokens: number; chars: number; fluency: number; zeros: number }>();
for (const f of FAMILIES) {
  const teacher = `public/models/teacher-${f.id}`;
  for (const lang of f.languages.filter((l) => !['eng', 'spa', 'fra'].includes(l) || f.id === 'romance')) {
    const prompts = (await engine.prompts(lang, 'heldout')).slice(0, 2);
    for (const min of [0, DEFAULT_SAMPLING.minNewTokens!]) {
      for (const p of prompts) {
        const r = await engine.start('sample', { modelId: teacher, prompt: p.prompt, lang, sampling: { ...DEFAULT_SAMPLING, minNewTokens: min } }).result();
        const [s] = await engine.score([{ prompt: p.prompt, completion: r.text, language: lang, reference: p.reference }]);
        const t = totals.get(min) ?? { n: 0, tokens: 0, chars: 0, fluency: 0, zeros: 0 };
        t.n++;
        t.tokens += r.ids.length;
        t.chars += s.details.chars;
        t.fluency += s.components.fluency ?? 0;
        if ((s.components.fluency ?? 0) === 0) t.zeros++;
        totals.set(min, t);
      }
    }
  }
  rows.push(f.id);
}
console.log('| min_new_tokens | completions | mean tokens | mean characters | mean fluency | fluency 0 |');
console.log('|---:|---:|---:|---:|---:|---:|');
for (const [min, t] of totals) console.log(`| ${min} | ${t.n} | ${(t.tokens / t.n).toFixed(1)} | ${(t.chars / t.n).toFixed(1)} | ${(t.fluency / t.n).toFixed(3)} | ${t.zeros} (${((100 * t.zeros) / t.n).toFixed(0)}%) |`);
console.log(`\nteachers: ${rows.join(', ')}; sampling otherwise ${JSON.stringify({ ...DEFAULT_SAMPLING, minNewTokens: undefined })}`);
engine.dispose();
releaseNodeGpu();
