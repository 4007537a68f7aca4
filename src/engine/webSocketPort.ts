// The engine protocol's WebSocket transport, client side: the browser's WebSocket and npm `ws` (Node)
// both fit `WebSocketLike`. Frames are encoded by codec.ts.
import { decodeFrame, encodeFrame } from './codec.ts';
import type { Port } from './protocol.ts';

export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open' | 'message' | 'close' | 'error', listener: (ev: { data?: unknown; code?: number; reason?: string; message?: string }) => void): void;
}

const OPEN = 1;

/** Resolves once the socket is open (rejects, saying why, when it does not open). */
export function webSocketPort(socket: WebSocketLike, what = 'the engine'): Promise<Port> {
  socket.binaryType = 'arraybuffer';
  return new Promise((resolve, reject) => {
    let handler: (m: unknown) => void = () => {};
    const closeHandlers: Array<(reason: string) => void> = [];
    let opened = false;
    let lastError = '';
    socket.addEventListener('error', (ev) => (lastError = ev.message ?? 'connection error'));
    socket.addEventListener('message', (ev) => {
      let m: unknown;
      try {
        m = decodeFrame(typeof ev.data === 'string' ? ev.data : new Uint8Array(ev.data as ArrayBuffer));
      } catch {
        return; // the engine does not send malformed frames; nothing to answer to
      }
      handler(m);
    });
    socket.addEventListener('close', (ev) => {
      const reason = `${ev.code === 1009 ? 'a message was larger than the runtime accepts' : ev.reason || lastError || 'connection closed'} (code ${ev.code})`;
      if (!opened) reject(new Error(`could not connect to ${what}: ${reason}`));
      for (const h of closeHandlers) h(reason);
    });
    socket.addEventListener('open', () => {
      opened = true;
      resolve({
        send(m) {
          if (socket.readyState !== OPEN) throw new Error(`${what} is not connected`);
          socket.send(encodeFrame(m));
        },
        onMessage: (h) => (handler = h),
        onClose: (h) => closeHandlers.push(h),
        close: () => socket.close(1000, 'client closed'),
      });
    });
  });
}
