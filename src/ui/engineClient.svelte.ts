// The UI's handle on the engine, on either side of the switch in the header: "This tab" (the Engine
// in a Web Worker) or "Desktop runtime" (`aya-playground serve`, over a WebSocket). Panels see only
// `engine.ready()`, an EngineApi; which side answers is this object's business. It tracks each
// side's state for the header and the banners, recovers from a lost device or a dead worker without
// reloading the page, and reconnects to a runtime that went away.
import type { EngineApi, EngineInfo, JobInfo } from '../engine/api.ts';
import type { DeviceLoss } from '../gpu/context.ts';
import { connectEngine, type Port, type RemoteEngineApi } from '../engine/protocol.ts';
import { webSocketPort } from '../engine/webSocketPort.ts';

export type Side = 'tab' | 'runtime';
export type EngineStatus = 'idle' | 'starting' | 'ready' | 'lost' | 'error' | 'reconnecting';

const SIDE_KEY = 'engine.side';
const RUNTIME_KEY = 'engine.runtime';
const RECONNECT_MS = [500, 1000, 2000, 5000];

/** Kinds of job that save models. */
const MODEL_JOBS = new Set(['train', 'dpo', 'merge', 'zoo', 'arbitrageExperiment']);

/** One side: its connection, what it said about itself, how it is doing. */
class SideState {
  status = $state<EngineStatus>('idle');
  info = $state<EngineInfo | null>(null);
  error = $state<string | null>(null);
  lost = $state<DeviceLoss | null>(null);
  jobs = $state<JobInfo[]>([]);
  /** How many of the jobs that save models have ended — it grows when one ends in any tab
   *  connected to this engine, so that lists of models can be read again. */
  modelJobsEnded = $state(0);
  api: RemoteEngineApi | null = null;

  constructor(readonly side: Side) {}

  /** Listens to the engine's news and asks who it is. */
  protected async attach(api: RemoteEngineApi): Promise<void> {
    this.api = api;
    api.subscribe((e) => {
      if (this.api !== api) return;
      if (e.type === 'device-lost') {
        this.lost = e.loss;
        this.status = 'lost';
      } else {
        this.jobs = e.jobs;
        const ended = e.jobs.filter((j) => MODEL_JOBS.has(j.kind) && j.state !== 'running' && j.state !== 'paused').length;
        if (ended !== this.modelJobsEnded) this.modelJobsEnded = ended;
      }
    });
    await api.connection.ready();
    this.info = await api.info();
    this.jobs = await api.jobs();
    this.status = 'ready';
    this.error = null;
  }

