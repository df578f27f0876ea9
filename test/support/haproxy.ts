/**
 * A real HAProxy (the Debian package) started by a test, in the foreground, on loopback only.
 * A missing haproxy fails the test that needs it, naming the install command (never a skip:
 * the PROXY protocol proof is HAProxy's own headers).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { waitUntil } from './harness.js';

export const INSTALL_HAPROXY = 'sudo apt-get install haproxy';

/** The haproxy binary (PATH, then Debian's /usr/sbin), or an error saying how to install it. */
export function haproxyBinary(): string {
  for (const bin of ['haproxy', '/usr/sbin/haproxy']) {
    try {
      execFileSync(bin, ['-v'], { stdio: 'ignore' });
      return bin;
    } catch {
      /* try the next */
    }
  }
  throw new Error(`haproxy is not installed; these tests run a real HAProxy: ${INSTALL_HAPROXY} (.ci/run installs it)`);
}

export interface Haproxy {
  child: ChildProcess;
  /** What haproxy wrote (its alerts and warnings). */
  output(): string;
  stop(): Promise<void>;
}

const accepting = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });

/** Start haproxy with this configuration; resolves once every frontend port accepts. */
export async function startHaproxy(dir: string, config: string, frontendPorts: number[]): Promise<Haproxy> {
  const bin = haproxyBinary();
  const file = path.join(dir, 'haproxy.cfg');
  writeFileSync(file, config);
  execFileSync(bin, ['-c', '-q', '-f', file], { stdio: 'pipe' });
  const child = spawn(bin, ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitUntil(async () => {
    if (child.exitCode !== null) throw new Error(`haproxy exited: ${out}`);
    return (await Promise.all(frontendPorts.map(accepting))).every(Boolean);
  }, 10_000, 'haproxy to listen');
  return {
    child,
    output: () => out,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** The defaults every test configuration shares: TCP mode, short timeouts, loopback only. */
export const HAPROXY_DEFAULTS = `global
  maxconn 500

defaults
  mode tcp
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  retries 3
  option redispatch
`;
