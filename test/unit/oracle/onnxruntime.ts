// onnxruntime as an oracle: our ONNX export of a model, run by onnxruntime-web's WASM backend in
// Node (an independent implementation of every op), against our WGSL engine's logits — over the
// whole sequence at once, step by step through the KV cache (present → past), and with a
// left-padded batch row (what batched generation in transformers.js feeds it).
import * as ort from 'onnxruntime-web';
import type { GpuContext } from '../../../src/gpu/context.ts';
import { AyaModel } from '../../../src/model/model.ts';
import { headDim, type ModelConfig } from '../../../src/model/config.ts';
import { modelToOnnx } from '../../../src/model/onnxExport.ts';
import { decoderFeeds, type Feeds, presentsOf } from '../../../src/model/onnxFeeds.ts';
import type { LoadedFolder } from './llamacpp.ts';

ort.env.wasm.numThreads = 1;
ort.env.logLevel = 'error';

/** max |Δlogit| allowed (issue 13: ≤ 1e-4 at every position, with and without the KV cache). */
export const ONNX_LOGIT_BOUND = 1e-4;
export const ONNX_LANGUAGES: readonly string[] = ['fra', 'rus', 'arb', 'zho'];
export const ONNX_POSITIONS = 32;

export interface OnnxParityRow {
  model: string;
  fileBytes: number;
  positions: number;
  /** Whole sequence in one run (empty past). */
  maxAbsFull: number;
  /** Prefill of half, then one token a step, each step's past = the previous present. */
  maxAbsCached: number;
  /** The same text in a batch of two, left-padded by 3 in the second row. */
  maxAbsPadded: number;
  maxAbsLogit: number;
}


export async function onnxSession(bytes: Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
}

/** Runs ids (rows of the same length; mask 0 marks left padding) after `past`; returns logits and presents. */
export async function runOnnx(session: ort.InferenceSession, m: LoadedFolder, rows: number[][], mask: number[][], past: Feeds | null, pastLen: number): Promise<{ logits: Float32Array; present: Feeds }> {
  const c = m.folder.config;
  const out = await session.run(decoderFeeds(ort, { layers: c.numHiddenLayers, kvHeads: c.numKeyValueHeads, headDim: headDim(c) }, rows, past, pastLen, mask));
  return { logits: out.logits.data as Float32Array, present: presentsOf(out) };
}

export async function measureOnnxParity(
  ctx: GpuContext,
  m: LoadedFolder,
  texts: Map<string, string[]>,
  opts: { positions?: number; /** Our side runs this config instead (to show a misreading is caught). */ oursConfig?: ModelConfig } = {},
): Promise<OnnxParityRow> {
  const positions = opts.positions ?? ONNX_POSITIONS;
  const bytes = modelToOnnx(m.folder, m.name);
  const session = await onnxSession(bytes);
  const ours = AyaModel.fromHost(ctx, opts.oursConfig ?? m.folder.config, m.folder.weights);
  const v = m.folder.config.vocabSize;
  const row: OnnxParityRow = { model: m.name, fileBytes: bytes.byteLength, positions: 0, maxAbsFull: 0, maxAbsCached: 0, maxAbsPadded: 0, maxAbsLogit: 0 };
  const diff = (a: Float32Array, ao: number, b: Float32Array, bo: number) => {
    let d = 0;
    for (let t = 0; t < v; t++) {
      d = Math.max(d, Math.abs(a[ao + t] - b[bo + t]));
      row.maxAbsLogit = Math.max(row.maxAbsLogit, Math.abs(b[bo + t]));
    }
    return d;
  };
  try {
    for (const lang of ONNX_LANGUAGES) {
      const text = (texts.get(lang) ?? []).join('\n');
      const ids = [m.tok.bos, m.tok.langId(lang), ...m.tok.encode(text)].slice(0, positions);
      if (ids.length < positions) throw new Error(`${lang}: only ${ids.length} tokens of held-out text`);
      const logits = ours.forward([ids]);
      const expected = (await logits.read()).data as Float32Array;
      logits.release();
      const ones = ids.map(() => 1);

      const full = await runOnnx(session, m, [ids], [ones], null, 0);
      for (let i = 0; i < ids.length; i++) row.maxAbsFull = Math.max(row.maxAbsFull, diff(full.logits, i * v, expected, i * v));

      const split = positions / 2;
      let step = await runOnnx(session, m, [ids.slice(0, split)], [ones.slice(0, split)], null, 0);
      for (let i = 0; i < split; i++) row.maxAbsCached = Math.max(row.maxAbsCached, diff(step.logits, i * v, expected, i * v));
      for (let i = split; i < ids.length; i++) {
        step = await runOnnx(session, m, [[ids[i]]], [ones.slice(0, i + 1)], step.present, i);
        row.maxAbsCached = Math.max(row.maxAbsCached, diff(step.logits, 0, expected, i * v));
      }

      // A batch of two: the text, and the text cut by 3 tokens and left-padded back to length.
      const pad = 3;
      const short = ids.slice(0, ids.length - pad);
      const batch = await runOnnx(session, m, [ids, [...Array(pad).fill(m.folder.config.padTokenId), ...short]], [ones, [...Array(pad).fill(0), ...short.map(() => 1)]], null, 0);
      for (let i = 0; i < ids.length; i++) row.maxAbsPadded = Math.max(row.maxAbsPadded, diff(batch.logits, i * v, expected, i * v));
      for (let i = 0; i < short.length; i++) row.maxAbsPadded = Math.max(row.maxAbsPadded, diff(batch.logits, (ids.length + pad + i) * v, expected, i * v));
      row.positions += ids.length;
    }
  } finally {
    ours.dispose();
    await session.release();
  }
  return row;
}