  /** Resolves once this side is ready (waiting through reconnects); rejects when it is not
   *  connecting at all or failed for good. */
  async whenReady(): Promise<void> {
    for (;;) {
      if (this.status === 'ready') return;
      if (this.status === 'idle') throw new Error(`not connected to ${this.side === 'runtime' ? 'a desktop runtime' : 'the engine'}`);
      if (this.status === 'error') throw new Error(this.error ?? 'the engine failed to start');
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  async restart(): Promise<void> {
    if (!this.api) return;
    this.status = 'starting';
    try {
      this.info = await this.api.restart();
      this.lost = null;
      this.error = null;
      this.status = 'ready';
    } catch (e) {
      this.status = 'error';
      this.error = (e as Error).message;
    }
  }
}

function workerPort(worker: Worker): Port {
  const closeHandlers: Array<(r: string) => void> = [];
  worker.addEventListener('error', (ev) => {
    for (const h of closeHandlers) h(ev.message || 'unknown error');
  });
  return {
    send: (m) => worker.postMessage(m),
    onMessage: (h) => worker.addEventListener('message', (ev) => h(ev.data)),
    onClose: (h) => closeHandlers.push(h),
    close: () => worker.terminate(),
  };
}

class TabSide extends SideState {
  private worker: Worker | null = null;

  constructor() {
    super('tab');
  }

  /** A worker with its engine (no GPU yet: the device comes with the first call that needs it). */
  ensure(): RemoteEngineApi {
    if (this.api) return this.api;
    this.worker = new Worker(new URL('../worker/engine.worker.ts', import.meta.url), { type: 'module', name: 'engine' });
    const api = connectEngine(() => Promise.resolve(workerPort(this.worker!)), { lostMessage: 'the engine worker stopped' });
    this.api = api;
    api.connection.onStatus((s) => {
      if (s === 'closed' && this.api === api) {
        this.status = 'error';
        this.error = `The engine worker crashed: ${api.connection.lastError ?? 'unknown error'}`;
      }
    });
    return api;
  }

  async start(): Promise<void> {
    this.stop();
    this.status = 'starting';
    this.error = null;
    this.lost = null;
    try {
      await this.attach(this.ensure());
    } catch (e) {
      if (this.status === 'starting') {
        this.status = 'error';
        this.error = (e as Error).message;
      }
    }
  }

  stop(): void {
    const api = this.api;
    this.api = null;
    api?.close();
    this.worker?.terminate();
    this.worker = null;
  }

  /** A new device in the same worker; if that fails, a new worker. */
  override async restart(): Promise<void> {
    if (!this.api) return this.start();
    await super.restart();
    if (this.status === 'error') await this.start();
  }
}

export interface RuntimeTarget {
  /** http(s)://host:port of the runtime. */
  origin: string;
  /** null: the page was served by the runtime, whose cookie carries the token. */
  token: string | null;
}

/** "http://127.0.0.1:8737/?token=abc" (what serve prints), or host:port and a token apart. */
export function parseRuntimeUrl(text: string, token?: string): RuntimeTarget {
  const t = text.trim();
  if (!t) throw new Error('Paste the URL that `aya-playground serve` printed.');
  let u: URL;
  try {
    u = new URL(/^[a-z]+:\/\//i.test(t) ? t : `http://${t}`);
  } catch {
    throw new Error(`'${t}' is not a URL; paste the one that \`aya-playground serve\` printed.`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`the runtime's URL starts with http://, not ${u.protocol}//`);
  const tok = token?.trim() || u.searchParams.get('token');
  if (!tok) throw new Error('That URL has no token (…/?token=…); paste the whole URL that `aya-playground serve` printed.');
  return { origin: u.origin, token: tok };
}

class RuntimeSide extends SideState {
  target = $state<RuntimeTarget | null>(null);
  /** The page itself came from a runtime (opened with the URL serve printed). */
  servedHere = $state(false);

  constructor() {
    super('runtime');
  }

  get label(): string {
    return this.target ? this.target.origin.replace(/^https?:\/\//, '') : '';
  }

  async connect(target: RuntimeTarget): Promise<void> {
    this.disconnect();
    this.target = target;
    this.status = 'starting';
    this.error = null;
    this.lost = null;
    const wsUrl = `${target.origin.replace(/^http/, 'ws')}/engine${target.token ? `?token=${encodeURIComponent(target.token)}` : ''}`;
    const api = connectEngine(
      async () => {
        try {
          return await webSocketPort(new WebSocket(wsUrl), `the desktop runtime at ${this.label}`);
        } catch (e) {
          const why = await this.explain(target, (e as Error).message).catch((f: Error) => f);
          throw why instanceof Error ? why : new Error(why);
        }
      },
      { lostMessage: `the desktop runtime at ${target.origin.replace(/^https?:\/\//, '')} went away`, reconnect: { delaysMs: RECONNECT_MS } },
    );
    this.api = api;
    api.connection.onStatus((s) => {
      if (this.api !== api) return;
      if (s === 'reconnecting') {
        this.status = 'reconnecting';
        this.error = `The desktop runtime at ${this.label} is not answering (${api.connection.lastError ?? 'connection lost'}). Reconnecting… Jobs running there go on; start \`aya-playground serve\` again if it stopped.`;
      } else if (s === 'closed') {
        this.status = 'error';
        this.error = api.connection.lastError ?? `The connection to the desktop runtime at ${this.label} closed.`;
      } else if (s === 'connected' && this.status === 'reconnecting') {
        // Back: ask again who it is (it may be a new run with a new device).
        void api.info().then(
          (i) => ((this.info = i), (this.status = 'ready'), (this.error = null)),
          (e: Error) => ((this.status = 'error'), (this.error = e.message)),
        );
        void api.jobs().then((j) => (this.jobs = j), () => undefined);
      }
    });
    try {
      await this.attach(api);
    } catch (e) {
      if (this.api === api && this.status === 'starting') {
        // Connected but the engine failed to answer (no GPU, say): an error, not a reconnect.
        this.status = api.connection.status === 'reconnecting' ? 'reconnecting' : 'error';
        this.error = (e as Error).message;
      }
    }
  }

  /** Why the WebSocket did not open, in words (a browser only says "1006"): ask over HTTP. */
  private async explain(target: RuntimeTarget, fallback: string): Promise<string> {
    let r: Response;
    try {
      r = await fetch(`${target.origin}/runtime.json${target.token ? `?token=${encodeURIComponent(target.token)}` : ''}`, { credentials: 'include', cache: 'no-store' });
    } catch {
      return `Nothing answers at ${target.origin} — is \`aya-playground serve\` running there?`;
    }
    if (r.ok) return fallback;
    // Connected before, now a wrong token: the runtime was started again (each run has its own).
    const restarted = r.status === 401 && this.info !== null && target.token !== null;
    const why = restarted
      ? `The desktop runtime at ${this.label} was started again (it has a new token), so this page cannot reconnect: open the URL it printed. Jobs that ran in the old one stopped with it; their checkpoints are in its library.`
      : `The desktop runtime at ${this.label} refused the connection: ${(await r.text().catch(() => '')).trim() || `HTTP ${r.status}`}`;
    // Wrong token or origin: trying again will not help (a lockout, 429, passes).
    if (r.status === 401 || r.status === 403 || r.status === 421) throw Object.assign(new Error(why), { fatal: true });
    return why;
  }

  disconnect(): void {
    const api = this.api;
    this.api = null;
    api?.close();
    this.status = 'idle';
    this.info = null;
    this.jobs = [];
  }
}

class EngineClient {
  side = $state<Side>('tab');
  readonly tab = new TabSide();
  readonly runtime = new RuntimeSide();
  /** Settles once start() has chosen a side and begun connecting it. */
  readonly booted: Promise<void>;
  private boot!: () => void;

  constructor() {
    this.booted = new Promise((r) => (this.boot = r));
  }

  private get current(): SideState {
    return this.side === 'runtime' ? this.runtime : this.tab;
  }
  get status(): EngineStatus {
    return this.current.status;
  }
  get info(): EngineInfo | null {
    return this.current.info;
  }
  get error(): string | null {
    return this.current.error;
  }
  get lost(): DeviceLoss | null {
    return this.current.lost;
  }
  get api(): EngineApi | null {
    return this.current.api;
  }
  get modelJobsEnded(): number {
    return this.current.modelJobsEnded;
  }

  /** Starts the side the user last chose; a page opened with the link serve printed (or served by a
   *  runtime) connects to that runtime. */
  async start(): Promise<void> {
    const fromUrl = this.tokenFromAddress();
    const served = await this.servedByRuntime();
    let target: RuntimeTarget | null = null;
    if (fromUrl) target = { origin: location.origin, token: fromUrl };
    else if (served) target = { origin: location.origin, token: null };
    else target = this.savedTarget();
    this.runtime.servedHere = served;
    const saved = localStorage.getItem(SIDE_KEY) as Side | null;
    this.side = fromUrl || (served && saved !== 'tab') ? 'runtime' : saved === 'runtime' && target ? 'runtime' : 'tab';
    if (target && this.side === 'runtime') {
      this.saveTarget(target);
      const c = this.runtime.connect(target);
      this.boot();
      await c;
    } else {
      const c = this.tab.start();
      this.boot();
      await c;
    }
  }

  /** Switches the header's control; the tab's engine starts when first needed. */
  async use(side: Side): Promise<void> {
    this.side = side;
    localStorage.setItem(SIDE_KEY, side);
    if (side === 'tab' && (this.tab.status === 'idle' || this.tab.status === 'error')) await this.tab.start();
    if (side === 'runtime' && this.runtime.status === 'idle') {
      const t = this.savedTarget() ?? (this.runtime.servedHere ? { origin: location.origin, token: null } : null);
      if (t) await this.runtime.connect(t);
    }
  }

  /** Connects the runtime side in the background (a run there to follow again) without switching
   *  the header to it; false when there is no runtime to connect to. */
  ensureRuntime(): boolean {
    if (this.runtime.status !== 'idle') return true;
    const t = this.savedTarget() ?? (this.runtime.servedHere ? { origin: location.origin, token: null } : null);
    if (!t) return false;
    void this.runtime.connect(t);
    return true;
  }

  async connectRuntime(urlText: string, token?: string): Promise<void> {
    const target = parseRuntimeUrl(urlText, token);
    this.saveTarget(target);
    this.side = 'runtime';
    localStorage.setItem(SIDE_KEY, 'runtime');
    await this.runtime.connect(target);
  }

  disconnectRuntime(): void {
    this.runtime.disconnect();
    localStorage.removeItem(RUNTIME_KEY);
    void this.use('tab');
  }

  restart(): Promise<void> {
    return this.current.restart();
  }

  /** The active side's EngineApi, or an error that says why the engine is not usable now. */
  ready(): EngineApi {
    const s = this.current;
    const where = this.side === 'runtime' ? 'The desktop runtime' : 'The engine';
    if (!s.api || s.status === 'starting' || s.status === 'idle') throw new Error(`${where} is still starting.`);
    if (s.status === 'lost') throw new Error('The GPU device was lost. Restart the engine first.');
    if (s.status === 'reconnecting') throw new Error(s.error ?? `${where} is not connected; reconnecting…`);
    if (s.status === 'error') throw new Error(s.error ?? `${where} failed to start.`);
    return s.api;
  }

  /** The other side's EngineApi when it can be reached (to copy models across), else null. */
  other(): { side: Side; api: EngineApi } | null {
    const side = this.otherSide;
    if (side === 'tab') return { side, api: this.tab.ensure() };
    if (side === 'runtime' && this.runtime.api) return { side, api: this.runtime.api };
    return null;
  }

  /** Which side a model can be copied to now: the tab's always, a runtime's while it is connected. */
  get otherSide(): Side | null {
    if (this.side === 'runtime') return 'tab';
    return this.runtime.status === 'ready' ? 'runtime' : null;
  }

  private tokenFromAddress(): string | null {
    const u = new URL(location.href);
    const t = u.searchParams.get('token');
    if (!t) return null;
    // Out of the address bar (and history); the runtime's cookie and our storage keep it.
    u.searchParams.delete('token');
    history.replaceState(history.state, '', u.pathname + (u.search === '?' ? '' : u.search) + u.hash);
    return t;
  }

  private async servedByRuntime(): Promise<boolean> {
    try {
      const r = await fetch('/runtime.json', { cache: 'no-store' });
      if (!r.ok || !(r.headers.get('content-type') ?? '').includes('json')) return false;
      return ((await r.json()) as { app?: unknown }).app === 'aya-playground';
    } catch {
      return false;
    }
  }

  private savedTarget(): RuntimeTarget | null {
    try {
      const t = JSON.parse(localStorage.getItem(RUNTIME_KEY) ?? 'null') as RuntimeTarget | null;
      return t && typeof t.origin === 'string' ? t : null;
    } catch {
      return null;
    }
  }

  private saveTarget(t: RuntimeTarget): void {
    // A cookie-only target (page served by the runtime) is not worth keeping for another origin.
    if (t.token || t.origin === location.origin) localStorage.setItem(RUNTIME_KEY, JSON.stringify(t));
  }
}

export const engine = new EngineClient();
