/** Running the external programs of the Postfix comparison: bounded in time, killed by pid. */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';

export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Wall-clock ms (Date.now()) when the process exited. */
  endedAt: number;
}

export interface Running {
  child: ChildProcess;
  done: Promise<Finished>;
  /** SIGTERM, then SIGKILL after 5 s; resolves when it has exited. */
  kill(): Promise<void>;
}

/** Start `cmd`; it is killed if still running after `timeoutMs`. */
export function start(cmd: string, args: string[], timeoutMs: number, env: NodeJS.ProcessEnv = {}, onStdout?: (text: string) => void): Running {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    onStdout?.(stdout);
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise<Finished>((resolve) => {
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: -1, stdout, stderr: `${stderr}${err.message}`, endedAt: Date.now() });
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, endedAt: Date.now() });
    });
  });
  return {
    child,
    done,
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const hard = setTimeout(() => child.kill('SIGKILL'), 5000);
      await done;
      clearTimeout(hard);
    },
  };
}

/** Run to completion; rejects with its output when it exits non-zero. */
export async function run(cmd: string, args: string[], timeoutMs = 120_000, env: NodeJS.ProcessEnv = {}): Promise<Finished> {
  const r = await start(cmd, args, timeoutMs, env).done;
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.code}: ${(r.stderr || r.stdout).trim().slice(-2000)}`);
  return r;
}

/** Can we bind 127.0.0.1:port (i.e. nobody listens there)? */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** Wait until something accepts connections on 127.0.0.1:port. */
export async function waitListening(port: number, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
}
