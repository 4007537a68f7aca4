// Teachers behind any OpenAI-compatible server — Ollama, vLLM, llama.cpp's llama-server, another
// aya-playground runtime — through the official `openai` client (its SSE parsing, errors and
// timeouts). Runs wherever the engine runs: in the tab's worker (the server must allow the page's
// origin: OLLAMA_ORIGINS for Ollama) and on the runtime.
import OpenAI from 'openai';
import type { StopReason } from '../model/generate.ts';
import { validateSampling } from '../model/sample.ts';
import type { TeacherBackend, TeacherGeneration, TeacherRequest, TeacherSummary } from './teachers.ts';

export interface EndpointConfig {
  /** A short name: teacher ids are `openai:<name>/<model>`. */
  name: string;
  /** e.g. http://127.0.0.1:11434/v1 (Ollama), http://127.0.0.1:8000/v1 (vLLM). */
  baseUrl: string;
  apiKey?: string;
  /** Per request, ms (default 120 000): a slow server fails the generation, not the job. */
  timeoutMs?: number;
}

export const DEFAULT_ENDPOINT_TIMEOUT_MS = 120_000;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$/;

export function checkEndpoint(c: EndpointConfig): EndpointConfig {
  if (!c || typeof c.name !== 'string' || !NAME.test(c.name)) throw new Error(`endpoint name must be 1–40 letters, digits, '.', '_' or '-', got ${JSON.stringify(c?.name)}`);
  let url: URL;
  try {
    url = new URL(c.baseUrl);
  } catch {
    throw new Error(`endpoint '${c.name}': ${JSON.stringify(c.baseUrl)} is not a URL (e.g. http://127.0.0.1:11434/v1)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`endpoint '${c.name}': the URL must be http or https`);
  const timeoutMs = c.timeoutMs ?? DEFAULT_ENDPOINT_TIMEOUT_MS;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1000 || timeoutMs > 3_600_000) throw new Error(`endpoint '${c.name}': timeout must be 1 s to 1 h, got ${timeoutMs} ms`);
  return { name: c.name, baseUrl: url.toString().replace(/\/$/, ''), apiKey: c.apiKey || undefined, timeoutMs };
}

interface ListedModel {
  id: string;
  owned_by?: string;
  backend?: string;
  chat?: boolean;
}

export class OpenAiTeachers implements TeacherBackend {
  readonly kind = 'openai' as const;
  readonly prefix: string;
  private readonly client: OpenAI;
  private models: ListedModel[] | null = null;

  constructor(readonly config: EndpointConfig) {
    this.config = checkEndpoint(config);
    this.prefix = `openai:${this.config.name}/`;
    this.client = new OpenAI({
      baseURL: this.config.baseUrl,
      // Local servers take any key; the client insists on one.
      apiKey: this.config.apiKey ?? 'none',
      timeout: this.config.timeoutMs,
      maxRetries: 1,
      dangerouslyAllowBrowser: true,
    });
  }

  private async fetchModels(): Promise<ListedModel[]> {
    const out: ListedModel[] = [];
    try {
      for await (const m of this.client.models.list()) out.push(m as ListedModel);
    } catch (e) {
      throw new Error(`${this.config.baseUrl}/models: ${describe(e)}`);
    }
    this.models = out;
    return out;
  }

  /** Our own runtime on the other end: it understands `lang`, `top_k` and `min_tokens`. */
  private isPlayground(m: ListedModel | undefined): boolean {
    return m?.owned_by === 'aya-playground' || m?.backend === 'engine' || m?.backend === 'llama.cpp';
  }

  async list(): Promise<TeacherSummary[]> {
    const models = await this.fetchModels();
    return models.map((m) => {
      const chat = m.chat ?? (this.isPlayground(m) ? false : true);
      return {
        id: `${this.prefix}${m.id}`,
        name: `${m.id} @ ${this.config.name}`,
        backend: 'openai',
        location: this.config.baseUrl,
        chat,
        // Servers mostly host instruct models; our runtime's own models are base models.
        defaultMode: chat && !this.isPlayground(m) ? 'chat' : 'raw',
        details: { server: this.config.baseUrl, model: m.id, ...(m.owned_by ? { owned_by: m.owned_by } : {}) },
      };
    });
  }

  async generate(id: string, req: TeacherRequest, onDelta: (d: string) => void, shouldStop: () => boolean): Promise<TeacherGeneration> {
    validateSampling(req.sampling);
    if (!req.jsonSchema) return this.stream(id, req, null, onDelta, shouldStop);
    try {
      return await this.stream(id, req, req.jsonSchema, onDelta, shouldStop);
    } catch (e) {
      // A server without structured output refuses response_format: the reply is then free text
      // (the caller parses it all the same, and is told it was not constrained).
      if (!(e instanceof Refused)) throw e;
      return this.stream(id, req, null, onDelta, shouldStop);
    }
  }

  private async stream(id: string, req: TeacherRequest, schema: Record<string, unknown> | null, onDelta: (d: string) => void, shouldStop: () => boolean): Promise<TeacherGeneration> {
    const model = id.slice(this.prefix.length);
    const listed = (this.models ?? (await this.fetchModels())).find((m) => m.id === model);
    const o = req.sampling;
    const ext = this.isPlayground(listed) ? { lang: req.lang, top_k: o.topK, min_tokens: o.minNewTokens ?? 0 } : {};
    const format = schema ? { response_format: { type: 'json_schema' as const, json_schema: { name: 'reply', schema, strict: true } } } : {};
    const common = { model, max_tokens: o.maxNewTokens, temperature: o.temperature, top_p: o.topP, seed: o.seed, stream: true as const, ...ext, ...format };
    const controller = new AbortController();
    const t0 = performance.now();
    let text = '';
    let chunks = 0;
    let finish: string | null = null;
    let usage: { prompt_tokens?: number; completion_tokens?: number } | null = null;
    const appliedPrompt = req.mode === 'chat' ? JSON.stringify(req.messages ?? [{ role: 'user', content: req.prompt }]) : req.prompt;
    let cancelled = false;
    try {
      const stream =
        req.mode === 'chat'
          ? await this.client.chat.completions.create({ ...common, messages: req.messages ?? [{ role: 'user', content: req.prompt }], stream_options: { include_usage: true } }, { signal: controller.signal })
          : await this.client.completions.create({ ...common, prompt: req.prompt, stream_options: { include_usage: true } } as OpenAI.Completions.CompletionCreateParamsStreaming, { signal: controller.signal });
      for await (const c of stream as AsyncIterable<OpenAI.Completions.Completion | OpenAI.Chat.Completions.ChatCompletionChunk>) {
        if (shouldStop()) {
          cancelled = true;
          controller.abort();
          break;
        }
        const choice = c.choices?.[0] as { text?: string; delta?: { content?: string | null }; finish_reason?: string | null } | undefined;
        const delta = choice?.text ?? choice?.delta?.content ?? '';
        if (delta) {
          text += delta;
          chunks++;
          onDelta(delta);
        }
        if (choice?.finish_reason) finish = choice.finish_reason;
        if (c.usage) usage = c.usage;
      }
    } catch (e) {
      if (schema && chunks === 0 && e instanceof OpenAI.APIError && (e.status === 400 || e.status === 422) && /response_format|json_schema|structured/i.test(e.message)) throw new Refused();
      if (!cancelled) throw new Error(`${this.config.name} (${this.config.baseUrl}), model ${model}: ${describe(e)}`);
    }
    const stopReason: StopReason = cancelled ? 'cancelled' : finish === 'length' ? 'max-tokens' : 'eos';
    return {
      text,
      // The server's count when it gives one; else the streamed chunks (one token each on the servers we know).
      tokens: usage?.completion_tokens ?? chunks,
      ids: [],
      promptTokens: usage?.prompt_tokens ?? null,
      seconds: (performance.now() - t0) / 1000,
      stopReason,
      backend: 'openai',
      appliedPrompt,
      ...(req.jsonSchema ? { constrained: schema !== null } : {}),
    };
  }
}

/** The server refused response_format. */
class Refused extends Error {}

function describe(e: unknown): string {
  if (e instanceof OpenAI.APIConnectionTimeoutError) return 'timed out (the endpoint\'s timeout setting)';
  if (e instanceof OpenAI.APIConnectionError) return `cannot connect (${(e.cause as Error | undefined)?.message ?? e.message}); is the server running, and does it allow this origin?`;
  if (e instanceof OpenAI.APIError) return `HTTP ${e.status ?? '?'}: ${e.message}`;
  return (e as Error).message ?? String(e);
}
