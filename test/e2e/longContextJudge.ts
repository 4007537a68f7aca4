// Writes a GGUF of a zoo model with its context raised (RoPE has no position table, so llama.cpp
// runs it there): a judge whose context holds the LLM judge's instructions. Its verdicts mean
// nothing — the browser tests check the judging mechanics with it, not the judgement.
// node scripts/run-ts.mjs test/e2e/longContextJudge.ts MODEL_DIR OUT.gguf [CONTEXT]
import { writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { readModelDir } from '../../src/model/folder.node.ts';
import { readModelFolder } from '../../src/model/folder.ts';
import { modelToGguf } from '../../src/model/ggufExport.ts';
import { BpeTokenizer } from '../../src/tokenizer/bpe.ts';

const [dir, out, context = '2048'] = process.argv.slice(2);
const folder = readModelFolder(await readModelDir(dir), basename(dir));
const tok = BpeTokenizer.fromTokenizerJson(folder.tokenizerJson, `${dir}/tokenizer.json`);
writeFileSync(out, modelToGguf({ ...folder, config: { ...folder.config, maxPositionEmbeddings: Number(context) } }, tok, { dtype: 'f32', name: basename(out, '.gguf') }));
