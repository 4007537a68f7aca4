// Every door where outside data enters the playground, as a fuzz target: the real entry point (the
// model library's import, the JSONL readers, the mergekit YAML reader, the GGUF and ONNX teacher
// loaders), fed valid inputs mutated and inputs made from scratch.
import fc from 'fast-check';
import YAML from 'yaml';
import { ModelLibrary } from '../../src/engine/library.ts';
import type { DeviceManager } from '../../src/engine/device.ts';
import type { ModelFiles } from '../../src/model/folder.ts';
import { readGgufHeader } from '../../src/model/gguf.ts';
import { checkTeacherHeader } from '../../src/runtime/llamaTeachers.ts';
import { OnnxTeachers } from '../../src/engine/onnxTeachers.ts';
import { parsePairsJsonl } from '../../src/train/data.ts';
import { parsePreferenceJsonl, parsePromptsJsonl } from '../../src/arbitrage/arbitrage.ts';
import { parseDpoPairsJsonl } from '../../src/train/dpo.ts';
import { parseMergekitYaml } from '../../src/merge/yaml.ts';
import { LANGUAGE_CODES } from '../../src/data/languages.ts';
import { memoryStore } from '../unit/memoryStore.ts';
import type { Door } from './harness.ts';
import { applyByteEdits, applyJsonEdits, byteEdits, type JsonValue, jsonEdits, mutatedJsonBytes, utf8 } from './mutate.ts';
import { MERGE_YAMLS, PREFERENCE_LINES, PROMPT_LINES, SFT_LINES, tinyModel } from './fixtures.ts';

const FOLDER = 'fuzz-model';
const DTYPES = ['F32', 'F16', 'BF16', 'F64', 'I8', 'U8', 'I32', 'BOOL', 'F8_E4M3'];

/** The library import the Models panel, the CLI and the runtime use (no GPU is touched on import). */
function importFolder(files: ModelFiles): Promise<unknown> {
  const lib = new ModelLibrary(memoryStore(), null as unknown as DeviceManager, async () => tinyModel().tok, 'fuzz');
  return lib.import(FOLDER, files);
}

const withFile = (name: string, bytes: Uint8Array | null, base: ModelFiles = tinyModel().files): ModelFiles => {
  const files = new Map(base);
  if (bytes) files.set(name, bytes);
  else files.delete(name);
  return files;
};

const parseJsonBytes = (b: Uint8Array): JsonValue => JSON.parse(new TextDecoder().decode(b));

/** A JSON file of the folder, mutated. */
function jsonFileDoor(name: string, file: string, words: string[], place: RegExp, what: string): Door<Uint8Array> {
  return {
    name,
    what,
    input: fc.constant(null).chain(() => mutatedJsonBytes(parseJsonBytes(tinyModel().files.get(file)!), words)),
    enter: async (bytes) => void (await importFolder(withFile(file, bytes))),
    names: { file: new RegExp(`${FOLDER}(/${file.replace(/\./g, '\\.')})?\\b`), place },
  };
}

// ---- safetensors ----

/** The header's [start, end) in a safetensors file (for edits aimed at it). */
const headerRegion = (b: Uint8Array): [number, number] => {
  if (b.length < 8) return [0, b.length];
  const n = new DataView(b.buffer, b.byteOffset).getUint32(0, true);
  return [0, Math.min(b.length, 8 + n)];
};
const dataRegion = (b: Uint8Array): [number, number] => [headerRegion(b)[1], b.length];

/** A safetensors file with its header JSON edited and re-framed (so the edit reaches the checks). */
function reframedHeader(bytes: Uint8Array, edit: (h: JsonValue) => JsonValue): Uint8Array {
  const [, end] = headerRegion(bytes);
  const header = edit(JSON.parse(new TextDecoder().decode(bytes.subarray(8, end))));
  const text = utf8(JSON.stringify(header));
  const out = new Uint8Array(8 + text.length + (bytes.length - end));
  new DataView(out.buffer).setUint32(0, text.length, true);
  out.set(text, 8);
  out.set(bytes.subarray(end), 8 + text.length);
  return out;
}

