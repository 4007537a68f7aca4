// llama.cpp (through node-llama-cpp's prebuilt binaries) as an independent whole-model oracle: our
// GGUF export of a model folder, loaded by llama.cpp, must give the same next-token distributions
// as our engine on the same text, and llama.cpp's tokenizer the same ids as ours. Shared by the
// parity test and scripts/llamacpp-parity.ts, which writes docs/results/llamacpp-parity.md.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getLlama, LlamaLogLevel, type ControlledEvaluateInputItem, type Llama, type Token } from 'node-llama-cpp';
import type { GpuContext } from '../../../src/gpu/context.ts';
import { readModelDir } from '../../../src/model/folder.node.ts';
import { readModelFolder, type ModelFolder } from '../../../src/model/folder.ts';
import { modelToGguf, type GgufDtype } from '../../../src/model/ggufExport.ts';
import { AyaModel } from '../../../src/model/model.ts';
import { logSoftmax } from '../../../src/model/logprobs.ts';
import { f16ToF32, f32ToF16 } from '../../../src/model/safetensors.ts';
import { BpeTokenizer } from '../../../src/tokenizer/bpe.ts';
import { hostTensor } from '../../../src/gpu/host.ts';
import { loadCorpus, heldOutParagraphs } from '../../../src/data/corpus.ts';
import { nodeUdhrSource } from '../../../src/data/source.node.ts';
import { LANGUAGE_CODES, language } from '../../../src/data/languages.ts';
import { validateConfig, type ModelConfig } from '../../../src/model/config.ts';
import { initWeights } from '../../../src/model/init.ts';
import { preset } from '../../../src/model/presets.ts';
import { Rng } from '../../../src/util/rng.ts';

let llamaPromise: Promise<Llama> | null = null;

/** The CPU build (deterministic, and the same everywhere the suite runs). */
export function cpuLlama(): Promise<Llama> {
  llamaPromise ??= getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
  return llamaPromise;
}

export interface LlamaCppModel {
  tokenize(text: string): number[];
  /** p(· | ids[0..i]) for every i: one full-vocabulary distribution per position (sums to 1 in float64). */
  distributions(ids: number[]): Promise<Float64Array[]>;
  dispose(): Promise<void>;
}

