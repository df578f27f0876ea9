/**
 * Child processes of the benchmark (the relay, the fake Gmail) and how the parent talks to them:
 * forked with tsx, a tiny request/reply protocol over the IPC channel, and the kernel's view of
 * their memory (/proc/<pid>/status: VmRSS now, VmHWM the peak).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

export interface Request {
  id: number;
  type: string;
  [k: string]: unknown;
}

export interface Reply {
  id?: number;
  type: string;
  error?: string;
  [k: string]: unknown;
}

export interface Child {
  readonly process: ChildProcess;
  readonly pid: number;
  /** The first message the child sent (type 'ready'). */
  readonly ready: Reply;
  request(type: string, payload?: Record<string, unknown>, timeoutMs?: number): Promise<Reply>;
  /** Ask the child to stop; kill it (SIGKILL, by pid) if it has not exited within `timeoutMs`. */
  stop(timeoutMs?: number): Promise<void>;
}

const HERE = import.meta.dirname;

/** Fork bench/<file> (under tsx unless it is plain JavaScript); resolves once it has sent {type: 'ready'}. */
export async function forkChild(file: string, args: string[], execArgv: string[] = [], startTimeoutMs = 60_000): Promise<Child> {
  const proc = fork(path.join(HERE, file), args, {
    execArgv: file.endsWith('.mjs') ? execArgv : ['--import', 'tsx', ...execArgv],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const pending = new Map<number, (r: Reply) => void>();
  let nextId = 1;
  const ready = await new Promise<Reply>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${file} did not start within ${startTimeoutMs} ms`)), startTimeoutMs);
    proc.once('exit', (code) => reject(new Error(`${file} exited with ${code} before it was ready`)));
    proc.on('message', (m: Reply) => {
      if (m.type === 'ready') {
        clearTimeout(timer);
        resolve(m);
      } else if (m.id !== undefined) {
        pending.get(m.id)?.(m);
        pending.delete(m.id);
      }
    });
  }).catch((err: unknown) => {
    proc.kill('SIGKILL');
    throw err;
  });
  return {
    process: proc,
    pid: proc.pid!,
    ready,
    request(type, payload = {}, timeoutMs = 60_000) {
      const id = nextId++;
      return new Promise<Reply>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${file}: no reply to ${type} within ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, (r) => {
          clearTimeout(timer);
          if (r.error) reject(new Error(`${file}: ${r.error}`));
          else resolve(r);
        });
        proc.send({ id, type, ...payload } satisfies Request);
      });
    },
    async stop(timeoutMs = 30_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      if (proc.connected) proc.send({ id: 0, type: 'stop' } satisfies Request);
      const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** In a child: answer the parent's requests with `handlers`; 'stop' runs `onStop` then exits. */
export function serveParent(
  ready: Record<string, unknown>,
  handlers: Record<string, (req: Request) => Promise<Record<string, unknown>> | Record<string, unknown>>,
  onStop: () => Promise<void>,
): void {
  const send = (m: Reply) => process.send?.(m);
  process.on('message', (req: Request) => {
    if (req.type === 'stop') {
      void onStop().finally(() => process.exit(0));
      return;
    }
    const handler = handlers[req.type];
    if (!handler) return send({ id: req.id, type: req.type, error: `unknown request ${req.type}` });
    Promise.resolve()
      .then(() => handler(req))
      .then(
        (r) => send({ ...r, id: req.id, type: req.type }),
        (err: unknown) => send({ id: req.id, type: req.type, error: String(err) }),
      );
  });
  // The parent went away (Ctrl-C, crash): do not linger.
  process.on('disconnect', () => void onStop().finally(() => process.exit(0)));
  send({ type: 'ready', ...ready });
}

export interface Memory {
  /** Resident set now, bytes. */
  rss: number;
  /** Peak resident set since the process started (VmHWM), bytes. */
  peak: number;
}

/** The kernel's figures for a process; null once it is gone. */
export function memoryOf(pid: number): Memory | null {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

/** CPU seconds (user + system) a process has used so far; NaN once it is gone. */
export function cpuSecondsOf(pid: number): number {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return NaN;
  }
  // Fields after the command name (which may contain spaces) — utime and stime are 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** sysconf(_SC_CLK_TCK): 100 on Linux. */
const CLOCK_TICKS = 100;

/** Sample a process's RSS every `everyMs` until stopped: the shape of memory over a run. */
export function sampleMemory(pid: number, everyMs = 200): { stop(): number[] } {
  const samples: number[] = [];
  const timer = setInterval(() => {
    const m = memoryOf(pid);
    if (m) samples.push(m.rss);
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return samples;
    },
  };
}
