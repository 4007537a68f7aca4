// Training the universal tokenizer (`aya-playground train-tokenizer`): the files come back to the
// caller, which writes them where it wants.
import { encodeJson } from '../../model/folder.ts';
import { trainUniversalTokenizer } from '../../tokenizer/universal.ts';
import type { TokenizerTrainRequest, TokenizerTrainResult } from '../api.ts';
import type { EngineCore } from '../core.ts';

/** The universal byte-level BPE on the training split of the 23 languages. */
export async function trainTokenizer(core: EngineCore, req: TokenizerTrainRequest): Promise<TokenizerTrainResult> {
  const t0 = performance.now();
  const tok = trainUniversalTokenizer(await core.resources.documents(), req.vocabSize);
  const files = new Map([
    ['tokenizer.json', encodeJson(tok.toTokenizerJson())],
    ['tokenizer_config.json', encodeJson(tok.tokenizerConfigJson())],
  ]);
  return { files, vocabSize: tok.vocabSize, merges: tok.mergeCount, seconds: (performance.now() - t0) / 1000 };
}