/** Loads a GGUF file with flash attention off and an F32 KV cache (what exact parity needs). */
export async function loadLlamaCpp(path: string, contextSize: number, vocabSize: number): Promise<LlamaCppModel> {
  const llama = await cpuLlama();
  const model = await llama.loadModel({ modelPath: path, gpuLayers: 0 });
  return {
    tokenize: (text) => model.tokenize(text, false).map(Number),
    async distributions(ids) {
      const context = await model.createContext({ contextSize, batchSize: contextSize, flashAttention: false, experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32', threads: 1 });
      try {
        const seq = context.getSequence();
        const input: ControlledEvaluateInputItem[] = ids.map((t) => [t as Token, { generateNext: { probabilities: true } }]);
        const out = await seq.controlledEvaluate(input);
        return ids.map((_, i) => {
          const probs = out[i]?.next.probabilities;
          if (!probs) throw new Error(`llama.cpp returned no distribution at position ${i}`);
          // node-llama-cpp normalises in float32 and its sums are off 1 by up to ~1e-4 (a
          // constant factor on every token); renormalising in float64 compares the model, not that.
          const row = new Float64Array(vocabSize);
          let sum = 0;
          for (const [token, p] of probs) sum += row[token as number] = p;
          for (let t = 0; t < vocabSize; t++) row[t] /= sum;
          return row;
        });
      } finally {
        await context.dispose();
      }
    },
    dispose: () => model.dispose(),
  };
}

/** The folder's weights as llama.cpp sees them in a file of `dtype` (F16: matrices rounded, norms kept). */
export function weightsAs(folder: ModelFolder, dtype: GgufDtype): ModelFolder['weights'] {
  if (dtype === 'f32') return folder.weights;
  const out: ModelFolder['weights'] = new Map();
  for (const [name, t] of folder.weights) {
    if (t.shape.length < 2) out.set(name, t);
    else out.set(name, hostTensor(t.shape, Array.from(t.data, (x) => f16ToF32(f32ToF16(x)))));
  }
  return out;
}

/** Scripts the parity runs cover, one held-out language each. */
export const PARITY_LANGUAGES: readonly string[] = ['fra', 'rus', 'arb', 'hin', 'zho', 'kor'];
export const PARITY_POSITIONS = 48;

/** max |Δp| allowed: F32 files must agree to float32 rounding; F16 files round every matrix and
 *  (in ggml's CPU matmul) the activations to binary16 — measured 1.2e-4 to 4.8e-4 on the zoo. */
export const PARITY_BOUND = { f32: 1e-5, f16: 1e-3 } as const;

export interface ParityRow {
  model: string;
  dtype: GgufDtype;
  fileBytes: number;
  positions: number;
  languages: string[];
  maxAbsDp: number;
  meanAbsDp: number;
  /** Max |Δ log p| over tokens with p ≥ 1e-4 in our engine. */
  maxAbsDlogp: number;
  /** Positions whose arg-max token differs. */
  argmaxDiffers: number;
  /** The largest probability our engine gave any token (a flat model would make parity vacuous). */
  maxP: number;
}

export interface TokenizationRow {
  language: string;
  script: string;
  texts: number;
  tokens: number;
  equal: boolean;
  firstDifference: string | null;
}

export interface LoadedFolder {
  name: string;
  folder: ModelFolder;
  tok: BpeTokenizer;
}

/**
 * A model that exercises what the shipped ones leave at defaults (they all have logit_scale 1,
 * rope_theta 10000): logit_scale 0.625, rope_theta 500, layer_norm_eps 1e-4, norm weights ≠ 1,
 * and weights large enough that the distributions are far from flat.
 */
export function stressModel(tok: BpeTokenizer): LoadedFolder {
  const config = validateConfig({
    ...preset('small').config,
    ropeTheta: 500,
    layerNormEps: 1e-4,
    logitScale: 0.625,
    vocabSize: tok.vocabSize,
    bosTokenId: tok.bos,
    eosTokenId: tok.eos,
    padTokenId: tok.pad,
  });
  const weights = initWeights(config, 7, 0.08);
  const rng = new Rng(9);
  for (const [name, t] of weights) if (name.endsWith('norm.weight')) for (let i = 0; i < t.data.length; i++) t.data[i] = 1 + 0.3 * rng.normal();
  // A large (tied) embedding makes the logits spread over several nats: confident predictions.
  const embed = weights.get('model.embed_tokens.weight')!;
  for (let i = 0; i < embed.data.length; i++) embed.data[i] *= 8;
  return { name: 'stress-small', folder: { config, weights, tokenizerJson: tok.toTokenizerJson(), tokenizerConfigJson: null, playground: null }, tok };
}

export async function loadFolder(dir: string, name: string): Promise<LoadedFolder> {
  const folder = readModelFolder(await readModelDir(dir), name);
  return { name, folder, tok: BpeTokenizer.fromTokenizerJson(folder.tokenizerJson, `${name}/tokenizer.json`) };
}

/** Held-out paragraphs of each language (UDHR articles 23–30). */
export async function heldOutTexts(languages: readonly string[] = LANGUAGE_CODES): Promise<Map<string, string[]>> {
  const corpus = await loadCorpus(nodeUdhrSource, languages);
  return new Map(languages.map((l) => [l, heldOutParagraphs(corpus.get(l)!)]));
}

/** Exports `m` to GGUF, loads it in llama.cpp and compares distributions with our engine's. */
export async function measureParity(
  ctx: GpuContext,
  m: LoadedFolder,
  dtype: GgufDtype,
  texts: Map<string, string[]>,
  opts: { positions?: number; /** Our side runs this config instead (to show a misreading is caught). */ oursConfig?: ModelConfig } = {},
): Promise<ParityRow> {
  const positions = opts.positions ?? PARITY_POSITIONS;
  const dir = await mkdtemp(join(tmpdir(), 'aya-gguf-'));
  const file = join(dir, `${m.name}.${dtype}.gguf`);
  const bytes = modelToGguf(m.folder, m.tok, { dtype, name: m.name });
  await writeFile(file, bytes);
  const oracle = await loadLlamaCpp(file, positions + 2, m.folder.config.vocabSize);
  const ours = AyaModel.fromHost(ctx, opts.oursConfig ?? m.folder.config, weightsAs(m.folder, dtype));
  const row: ParityRow = { model: m.name, dtype, fileBytes: bytes.byteLength, positions: 0, languages: [], maxAbsDp: 0, meanAbsDp: 0, maxAbsDlogp: 0, argmaxDiffers: 0, maxP: 0 };
  let sumDp = 0;
  let count = 0;
  try {
    for (const lang of PARITY_LANGUAGES) {
      const text = (texts.get(lang) ?? []).join('\n');
      const ids = [m.tok.bos, m.tok.langId(lang), ...m.tok.encode(text)].slice(0, positions);
      if (ids.length < positions) throw new Error(`${lang}: only ${ids.length} tokens of held-out text`);
      const theirs = await oracle.distributions(ids);
      const logits = ours.forward([ids]);
      const data = (await logits.read()).data;
      logits.release();
      const v = m.folder.config.vocabSize;
      for (let i = 0; i < ids.length; i++) {
        const p = logSoftmax(data.subarray(i * v, (i + 1) * v)).map(Math.exp);
        const q = theirs[i];
        let am = 0;
        let bm = 0;
        for (let t = 0; t < v; t++) {
          const d = Math.abs(p[t] - q[t]);
          row.maxAbsDp = Math.max(row.maxAbsDp, d);
          sumDp += d;
          count++;
          if (p[t] >= 1e-4) row.maxAbsDlogp = Math.max(row.maxAbsDlogp, Math.abs(Math.log(p[t]) - Math.log(q[t])));
          row.maxP = Math.max(row.maxP, p[t]);
          if (p[t] > p[am]) am = t;
          if (q[t] > q[bm]) bm = t;
        }
        if (am !== bm) row.argmaxDiffers++;
      }
      row.positions += ids.length;
      row.languages.push(lang);
    }
  } finally {
    ours.dispose();
    await oracle.dispose();
    await rm(dir, { recursive: true, force: true });
  }
  row.meanAbsDp = sumDp / count;
  return row;
}

/** llama.cpp's tokenisation of every held-out paragraph against ours, per language. */
export async function measureTokenization(m: LoadedFolder, texts: Map<string, string[]>): Promise<TokenizationRow[]> {
  const dir = await mkdtemp(join(tmpdir(), 'aya-gguf-'));
  const file = join(dir, `${m.name}.tok.gguf`);
  await writeFile(file, modelToGguf(m.folder, m.tok, { dtype: 'f16', name: m.name }));
  const oracle = await loadLlamaCpp(file, 8, m.folder.config.vocabSize);
  const rows: TokenizationRow[] = [];
  try {
    for (const [lang, paragraphs] of texts) {
      let tokens = 0;
      let firstDifference: string | null = null;
      for (const text of paragraphs) {
        const ours = m.tok.encode(text);
        const theirs = oracle.tokenize(text);
        tokens += ours.length;
        if (firstDifference === null && (ours.length !== theirs.length || ours.some((id, i) => id !== theirs[i]))) {
          const at = ours.findIndex((id, i) => id !== theirs[i]);
          firstDifference = `at token ${at}: ours ${JSON.stringify(ours.slice(at, at + 4).map((i) => m.tok.idToToken(i)))}, llama.cpp ${JSON.stringify(theirs.slice(at, at + 4).map((i) => m.tok.idToToken(i)))}`;
        }
      }
      rows.push({ language: lang, script: language(lang).script, texts: paragraphs.length, tokens, equal: firstDifference === null, firstDifference });
    }
  } finally {
    await oracle.dispose();
    await rm(dir, { recursive: true, force: true });
  }
  return rows;
}
