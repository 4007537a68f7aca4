// Sampling: one completion streamed token by token, and whole completions for the jobs that
// generate many (arbitrage, evaluation), memoised per job.
import { generate, type StopReason } from '../../model/generate.ts';
import { type SamplingOptions, validateSampling } from '../../model/sample.ts';
import { TextStream } from '../../tokenizer/stream.ts';
import { language } from '../../data/languages.ts';
import type { ArbitragePrompt } from '../../arbitrage/arbitrage.ts';
import type { SampleEvent, SampleRequest, SampleResult } from '../api.ts';
import type { EngineCore } from '../core.ts';
import type { JobControl } from '../jobRegistry.ts';

/** Samples a completion of the prompt; every token is an event. A cancel returns the text so far. */
export async function sample(core: EngineCore, req: SampleRequest, ctl: JobControl<SampleEvent>): Promise<SampleResult> {
  validateSampling(req.sampling);
  language(req.lang);
  if (typeof req.prompt !== 'string') throw new Error('sample: the prompt must be text');
  const { model, tokenizer } = await core.library.load(req.modelId);
  const promptIds = tokenizer.encodePrompt(req.prompt, req.lang);
  const stream = new TextStream((ids) => tokenizer.decode(ids, { skipSpecial: true }));
  const ids: number[] = [];
  const t0 = performance.now();
  const it = generate(model, promptIds, req.sampling, ctl.shouldStop);
  let stopReason: StopReason = 'max-tokens';
  for (;;) {
    const r = await it.next();
    if (r.done) {
      stopReason = r.value;
      break;
    }
    ids.push(r.value.id);
    const delta = r.value.id === model.config.eosTokenId ? '' : stream.push(r.value.id);
    ctl.emit({ delta, id: r.value.id, index: r.value.index, tokensPerSecond: ids.length / ((performance.now() - t0) / 1000) });
  }
  stream.finish();
  const ms = performance.now() - t0;
  return { text: stream.text, ids, promptIds, stopReason, tokensPerSecond: ids.length / (ms / 1000), ms };
}

/** A whole completion, without streaming (cancellable between tokens). */
async function complete(core: EngineCore, modelId: string, prompt: string, lang: string, opts: SamplingOptions, stop: () => boolean): Promise<string> {
  const { model, tokenizer } = await core.library.load(modelId);
  const ids: number[] = [];
  const it = generate(model, tokenizer.encodePrompt(prompt, lang), opts, stop);
  for (;;) {
    const r = await it.next();
    if (r.done) break;
    if (r.value.id !== model.config.eosTokenId) ids.push(r.value.id);
  }
  return tokenizer.decode(ids, { skipSpecial: true });
}

export type Completer = (modelId: string, p: ArbitragePrompt, opts: SamplingOptions) => Promise<string>;

/** `complete` for a job, memoised in `cache` when given (same model, prompt and seed → same text). */
export function completer(core: EngineCore, stop: () => boolean, cache?: Map<string, Promise<string>>): Completer {
  return (modelId, p, opts) => {
    const key = JSON.stringify([modelId, p.prompt, p.language, opts]);
    let c = cache?.get(key);
    if (!c) {
      c = complete(core, modelId, p.prompt, p.language, opts, stop);
      cache?.set(key, c);
      // A completion cut short by a cancel must not be served again from the cache.
      c.then(() => stop() && cache?.delete(key), () => cache?.delete(key));
    }
    return c;
  };
}
