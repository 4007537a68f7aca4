// The whole-model oracle that matters: every shipped model, exported to GGUF and run by llama.cpp
// (node-llama-cpp's prebuilt CPU build, flash attention off, F32 KV cache), gives our engine's
// next-token distributions, and llama.cpp tokenises held-out text of all 23 languages as we do.
// The zoo missing is a failure, not a skip. docs/results/llamacpp-parity.md is this, as a table.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { LANGUAGE_CODES } from '../../src/data/languages.ts';
import { BpeTokenizer } from '../../src/tokenizer/bpe.ts';
import { gpu } from './gpu.ts';
import { heldOutTexts, loadFolder, measureParity, measureTokenization, PARITY_BOUND, PARITY_LANGUAGES, PARITY_POSITIONS, stressModel, type LoadedFolder } from './oracle/llamacpp.ts';

const ZOO = 'public/models';
const manifest = JSON.parse(readFileSync(`${ZOO}/manifest.json`, 'utf8')) as { models: Array<{ id: string }> };
const shipped = manifest.models.map((m) => m.id);

let texts: Map<string, string[]>;

describe('llama.cpp as the oracle (GGUF export → node-llama-cpp)', () => {
  beforeAll(async () => {
    texts = await heldOutTexts();
  });

  it('the zoo ships models to check', () => {
    expect(shipped.length).toBeGreaterThanOrEqual(6);
  });

  for (const id of shipped) {
    for (const dtype of ['f32', 'f16'] as const) {
      it(`${id} (${dtype}): next-token distributions match at ${PARITY_POSITIONS} positions in ${PARITY_LANGUAGES.length} scripts`, async () => {
        const row = await measureParity(await gpu(), await loadFolder(`${ZOO}/${id}`, id), dtype, texts);
        expect(row.positions).toBe(PARITY_POSITIONS * PARITY_LANGUAGES.length);
        expect(row.maxAbsDp).toBeLessThanOrEqual(PARITY_BOUND[dtype]);
        // F16 rounding may flip a near-tie; F32 must not.
        if (dtype === 'f32') expect(row.argmaxDiffers).toBe(0);
      }, 120_000);
    }
  }

  it('a model off the defaults (logit_scale 0.625, rope_theta 500, eps 1e-4, norms ≠ 1) matches too', async () => {
    const tok = BpeTokenizer.fromTokenizerJson(JSON.parse(readFileSync('public/tokenizers/universal-23/tokenizer.json', 'utf8')));
    const m = stressModel(tok);
    const row = await measureParity(await gpu(), m, 'f32', texts);
    expect(row.maxAbsDp).toBeLessThanOrEqual(PARITY_BOUND.f32);
    // Not vacuous: the model is confident somewhere, and the same comparison catches a misreading —
    // our side ignoring logit_scale, or using Llama's RoPE base — by orders of magnitude.
    expect(row.maxP).toBeGreaterThan(0.2);
    for (const wrong of [{ logitScale: 1 }, { ropeTheta: 10000 }]) {
      const bad = await measureParity(await gpu(), m, 'f32', texts, { positions: 24, oursConfig: { ...m.folder.config, ...wrong } });
      expect(bad.maxAbsDp, JSON.stringify(wrong)).toBeGreaterThan(100 * PARITY_BOUND.f32);
    }
  }, 180_000);

  it("llama.cpp's tokenisation of held-out text equals ours in all 23 languages", async () => {
    const m: LoadedFolder = await loadFolder(`${ZOO}/${shipped[0]}`, shipped[0]);
    const rows = await measureTokenization(m, texts);
    expect(rows.map((r) => r.language)).toEqual([...LANGUAGE_CODES]);
    for (const r of rows) expect(r.firstDifference, r.language).toBeNull();
    expect(rows.every((r) => r.tokens > 100)).toBe(true);
  }, 120_000);
});