function mutatedSafetensors(bytes: () => Uint8Array): fc.Arbitrary<Uint8Array> {
  const tensorWords = () => tinyModel().folder.weights.keys();
  return fc.oneof(
    { weight: 2, arbitrary: byteEdits.map((e) => applyByteEdits(bytes(), e)) },
    { weight: 2, arbitrary: byteEdits.map((e) => applyByteEdits(bytes(), e, headerRegion)) },
    { weight: 4, arbitrary: jsonEdits([...DTYPES, 'dtype', 'shape', 'data_offsets', '__metadata__', ...tensorWords()]).map((e) => reframedHeader(bytes(), (h) => applyJsonEdits(h, e))) },
    // NaN / Inf / huge weights inside the data.
    { weight: 2, arbitrary: fc.array(fc.record({ op: fc.constant('f32' as const), at: fc.nat(), value: fc.constantFrom(NaN, Infinity, -Infinity, 3.4e38) }), { minLength: 1, maxLength: 3 }).map((e) => applyByteEdits(bytes(), e, dataRegion)) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 256 }) },
  );
}

const SAFETENSORS_PLACE = /tensor '|header|byte|offset|__metadata__|dtype|shape|missing \d+ tensor|unexpected \d+ tensor/;

const safetensors: Door<Uint8Array> = {
  name: 'safetensors',
  what: 'model.safetensors of an imported model folder (Models panel, CLI, runtime)',
  input: fc.constant(null).chain(() => mutatedSafetensors(() => tinyModel().files.get('model.safetensors')!)),
  enter: async (bytes) => void (await importFolder(withFile('model.safetensors', bytes))),
  names: { file: new RegExp(`${FOLDER}/model\\.safetensors\\b`), place: SAFETENSORS_PLACE },
};

const shardedIndex: Door<ModelFiles> = {
  name: 'safetensors-index',
  what: 'a sharded folder: model.safetensors.index.json and its shards',
  input: fc.constant(null).chain(() => {
    const base = tinyModel().sharded;
    const shards = [...base.keys()].filter((n) => n.endsWith('.safetensors'));
    const index = parseJsonBytes(base.get('model.safetensors.index.json')!);
    return fc.oneof(
      { weight: 3, arbitrary: mutatedJsonBytes(index, [...shards, 'weight_map', 'metadata', 'total_size', '../x.safetensors', ...tinyModel().folder.weights.keys()]).map((b) => withFile('model.safetensors.index.json', b, base)) },
      { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...shards), fc.constant(null).chain(() => fc.nat())).chain(([s]) => mutatedSafetensors(() => base.get(s)!).map((b) => withFile(s, b, base))) },
      { weight: 1, arbitrary: fc.constantFrom(...shards).map((s) => withFile(s, null, base)) },
    );
  }),
  enter: async (files) => void (await importFolder(files)),
  names: { file: new RegExp(`${FOLDER}/(model\\.safetensors\\.index\\.json|model-\\d+-of-\\d+\\.safetensors)\\b`), place: new RegExp(`${SAFETENSORS_PLACE.source}|weight_map|metadata|shard|JSON|UTF-8`) },
};

// ---- JSON files of the folder ----

// V8's JSON errors give a position or quote the text around the mistake ('…"strip": fa�se…').
const JSON_PLACE = /'[A-Za-z_][\w.]*'|"[\w.]+"|\b[a-z]+_[a-z_]+\b|position \d+|\.\.\."|is not valid JSON|line \d+|column \d+|byte \d+|JSON object|token|merge|vocab|\b(decoder|normalizer|model|version|type)\b/;

const configJson = jsonFileDoor('config.json', 'config.json', ['cohere', 'llama', 'silu', 'gelu', 'vocab_size', 'hidden_size', 'num_attention_heads', 'num_key_value_heads', 'bos_token_id'], JSON_PLACE, 'config.json of an imported model folder');
const tokenizerJson = jsonFileDoor('tokenizer.json', 'tokenizer.json', ['BPE', 'ByteLevel', 'vocab', 'merges', 'added_tokens', 'special', 'content', 'id', '<pad>', '<bos>', '<eos>', '<lang:fra>', 'Ġ', 'Ċ'], JSON_PLACE, 'tokenizer.json of an imported model folder');
const playgroundJson = jsonFileDoor('playground.json', 'playground.json', ['family', 'languages', 'trained', 'parent', 'fra', 'romance'], JSON_PLACE, 'playground.json of an imported model folder');

// ---- JSONL ----

