// A stored model leaves the app as the folder it is (DESIGN §2): one download per file, or one zip
// holding `<name>/<file>` so unzipping gives a folder transformers and this app both load; or as a
// llama.cpp GGUF with an Ollama Modelfile; or as ONNX in the transformers.js layout.
import type { Zippable } from 'fflate';
import type { ModelSummary } from '../../engine/models.ts';
import { saveBytes, safeFileStem } from '../common/download.ts';
import { engine } from '../engineClient.svelte.ts';
import type { GgufDtype } from '../../model/ggufExport.ts';

const mime = (name: string) => (name.endsWith('.json') ? 'application/json' : 'application/octet-stream');

export async function downloadZip(m: ModelSummary): Promise<void> {
  // fflate loads only when someone exports: most sessions never do.
  const [{ zipSync }, files] = await Promise.all([import('fflate'), engine.ready().exportModel(m.id)]);
  const stem = safeFileStem(m.name);
  const entries: Zippable = {};
  // Float weights barely compress; storing them keeps a big export fast. JSON compresses well.
  for (const [name, bytes] of files) entries[`${stem}/${name}`] = [bytes, { level: name.endsWith('.safetensors') ? 0 : 6 }];
  saveBytes(`${stem}.zip`, zipSync(entries), 'application/zip');
}

/** A zip of `<name>/<name>.<dtype>.gguf` and the Ollama `Modelfile` beside it. */
export async function downloadGguf(m: ModelSummary, dtype: GgufDtype): Promise<void> {
  const [{ zipSync }, files] = await Promise.all([import('fflate'), engine.ready().exportModel(m.id, { format: 'gguf', dtype })]);
  const stem = safeFileStem(m.name);
  const entries: Zippable = {};
  for (const [name, bytes] of files) entries[`${stem}/${name}`] = [bytes, { level: name.endsWith('.gguf') ? 0 : 6 }];
  saveBytes(`${stem}-gguf-${dtype}.zip`, zipSync(entries), 'application/zip');
}

/** A zip of the transformers.js folder: `<name>/onnx/model.onnx` and the JSON files beside it. */
export async function downloadOnnx(m: ModelSummary): Promise<void> {
  const [{ zipSync }, files] = await Promise.all([import('fflate'), engine.ready().exportModel(m.id, { format: 'onnx' })]);
  const stem = safeFileStem(m.name);
  const entries: Zippable = {};
  for (const [name, bytes] of files) entries[`${stem}/${name}`] = [bytes, { level: name.endsWith('.onnx') ? 0 : 6 }];
  saveBytes(`${stem}-onnx.zip`, zipSync(entries), 'application/zip');
}

export async function downloadFiles(m: ModelSummary): Promise<void> {
  const files = await engine.ready().exportModel(m.id);
  for (const [name, bytes] of files) {
    saveBytes(name, bytes, mime(name));
    // Back-to-back clicks can be merged into one download; a short pause keeps them apart.
    await new Promise((r) => setTimeout(r, 200));
  }
}
