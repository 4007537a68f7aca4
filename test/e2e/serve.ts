// `aya-playground serve …` started by a browser test, as a person starts it: the URL it prints.
import { spawn, type ChildProcess } from 'node:child_process';

export interface Served {
  url: string;
  /** Everything it printed so far. */
  output: string[];
  stop(): Promise<void>;
}

export async function startServe(args: string[]): Promise<Served> {
  const output: string[] = [];
  const serve: ChildProcess = spawn('node', ['bin/aya-playground.js', 'serve', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
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
  return {
    url,
    output,
    async stop() {
      serve.kill('SIGINT');
      await new Promise((r) => (serve.exitCode !== null ? r(null) : serve.once('exit', r)));
    },
  };
}
