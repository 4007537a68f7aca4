// The engine protocol, written once for every transport (a Worker's postMessage, a WebSocket):
// `serveEngine` answers one connection's messages with an in-process Engine, `connectEngine` is the
// EngineApi a client holds. A transport is a Port that carries plain message objects.
//
// Client → engine                                          Engine → client
//   {id, kind: 'call', method, payload: [args]}              {id, kind: 'return', payload}
//   {id, kind: 'start', method: jobKind, payload: {job, request}}   {id, kind: 'throw', payload: {name, message}}
//   {id, kind: 'subscribe' | 'unsubscribe', payload: {job, from?}} {kind: 'event', job, payload: JobMessage}
//   {id, kind: 'cancel' | 'pause' | 'resume', payload: {job}} {kind: 'event', channel: 'engine', payload: EngineEvent}
//
// A subscribe replays the job's history (events numbered from 0; from `from` on, for a client that
// re-subscribes after a reconnect with what it has already seen), then follows it. A malformed or unknown
// message is answered with a 'throw' (id null when it had none) and the connection goes on.
import { CALL_NAMES, type EngineApi, type EngineEvent, type Job, type JobInfo, type JobKind, type JobOutcome, type JobRequest, JOB_KINDS, newJobId, resultOf } from './api.ts';
import type { Engine } from './engine.ts';
import type { JobMessage } from './jobRegistry.ts';

export interface Port {
  send(message: unknown): void;
  /** Replaces the handler of incoming messages. */
  onMessage(handler: (message: unknown) => void): void;
  /** Called once when the transport is gone (with a reason in words). */
  onClose(handler: (reason: string) => void): void;
  close(): void;
}

type Kind = 'call' | 'start' | 'subscribe' | 'unsubscribe' | 'cancel' | 'pause' | 'resume';
const KINDS: ReadonlySet<string> = new Set<Kind>(['call', 'start', 'subscribe', 'unsubscribe', 'cancel', 'pause', 'resume']);

/** An error the engine answered (as opposed to a transport that went away before it could). */
class EngineError extends Error {}

interface ClientMessage {
  id: number;
  kind: Kind;
  method?: string;
  payload?: unknown;
}

export interface SubscribeAnswer {
  info: JobInfo;
  request: unknown;
}

const errorPayload = (e: unknown) => ({ name: e instanceof Error ? e.name : 'Error', message: e instanceof Error ? e.message : String(e) });

function check(m: unknown): ClientMessage {
  if (m === null || typeof m !== 'object' || Array.isArray(m)) throw new Error('a message must be an object {id, kind, method?, payload}');
  const o = m as Record<string, unknown>;
  if (typeof o.id !== 'number' || !Number.isSafeInteger(o.id)) throw new Error('a message needs a numeric id');
  if (typeof o.kind !== 'string' || !KINDS.has(o.kind)) throw new Error(`unknown message kind ${JSON.stringify(o.kind)?.slice(0, 40)}; one of ${[...KINDS].join(', ')}`);
  return o as unknown as ClientMessage;
}

function jobIdOf(payload: unknown): string {
  const job = (payload as { job?: unknown } | null)?.job;
  if (typeof job !== 'string') throw new Error('payload.job must be a job id');
  return job;
}

