// `aya-playground serve …` started by a browser test, as a person starts it: the URL it prints.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';

export interface Served {
  url: string;
  /** Everything it printed so far. */
  output: string[];
  stop(): Promise<void>;
  /** Ends it as a crash or `kill -9` would: no goodbye to its clients, its jobs die mid-step. */
  kill(): Promise<void>;
}

/** A port nothing listens on now (for a runtime that is restarted on the same port, as by hand). */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

export async function startServe(args: string[], port = 0): Promise<Served> {
  const output: string[] = [];
  const serve: ChildProcess = spawn('node', ['bin/aya-playground.js', 'serve', '--port', String(port), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve printed no URL in 120 s:\n${output.join('')}`)), 120_000);
    const onData = (d: Buffer) => {
      output.push(d.toString());
      const m = /open:\s+(http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]+)/.exec(output.join(''));
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    serve.stdout!.on('data', onData);
    serve.stderr!.on('data', onData);
    serve.once('exit', (code) => reject(new Error(`serve exited (${code}):\n${output.join('')}`)));
  });
  const ended = (signal: NodeJS.Signals) => {
    serve.kill(signal);
    return new Promise<void>((r) => (serve.exitCode !== null || serve.signalCode !== null ? r() : serve.once('exit', () => r())));
  };
  return { url, output, stop: () => ended('SIGINT'), kill: () => ended('SIGKILL') };
}
