// Teachers that are not our models: GGUF files run by llama.cpp (the desktop runtime) and models
// behind OpenAI-compatible servers (Ollama, vLLM, llama-server, another runtime). They sample —
// and so take part in Compare, Arbitrage and Evaluate — but have no weights here to train or merge.
// ONNX decoder folders run by onnxruntime-web. Their ids carry the backend: `gguf:<name>`,
// `openai:<endpoint>/<model>`, `onnx:<name>`.
import type { SamplingOptions } from '../model/sample.ts';
import type { StopReason } from '../model/generate.ts';

export type TeacherBackendKind = 'llama.cpp' | 'openai' | 'onnx';

/** 'raw': the prompt as text (a base model's continuation); 'chat': the prompt as one user
 *  message through the model's own chat template. */
export type PromptMode = 'raw' | 'chat';

export interface TeacherSummary {
  id: string;
  name: string;
  backend: TeacherBackendKind;
  /** The file, or the server's base URL. */
  location: string;
  /** Chat mode is offered when the model has a template (llama.cpp) or the server has a chat API. */
  chat: boolean;
  /** 'raw' for base models (and our exports), 'chat' for instruct models. */
  defaultMode: PromptMode;
  /** What is known, in words: architecture, parameters, quantisation, context, template. */
  details: Record<string, string | number | boolean>;
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface TeacherRequest {
  prompt: string;
  lang: string;
  sampling: SamplingOptions;
  mode: PromptMode;
  /** Chat mode: the conversation; absent, the prompt is the one user message. */
  messages?: ChatMessage[];
  /** Per-token log-probabilities with this many alternatives. */
  logprobs?: number;
  /** Constrain the reply to this JSON schema where the backend can (a grammar; `response_format`). */
  jsonSchema?: Record<string, unknown>;
}

export interface TokenLogprobText {
  token: string;
  logprob: number;
  top: Array<{ token: string; logprob: number }>;
}

export interface TeacherGeneration {
  text: string;
  /** Generated tokens (the backend's own count). */
  tokens: number;
  /** The backend's token ids where it exposes them (llama.cpp); empty otherwise. */
  ids: number[];
  promptTokens: number | null;
  seconds: number;
  stopReason: StopReason;
  backend: TeacherBackendKind;
  /** Exactly what the model was given: the raw prompt, or the chat template applied to it. */
  appliedPrompt: string;
  logprobs?: TokenLogprobText[];
  /** With a jsonSchema: the reply was constrained to it. */
  constrained?: boolean;
  /** ONNX teachers: the execution provider that ran it ('webgpu' or 'wasm'). */
  executionProvider?: string;
}

export interface TeacherBackend {
  readonly kind: TeacherBackendKind;
  /** The id prefix this backend answers, e.g. 'gguf:' or 'openai:ollama/'. */
  readonly prefix: string;
  list(): Promise<TeacherSummary[]>;
  generate(id: string, req: TeacherRequest, onDelta: (delta: string) => void, shouldStop: () => boolean): Promise<TeacherGeneration>;
  dispose?(): Promise<void>;
}

export const TEACHER_PREFIXES = ['gguf:', 'openai:', 'onnx:'] as const;

export function isTeacherId(id: string): boolean {
  return typeof id === 'string' && TEACHER_PREFIXES.some((p) => id.startsWith(p));
}

/** The teacher backends one engine knows: the platform's (GGUF files) and the endpoints added since. */
export class TeacherHub {
  private readonly backends: TeacherBackend[];

  constructor(backends: readonly TeacherBackend[] = []) {
    this.backends = [...backends];
  }

  add(b: TeacherBackend): void {
    if (this.backends.some((x) => x.prefix === b.prefix)) throw new Error(`a teacher backend answering '${b.prefix}' is already connected`);
    this.backends.push(b);
  }

  async remove(prefix: string): Promise<boolean> {
    const i = this.backends.findIndex((b) => b.prefix === prefix);
    if (i < 0) return false;
    const [b] = this.backends.splice(i, 1);
    await b.dispose?.();
    return true;
  }

  has(prefix: string): boolean {
    return this.backends.some((b) => b.prefix === prefix);
  }

  /** Every backend's teachers (or those of `kinds`); one that cannot list (a server down) is
   *  reported, not fatal. */
  async list(kinds?: readonly TeacherBackendKind[]): Promise<{ teachers: TeacherSummary[]; errors: Array<{ backend: string; message: string }> }> {
    const teachers: TeacherSummary[] = [];
    const errors: Array<{ backend: string; message: string }> = [];
    for (const b of this.backends) {
      if (kinds && !kinds.includes(b.kind)) continue;
      try {
        teachers.push(...(await b.list()));
      } catch (e) {
        errors.push({ backend: b.prefix, message: (e as Error).message });
      }
    }
    return { teachers, errors };
  }

  /** One teacher's summary, asking only the backend it belongs to; null when it lists no such id. */
  async find(id: string): Promise<TeacherSummary | null> {
    return (await this.backendFor(id).list()).find((t) => t.id === id) ?? null;
  }

  backendFor(id: string): TeacherBackend {
    const b = this.backends.find((x) => id.startsWith(x.prefix));
    if (!b) {
      const kind = id.startsWith('gguf:') ? 'GGUF teachers run on the desktop runtime (serve --gguf FILE)' : id.startsWith('onnx:') ? 'load its ONNX folder first (Models → ONNX teachers)' : 'connect its OpenAI-compatible server first';
      throw new Error(`unknown teacher '${id}': ${kind}`);
    }
    return b;
  }

  generate(id: string, req: TeacherRequest, onDelta: (d: string) => void, shouldStop: () => boolean): Promise<TeacherGeneration> {
    return this.backendFor(id).generate(id, req, onDelta, shouldStop);
  }

  async dispose(): Promise<void> {
    for (const b of this.backends.splice(0)) await b.dispose?.();
  }
}