/** Lines of a JSONL file: valid records with edited lines, and bytes edits on the text. */
function jsonl(lines: object[], words: string[]): fc.Arbitrary<string> {
  const text = lines.map((l) => JSON.stringify(l)).join('\n') + '\n';
  return fc.oneof(
    { weight: 3, arbitrary: fc.tuple(fc.nat(), jsonEdits(words)).map(([i, e]) => lines.map((l, k) => JSON.stringify(k === i % lines.length ? applyJsonEdits(l as JsonValue, e) : l)).join('\n')) },
    { weight: 2, arbitrary: byteEdits.map((e) => new TextDecoder().decode(applyByteEdits(utf8(text), e))) },
    { weight: 1, arbitrary: fc.array(fc.oneof(fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? ''), fc.string()), { maxLength: 4 }).map((ls) => ls.join('\n')) },
    { weight: 1, arbitrary: fc.constantFrom('', '\n\n', '\r\n', '\ufeff' + text, text.replace(/\n/g, '\r\n')) },
  );
}

// After the file's name: its line ("sft.jsonl:3: …"), or the file as a whole ("sft.jsonl: no records").
const LINE_PLACE = (_file: string) => /^(\d+: | no )/;
const FILE = (file: string) => new RegExp(`^${file.replace(/\./g, '\\.')}:`);
const LANG_WORDS = [...LANGUAGE_CODES.slice(0, 4), 'xx', 'FRA', 'fr'];

const sftJsonl: Door<string> = {
  name: 'sft-jsonl',
  what: 'SFT pairs JSONL (train --data, the Train panel)',
  input: jsonl(SFT_LINES, ['prompt', 'completion', 'language', ...LANG_WORDS]),
  enter: (t) => void parsePairsJsonl(t, 'sft.jsonl'),
  names: { file: FILE('sft.jsonl'), place: LINE_PLACE('sft.jsonl') },
};
const preferenceJsonl: Door<string> = {
  name: 'preference-jsonl',
  what: 'TRL preference JSONL (arbitrage import)',
  input: jsonl(PREFERENCE_LINES, ['prompt', 'chosen', 'rejected', 'language', ...LANG_WORDS]),
  enter: (t) => void parsePreferenceJsonl(t, 'prefs.jsonl'),
  names: { file: FILE('prefs.jsonl'), place: LINE_PLACE('prefs.jsonl') },
};
const dpoJsonl: Door<{ text: string; language?: string }> = {
  name: 'dpo-jsonl',
  what: 'TRL preference JSONL for DPO (dpo --pairs, the Preference panel)',
  input: fc.record({ text: jsonl(PREFERENCE_LINES, ['prompt', 'chosen', 'rejected', 'language', ...LANG_WORDS]), language: fc.option(fc.constantFrom(...LANG_WORDS), { nil: undefined }) }),
  enter: ({ text, language }) => void parseDpoPairsJsonl(text, 'dpo.jsonl', language),
  names: { file: FILE('dpo.jsonl'), place: LINE_PLACE('dpo.jsonl') },
};
const promptsJsonl: Door<{ text: string; language?: string }> = {
  name: 'prompts-jsonl',
  what: 'prompt sets and m-ArenaHard lines (Evaluate, arbitrage --prompts)',
  input: fc.record({ text: jsonl(PROMPT_LINES, ['prompt', 'language', 'lang', 'reference', 'id', 'question_id', ...LANG_WORDS]), language: fc.option(fc.constantFrom(...LANG_WORDS), { nil: undefined }) }),
  enter: ({ text, language }) => void parsePromptsJsonl(text, 'prompts.jsonl', language),
  names: { file: FILE('prompts.jsonl'), place: LINE_PLACE('prompts.jsonl') },
};

// ---- mergekit YAML ----

const MERGE_WORDS = ['linear', 'ties', 'dare_ties', 'slerp', 'task_arithmetic', 'model_stock', 'passthrough', 'merge_method', 'models', 'model', 'parameters', 'weight', 'density', 't', 'base_model', 'slices', 'sources', 'layer_range', 'dtype', 'tokenizer_source', 'filter', 'value', 'normalize', 'rescale'];

const mergekitYaml: Door<string> = {
  name: 'mergekit-yaml',
  what: 'mergekit YAML (merge CONFIG.yml, the Merge panel)',
  input: fc.oneof(
    { weight: 3, arbitrary: fc.tuple(fc.constantFrom(...MERGE_YAMLS), jsonEdits(MERGE_WORDS)).map(([y, e]) => YAML.stringify(applyJsonEdits(YAML.parse(y), e))) },
    { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...MERGE_YAMLS), byteEdits).map(([y, e]) => new TextDecoder().decode(applyByteEdits(utf8(y), e))) },
    { weight: 1, arbitrary: fc.oneof(fc.string(), fc.jsonValue({ maxDepth: 3 }).map((v) => YAML.stringify(v)), fc.constantFrom('', '---\n---\n', 'a: &x [*x]\n', '&a [*a, *a]', 'merge_method: linear\nmodels: !!binary AAAA\n')) },
  ),
  enter: (t) => void parseMergekitYaml(t, 'merge.yml'),
  names: { file: /^merge\.yml:/, place: /line \d+|'[^']*'|\b(models|slices|sources|parameters|merge_method|base_model|dtype|tokenizer_source|tokenizer|layer_range|model|weight|density|t|filter|value|YAML|mapping|empty file|comment|documents?)\b|\[\d+\]/ },
};

