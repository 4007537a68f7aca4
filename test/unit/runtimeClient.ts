// A client of a desktop runtime started by a test: the EngineApi over a real WebSocket (npm `ws`).
import WebSocket from 'ws';
import { connectEngine, type RemoteEngineApi } from '../../src/engine/protocol.ts';
import { webSocketPort, type WebSocketLike } from '../../src/engine/webSocketPort.ts';
import type { Runtime } from '../../src/runtime/server.ts';

export function wsClient(runtime: Runtime, token = runtime.token): RemoteEngineApi {
  return connectEngine(() => webSocketPort(new WebSocket(`${runtime.engineUrl}?token=${token}`) as unknown as WebSocketLike), { lostMessage: 'the runtime went away' });
}
