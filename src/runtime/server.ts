// The desktop runtime (`aya-playground serve`): the Engine in Node on Dawn, served over a WebSocket
// (the engine protocol, src/engine/protocol.ts, with the codec of src/engine/codec.ts) to the app,
// which this server serves too. Security (DESIGN §14):
// - loopback only unless a host is given (the caller warns);
// - a random 256-bit token per run, required on every HTTP request and WebSocket connection (query
//   `token`, or the HttpOnly cookie set when the app is opened with it), compared in constant time,
//   never logged;
// - the Host header must name this server (no DNS rebinding) and an Origin, when a browser sends
//   one, must be on the allow-list (the runtime's own origins and the dev server's);
// - failed authentication is rate-limited per address (too many → 429 for a while);
// - frames above the maximum message size close that connection (1009); a malformed or unknown
//   message is answered with an error and the connection goes on;
// - model ids resolve inside the library folders only (src/runtime/library.ts);
// - the OpenAI-compatible API (/v1/…, src/runtime/openaiApi.ts) sits behind the same token, which
//   OpenAI clients send as their API key (Authorization: Bearer).
import { fileKernelStore } from '../cli/kernelStore.ts';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import sirv from 'sirv';
import { Engine } from '../engine/engine.ts';
import type { EngineInfo } from '../engine/api.ts';
import { serveEngine, type Port } from '../engine/protocol.ts';
import { CodecError, decodeFrame, encodeFrame } from '../engine/codec.ts';
import { createNodeContext } from '../gpu/node.ts';
import { nodeUdhrSource } from '../data/source.node.ts';
import { mergeFolders } from '../merge/merge.node.ts';
import { combinedStore } from '../store/builtinModels.ts';
import { nodeMachine, readBuiltinTokenizer } from '../cli/platform.ts';
import { folderLibrary, labelRoots, zooLibrary } from './library.ts';
import type { TeacherBackend } from '../engine/teachers.ts';
import { handleOpenAi, OPENAI_PATHS } from './openaiApi.ts';

/** The cookie's name carries the port: browsers do not keep cookies apart by port, and two runtimes
 *  on one machine must not overwrite each other's. */
export const tokenCookie = (port: number) => `aya_runtime_token_${port}`;
export const ENGINE_PATH = '/engine';
export const RUNTIME_INFO_PATH = '/runtime.json';
export const DEV_ORIGINS = ['http://127.0.0.1:5173', 'http://localhost:5173', 'http://127.0.0.1:4173', 'http://localhost:4173'];

export interface RuntimeOptions {
  /** 0 picks a free port. */
  port: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Model library folders (the first is where new models are saved). */
  roots: string[];
  /** The shipped zoo (a folder with manifest.json); none: no built-in models. */
  zooDir?: string | null;
  /** The built app (dist/); none: the runtime serves only the engine. */
  appDir?: string | null;
  /** A fixed token (tests); default: 32 random bytes. */
  token?: string;
  /** More allowed origins besides the runtime's own and the dev server's. */
  allowOrigins?: string[];
  /** Largest message (frame) accepted, bytes. Default 512 MiB (a model folder travels in one). */
  maxMessageBytes?: number;
  /** Failed authentications allowed per address within windowMs before a lockout of lockoutMs. */
  auth?: { maxFailures: number; windowMs: number; lockoutMs: number };
  log?: (line: string) => void;
  /** Teachers besides the library's models (GGUF files through llama.cpp). */
  teachers?: TeacherBackend[];
}

export interface Runtime {
  /** The app's URL with the token (what `serve` prints). */
  url: string;
  /** The engine's WebSocket URL without the token. */
  engineUrl: string;
  token: string;
  port: number;
  host: string;
  info: EngineInfo;
  engine: Engine;
  origins: string[];
  close(): Promise<void>;
}

const sha = (s: string) => createHash('sha256').update(s).digest();

function tokenMatches(expected: Buffer, given: string | null): boolean {
  if (typeof given !== 'string' || given.length === 0 || given.length > 512) return false;
  // Digests have equal length, so timingSafeEqual never throws and leaks no length.
  return timingSafeEqual(expected, sha(given));
}

function cookieValue(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k !== name) continue;
    try {
      return decodeURIComponent(v.join('='));
    } catch {
      return null; // a malformed escape is no token
    }
  }
  return null;
}

/** The request's path and query, or null for a target that is not a URL path ("//", garbage). */
function requestUrl(req: IncomingMessage): URL | null {
  try {
    return new URL(req.url ?? '/', 'http://runtime');
  } catch {
    return null;
  }
}

class FailureLimiter {
  private readonly failures = new Map<string, { count: number; first: number; lockedUntil: number }>();
  constructor(private readonly o: { maxFailures: number; windowMs: number; lockoutMs: number }) {}