/** Serves one connection. Returns the cleanup (also run when the port closes). */
export function serveEngine(engine: Engine, port: Port): () => void {
  const follows = new Map<string, () => void>();
  const send = (m: unknown) => {
    try {
      port.send(m);
    } catch {
      // The connection is going away; its close handler cleans up.
    }
  };
  const offEngine = engine.subscribe((e: EngineEvent) => send({ kind: 'event', channel: 'engine', payload: e }));
  const follow = (jobId: string, from = 0) => {
    follows.get(jobId)?.();
    const rec = engine.jobRecord(jobId);
    const unfollow = rec.follow((payload: JobMessage) => {
      send({ kind: 'event', job: jobId, payload });
      if (payload.type === 'end') follows.delete(jobId);
    }, from);
    if (!rec.outcome) follows.set(jobId, unfollow);
    return rec;
  };
  const handle = async (m: ClientMessage): Promise<unknown> => {
    switch (m.kind) {
      case 'call': {
        if (typeof m.method !== 'string' || !CALL_NAMES.has(m.method)) throw new Error(`unknown method ${JSON.stringify(m.method)?.slice(0, 60)}`);
        const args = m.payload ?? [];
        if (!Array.isArray(args) || args.length > 8) throw new Error(`${m.method}: payload must be the list of arguments`);
        const fn = (engine as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[m.method];
        return fn.apply(engine, args);
      }
      case 'start': {
        if (typeof m.method !== 'string' || !JOB_KINDS.includes(m.method as JobKind)) throw new Error(`unknown job ${JSON.stringify(m.method)?.slice(0, 60)}`);
        const p = m.payload as { job?: unknown; request?: unknown } | null;
        const job = engine.start(m.method as JobKind, p?.request as never, jobIdOf(p));
        const rec = follow(job.id);
        return rec.info();
      }
      case 'subscribe': {
        const from = (m.payload as { from?: unknown } | null | undefined)?.from;
        const rec = follow(jobIdOf(m.payload), typeof from === 'number' && Number.isSafeInteger(from) ? from : 0);
        return { info: rec.info(), request: rec.request } satisfies SubscribeAnswer;
      }
      case 'unsubscribe': {
        const id = jobIdOf(m.payload);
        follows.get(id)?.();
        follows.delete(id);
        return null;
      }
      case 'cancel':
      case 'pause':
      case 'resume': {
        await engine.control(jobIdOf(m.payload), m.kind);
        return engine.jobRecord(jobIdOf(m.payload)).info();
      }
    }
  };
  port.onMessage((raw) => {
    let m: ClientMessage;
    try {
      m = check(raw);
    } catch (e) {
      const id = (raw as { id?: unknown } | null)?.id;
      send({ id: typeof id === 'number' ? id : null, kind: 'throw', payload: errorPayload(e) });
      return;
    }
    handle(m).then(
      (payload) => send({ id: m.id, kind: 'return', payload: payload ?? null }),
      (e) => send({ id: m.id, kind: 'throw', payload: errorPayload(e) }),
    );
  });
  let cleaned = false;
  const cleanup = () => {
    if (cleaned) return;
    cleaned = true;
    offEngine();
    for (const off of follows.values()) off();
    follows.clear();
  };
  port.onClose(cleanup);
  return cleanup;
}

// ---- the client ------------------------------------------------------------------------------------

/** How a followed job ends when its client closes the connection: the engine goes on with it (a
 *  runtime job), so a run that shows it stays active and can be followed again. */
export const DETACHED = 'detached: this client closed its connection to the engine; the job itself goes on there';

export type ConnectionStatus = 'connecting' | 'connected' | 'reconnecting' | 'closed';

export interface ConnectOptions {
  /** Opens the transport again after it was lost (a WebSocket); without it, a lost transport
   *  ends every job still running 'failed' (a Worker that died). */
  reconnect?: { delaysMs: number[] };
  /** What the user is told when the transport is gone ("the engine worker stopped"). */
  lostMessage: string;
}

class RemoteJob<K extends JobKind = JobKind> implements Job<K> {
  readonly history: unknown[] = [];
  ended = false;
  /** The engine has (or may have) this job: its start was answered, or lost with the link. A job
   *  whose start is still on its way is not followed again on a reconnect. */
  known = false;
  readonly outcome: Promise<JobOutcome<never>>;
  private settle!: (o: JobOutcome<never>) => void;
  private readonly listeners = new Set<(e: never) => void>();

  constructor(
    readonly id: string,
    readonly kind: K,
    private readonly client: RemoteEngine,
    public request: JobRequest<K> | null = null,
  ) {
    this.outcome = new Promise((r) => (this.settle = r));
  }

  handle(m: JobMessage): void {
    if (m.type === 'event') {
      if (m.seq < this.history.length) return; // seen before a reconnect
      this.history.push(m.data);
      for (const l of [...this.listeners]) l(m.data as never);
    } else if (m.type === 'end') this.end(m.outcome as JobOutcome<never>);
    // 'state' (paused/running) is news for job lists, which hear it through the engine's 'jobs' event.
  }

  end(o: JobOutcome<never>): void {
    if (this.ended) return;
    this.ended = true;
    this.settle(o);
    this.client.forget(this.id);
  }

  on(listener: (e: never) => void): () => void {
    for (const e of this.history) listener(e as never);
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async result() {
    return resultOf(this.id, await this.outcome);
  }

  async cancel() {
    await this.client.control('cancel', this.id);
  }
  async pause() {
    await this.client.control('pause', this.id);
  }
  async resume() {
    await this.client.control('resume', this.id);
  }
}

/** The EngineApi over a Port; every plain call is forwarded by name. */
export class RemoteEngine {
  status: ConnectionStatus = 'connecting';
  /** Why the connection is not up (null while it is). */
  lastError: string | null = null;
  private port: Port | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly jobsById = new Map<string, RemoteJob>();
  private readonly engineListeners = new Set<(e: EngineEvent) => void>();
  private readonly statusListeners = new Set<(s: ConnectionStatus) => void>();
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;
  private opened: Promise<void>;

  constructor(
    private readonly open: () => Promise<Port>,
    private readonly opts: ConnectOptions,
  ) {
    this.opened = this.connect();
    this.opened.catch(() => {}); // reported through status and ready()
  }

  /** Resolves once connected the first time (rejects when that failed and no reconnect is set). */
  ready(): Promise<void> {
    return this.opened;
  }

  onStatus(listener: (s: ConnectionStatus) => void): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  private setStatus(s: ConnectionStatus): void {
    this.status = s;
    for (const l of this.statusListeners) l(s);
  }

  private async connect(): Promise<void> {
    let port: Port;
    try {
      port = await this.open();
    } catch (e) {
      this.lastError = (e as Error).message;
      if (this.closed) return;
      // A refusal (wrong token, origin) will not change by trying again.
      if (!this.opts.reconnect || (e as { fatal?: boolean }).fatal) {
        this.setStatus('closed');
        this.failAll(this.lastError);
        throw e;
      }
      this.setStatus('reconnecting');
      this.scheduleReconnect();
      return;
    }
    if (this.closed) {
      port.close();
      return;
    }
    this.port = port;
    this.attempt = 0;
    this.lastError = null;
    port.onMessage((m) => this.receive(m));
    port.onClose((reason) => this.lost(port, reason));
    this.setStatus('connected');
    // Jobs followed before a reconnect: follow them again (the history is replayed; seen events
    // are dropped), or end them if the engine no longer knows them.
    for (const job of [...this.jobsById.values()]) {
      if (!job.known) continue;
      this.request('subscribe', undefined, { job: job.id, from: job.history.length }).catch((e: Error) => {
        // The engine no longer knows it (a new runtime process); a link that dropped again retries.
        if (e instanceof EngineError) job.end({ status: 'failed', error: `${this.opts.lostMessage}; the job is gone (${e.message})` });
      });
    }
  }

  private scheduleReconnect(): void {
    const delays = this.opts.reconnect!.delaysMs;
    const wait = delays[Math.min(this.attempt, delays.length - 1)];
    this.attempt++;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.opened = this.connect();
      this.opened.catch(() => {});
    }, wait);
  }

  private lost(port: Port, reason: string): void {
    if (this.port !== port) return;
    this.port = null;
    this.lastError = reason;
    for (const p of this.pending.values()) p.reject(new Error(`${this.opts.lostMessage} (${reason})`));
    this.pending.clear();
    if (this.closed) return;
    if (this.opts.reconnect) {
      this.setStatus('reconnecting');
      this.scheduleReconnect();
    } else {
      this.setStatus('closed');
      this.failAll(`${this.opts.lostMessage} (${reason})`);
    }
  }

  private failAll(error: string): void {
    for (const j of [...this.jobsById.values()]) j.end({ status: 'failed', error });
  }

  private receive(raw: unknown): void {
    const m = raw as { id?: number | null; kind?: string; payload?: unknown; job?: string; channel?: string };
    if (m?.kind === 'event') {
      if (m.channel === 'engine') for (const l of this.engineListeners) l(m.payload as EngineEvent);
      else if (typeof m.job === 'string') this.jobsById.get(m.job)?.handle(m.payload as JobMessage);
      return;
    }
    if (typeof m?.id !== 'number') return; // an error about a message we never sent
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (m.kind === 'return') p.resolve(m.payload);
    else {
      const err = m.payload as { name?: string; message?: string } | undefined;
      const e = new EngineError(err?.message ?? 'the engine failed without a message');
      if (err?.name) e.name = err.name;
      p.reject(e);
    }
  }

  private async request(kind: Kind, method: string | undefined, payload: unknown): Promise<unknown> {
    // A call made while the first connection is being opened waits for it.
    if (!this.port && this.status === 'connecting') await this.opened.catch(() => undefined);
    const port = this.port;
    if (!port) return Promise.reject(new Error(this.lastError ? `${this.opts.lostMessage} (${this.lastError})` : 'not connected yet'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      try {
        port.send({ id, kind, method, payload });
      } catch (e) {
        this.pending.delete(id);
        reject(e as Error);
      }
    });
  }

  call(method: string, args: unknown[]): Promise<unknown> {
    return this.request('call', method, args);
  }

  start<K extends JobKind>(kind: K, request: JobRequest<K>): Job<K> {
    const job = new RemoteJob(newJobId(kind), kind, this, request);
    this.jobsById.set(job.id, job);
    this.request('start', kind, { job: job.id, request }).then(
      () => (job.known = true),
      (e: Error) => {
        // Refused by the engine: the job never ran. A transport that went away before the answer:
        // the job may be running there; the reconnect follows it again (or says it is gone).
        if (e instanceof EngineError || !this.opts.reconnect) job.end({ status: 'failed', error: e.message });
        else job.known = true;
      },
    );
    return job as unknown as Job<K>;
  }

  private readonly attaching = new Map<string, Promise<RemoteJob>>();

  async attach<K extends JobKind>(jobId: string): Promise<Job<K>> {
    const known = this.jobsById.get(jobId);
    if (known) return known as unknown as Job<K>;
    let pending = this.attaching.get(jobId);
    if (!pending) {
      pending = (async () => {
        const job = new RemoteJob(jobId, 'train' as JobKind, this);
        this.jobsById.set(jobId, job);
        try {
          const a = (await this.request('subscribe', undefined, { job: jobId })) as SubscribeAnswer;
          (job as { kind: JobKind }).kind = a.info.kind;
          job.request = a.request as never;
          job.known = true;
          return job;
        } catch (e) {
          if (this.jobsById.get(jobId) === job) this.jobsById.delete(jobId);
          throw e;
        } finally {
          this.attaching.delete(jobId);
        }
      })();
      this.attaching.set(jobId, pending);
    }
    return (await pending) as unknown as Job<K>;
  }

  async control(kind: 'cancel' | 'pause' | 'resume', jobId: string): Promise<void> {
    await this.request(kind, undefined, { job: jobId });
  }

  forget(jobId: string): void {
    this.jobsById.delete(jobId);
  }

  subscribe(listener: (e: EngineEvent) => void): () => void {
    this.engineListeners.add(listener);
    return () => this.engineListeners.delete(listener);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    const port = this.port;
    this.port = null;
    for (const p of this.pending.values()) p.reject(new Error('the connection was closed'));
    this.pending.clear();
    this.failAll(DETACHED);
    this.setStatus('closed');
    port?.close();
  }
}

export type RemoteEngineApi = EngineApi & {
  readonly connection: RemoteEngine;
  close(): void;
};

/** An EngineApi whose every call crosses `open()`'s transport. */
export function connectEngine(open: () => Promise<Port>, opts: ConnectOptions): RemoteEngineApi {
  const conn = new RemoteEngine(open, opts);
  const api: Record<string, unknown> = {
    connection: conn,
    start: conn.start.bind(conn),
    attach: conn.attach.bind(conn),
    control: (jobId: string, action: 'cancel' | 'pause' | 'resume') => conn.control(action, jobId),
    subscribe: conn.subscribe.bind(conn),
    close: conn.close.bind(conn),
  };
  for (const name of CALL_NAMES) api[name] = (...args: unknown[]) => conn.call(name, args);
  return api as unknown as RemoteEngineApi;
}