// ---- GGUF ----

const gguf: Door<Uint8Array> = {
  name: 'gguf',
  what: 'a GGUF teacher file (serve --gguf, arbitrage --gguf): header and tensor table',
  input: fc.constant(null).chain(() =>
    fc.oneof(
      { weight: 3, arbitrary: byteEdits.map((e) => applyByteEdits(tinyModel().gguf, e, (b) => [0, Math.min(b.length, 4096)])) },
      { weight: 1, arbitrary: byteEdits.map((e) => applyByteEdits(tinyModel().gguf, e)) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 128 }).map((b) => Uint8Array.from([0x47, 0x47, 0x55, 0x46, 3, 0, 0, 0, ...b])) },
    ),
  ),
  enter: (bytes) => checkTeacherHeader(readGgufHeader(bytes, 'fuzz.gguf'), 'fuzz.gguf'),
  names: { file: /^fuzz\.gguf: /, place: /\bbytes?\b|offset|tensor|key|'[^']*'|general\.|tokenizer|version|magic|alignment|count|string|type|architecture/ },
};

// ---- ONNX ----

let onnxTeachers: OnnxTeachers | null = null;
let onnxCount = 0;

const ONNX_FILES = ['onnx/model.onnx', 'config.json', 'tokenizer.json', 'tokenizer_config.json'];

const onnxFolder: Door<{ file: string; bytes: Uint8Array | null }> = {
  name: 'onnx',
  what: 'an ONNX decoder folder (the Teachers panel, serve): graph, config.json, tokenizer files',
  input: fc.constant(null).chain(() => {
    const base = tinyModel().onnx;
    const json = (f: string) => parseJsonBytes(base.get(f)!);
    return fc.oneof(
      { weight: 3, arbitrary: byteEdits.map((e) => ({ file: 'onnx/model.onnx', bytes: applyByteEdits(base.get('onnx/model.onnx')!, e) as Uint8Array | null })) },
      { weight: 2, arbitrary: mutatedJsonBytes(json('config.json'), ['num_attention_heads', 'hidden_size', 'num_hidden_layers', 'num_key_value_heads', 'head_dim', 'vocab_size']).map((b) => ({ file: 'config.json', bytes: b as Uint8Array | null })) },
      { weight: 1, arbitrary: mutatedJsonBytes(json('tokenizer.json'), ['BPE', 'vocab', 'merges', 'added_tokens', 'content', 'id']).map((b) => ({ file: 'tokenizer.json', bytes: b as Uint8Array | null })) },
      { weight: 1, arbitrary: fc.constantFrom(...ONNX_FILES).map((file) => ({ file, bytes: null })) },
    );
  }),
  enter: async ({ file, bytes }) => {
    const name = `fuzz${++onnxCount}`;
    await onnxTeachers!.add({ name, files: withFile(file, bytes, tinyModel().onnx), source: 'fuzz' });
    await onnxTeachers!.remove(name);
  },
  names: { file: /^fuzz\d+(\/[\w./]+)?: /, place: /onnx\/model\.onnx|config\.json|tokenizer(_config)?\.json|no \.onnx|missing|needs|'[\w.]+'|\w+\[\d+\]|byte \d+|position \d+|\.\.\."|is not valid JSON|JSON object/ },
  foreign: /^fuzz\d+\/onnx\/model\.onnx: onnxruntime could not load it \(/,
  timeoutMs: 20_000,
  setup: async () => void (onnxTeachers = new OnnxTeachers(['wasm'])),
  teardown: async () => void (onnxTeachers = null),
};

export const PARSER_DOORS: Door<any>[] = [safetensors, shardedIndex, configJson, tokenizerJson, playgroundJson, sftJsonl, preferenceJsonl, dpoJsonl, promptsJsonl, mergekitYaml, gguf, onnxFolder];