  /** Seconds left in a lockout of `addr`'s wrong tokens, or 0. */
  locked(addr: string): number {
    const f = this.failures.get(addr);
    if (!f) return 0;
    const now = Date.now();
    if (f.lockedUntil > now) return Math.ceil((f.lockedUntil - now) / 1000);
    if (f.lockedUntil && f.lockedUntil <= now) this.failures.delete(addr);
    return 0;
  }

  fail(addr: string): void {
    const now = Date.now();
    let f = this.failures.get(addr);
    if (!f || now - f.first > this.o.windowMs) f = { count: 0, first: now, lockedUntil: 0 };
    f.count++;
    if (f.count >= this.o.maxFailures) f.lockedUntil = now + this.o.lockoutMs;
    this.failures.set(addr, f);
  }
}

function isLoopback(host: string): boolean {
  return host === '127.0.0.1' || host === 'localhost' || host === '::1' || host.startsWith('127.');
}

export async function startRuntime(o: RuntimeOptions): Promise<Runtime> {
  const log = o.log ?? (() => {});
  const host = o.host ?? '127.0.0.1';
  const token = o.token ?? randomBytes(32).toString('hex');
  const expected = sha(token);
  const maxMessageBytes = o.maxMessageBytes ?? 512 * 2 ** 20;
  const limiter = new FailureLimiter(o.auth ?? { maxFailures: 10, windowMs: 60_000, lockoutMs: 60_000 });

  const roots = labelRoots(o.roots);
  const library = folderLibrary(roots);
  const zoo = o.zooDir && existsSync(o.zooDir) ? zooLibrary(o.zooDir) : null;
  const engine = new Engine({
    acquireGpu: createNodeContext,
    runtime: `desktop runtime: node ${process.versions.node}, webgpu (Dawn)`,
    host: 'runtime',
    udhr: nodeUdhrSource,
    builtinTokenizer: readBuiltinTokenizer,
    models: zoo ? combinedStore(zoo, library) : library,
    zooManifest: zoo ? () => zoo.manifest() : undefined,
    libraryRoots: roots.map((r) => r.dir),
    mergeFolders,
    machine: nodeMachine,
    kernelChoices: fileKernelStore,
    teachers: o.teachers ?? [],
  });
  const info = await engine.info();

  const server = createServer();
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(o.port, host, () => res());
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  // The names this server answers to; its own pages' origins are those names over http.
  const hostsAllowed = new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, `${urlHost}:${port}`]);
  const ownOrigins = new Set([...hostsAllowed].map((h) => `http://${h}`));
  const origins = [...new Set([...ownOrigins, ...DEV_ORIGINS, ...(o.allowOrigins ?? [])])];
  const originSet = new Set(origins);

  const cookieName = tokenCookie(port);

  /** Why a request may not go on (null when it may): the same checks for HTTP and WebSocket. */
  function refusal(req: IncomingMessage, url: URL): { status: number; text: string; headers?: Record<string, string> } | null {
    const addr = req.socket.remoteAddress ?? 'unknown';
    if (isLoopback(host) && !hostsAllowed.has(String(req.headers.host))) return { status: 421, text: `This runtime answers to 127.0.0.1:${port} or localhost:${port}, not '${String(req.headers.host).slice(0, 80)}'.` };
    const origin = req.headers.origin;
    if (origin !== undefined && !originSet.has(origin)) return { status: 403, text: `Origin '${origin.slice(0, 100)}' is not allowed (allowed: the runtime's own origin, the dev server's, and --allow-origin).` };
    // The cookie counts only for the runtime's own pages (or a client without an Origin): a page
    // from another allowed origin (a dev server) must present the token itself.
    const cookieOk = origin === undefined || ownOrigins.has(origin);
    const bearer = req.headers.authorization?.startsWith('Bearer ') ? req.headers.authorization.slice(7) : null;
    const given = url.searchParams.get('token') ?? bearer ?? (cookieOk ? cookieValue(req.headers.cookie, cookieName) : null);
    if (tokenMatches(expected, given)) return null;
    // Only wrong tokens count as failed attempts (a request without one is not an attempt), and the
    // right token always passes: a page that sends wrong tokens cannot lock the user out.
    const wait = given ? limiter.locked(addr) : 0;
    if (wait > 0) return { status: 429, text: `Too many wrong tokens from ${addr}; try again in ${wait} s.`, headers: { 'Retry-After': String(wait) } };
    if (given) limiter.fail(addr);
    log(`refused ${req.method} ${url.pathname} from ${addr}: ${given ? 'wrong token' : 'no token'}`);
    return {
      status: 401,
      text: given
        ? 'Wrong token for this desktop runtime. Open the URL that `aya-playground serve` printed (it changes every run).'
        : 'This desktop runtime needs its token: open the URL that `aya-playground serve` printed.',
    };
  }

  const serveStatic = o.appDir && existsSync(o.appDir) ? sirv(o.appDir, { dev: false, etag: true, single: false }) : null;

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    // The app on the dev server's origin reads why it was refused (or the runtime's description).
    const origin = req.headers.origin;
    if (origin && originSet.has(origin)) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
      res.setHeader('Vary', 'Origin');
    }
    const url = requestUrl(req);
    // A browser's CORS preflight for the OpenAI API carries no credentials: an allowed origin gets
    // the go-ahead, and the request itself then needs the token like any other.
    if (req.method === 'OPTIONS' && url && OPENAI_PATHS.includes(url.pathname) && origin && originSet.has(origin) && hostsAllowed.has(String(req.headers.host))) {
      res.writeHead(204, {
        'Access-Control-Allow-Methods': 'GET, POST, OPTIONS',
        'Access-Control-Allow-Headers': String(req.headers['access-control-request-headers'] ?? 'authorization, content-type').slice(0, 2000),
        'Access-Control-Max-Age': '600',
      });
      res.end();
      return;
    }
    const no = url ? refusal(req, url) : { status: 400, text: 'not a request path' };
    if (no || !url) {
      res.writeHead(no!.status, { 'Content-Type': 'text/plain; charset=utf-8', ...(no!.headers ?? {}) });
      res.end(`${no!.text}\n`);
      return;
    }
    if (url.searchParams.has('token')) {
      // The app's own requests (scripts, the worker, model files) then carry the cookie instead.
      res.setHeader('Set-Cookie', `${cookieName}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`);
    }
    if (url.pathname === RUNTIME_INFO_PATH) {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
      res.end(JSON.stringify({ app: 'aya-playground', engine: ENGINE_PATH, adapter: info.adapter, runtime: info.versions.runtime, libraryRoots: roots.map((r) => r.dir) }));
      return;
    }
    if (OPENAI_PATHS.includes(url.pathname)) {
      void handleOpenAi(engine, req, res, url);
      return;
    }
    if (!serveStatic) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('This runtime serves the engine only (no built app); open the app elsewhere and connect it to this runtime.\n');
      return;
    }
    serveStatic(req, res, () => {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('not found\n');
    });
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: maxMessageBytes });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // Node's own error handler is off the socket once it is upgraded: a peer that resets must not
    // take the process down.
    socket.on('error', () => socket.destroy());
    const url = requestUrl(req);
    const no = !url ? { status: 400, text: 'not a request path' } : url.pathname === ENGINE_PATH ? refusal(req, url) : { status: 404, text: `the engine is at ${ENGINE_PATH}` };
    if (no) {
      const extra = Object.entries(no.headers ?? {}).map(([k, v]) => `${k}: ${v}\r\n`).join('');
      socket.end(`HTTP/1.1 ${no.status} ${no.status === 401 ? 'Unauthorized' : no.status === 403 ? 'Forbidden' : no.status === 429 ? 'Too Many Requests' : 'Refused'}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n${extra}\r\n${no.text}\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      log(`engine client connected from ${req.socket.remoteAddress}${req.headers.origin ? ` (${req.headers.origin})` : ''}`);
      connect(ws);
    });
  });

  function connect(ws: WebSocket): void {
    let onMessage: (m: unknown) => void = () => {};
    const closeHandlers: Array<(reason: string) => void> = [];
    const port: Port = {
      send: (m) => {
        if (ws.readyState !== ws.OPEN) return;
        let frame: string | Uint8Array;
        try {
          frame = encodeFrame(m);
        } catch (e) {
          // An answer that cannot be sent is an error answer, so the request still settles.
          const id = (m as { id?: unknown }).id;
          if (typeof id !== 'number') return;
          frame = encodeFrame({ id, kind: 'throw', payload: { name: 'CodecError', message: `the answer could not be encoded: ${(e as Error).message}` } });
        }
        ws.send(frame);
      },
      onMessage: (h) => (onMessage = h),
      onClose: (h) => closeHandlers.push(h),
      close: () => ws.close(),
    };
    ws.on('message', (data, isBinary) => {
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer);
      let m: unknown;
      try {
        m = decodeFrame(isBinary ? new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength) : buf.toString('utf8'));
      } catch (e) {
        port.send({ id: null, kind: 'throw', payload: { name: e instanceof CodecError ? 'CodecError' : 'Error', message: `malformed message: ${(e as Error).message}` } });
        return;
      }
      onMessage(m);
    });
    ws.on('close', (code, reason) => {
      for (const h of closeHandlers) h(`closed (${code}${reason.length ? `: ${reason.toString()}` : ''})`);
    });
    ws.on('error', (e) => log(`engine client error: ${e.message}`));
    serveEngine(engine, port);
  }

  const engineUrl = `ws://${urlHost}:${port}${ENGINE_PATH}`;
  return {
    url: `http://${urlHost}:${port}/?token=${token}`,
    engineUrl,
    token,
    port,
    host,
    info,
    engine,
    origins,
    async close() {
      for (const c of wss.clients) c.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await engine.shutdown(10_000); // a cancelled training run saves what it trained
    },
  };
}
