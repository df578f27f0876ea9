/**
 * A throwaway Postfix instance for the comparison: its own config directory, queue and data
 * directories under a temp dir, smtpd on 127.0.0.1:<port> only, relaying everything to an
 * smtp-sink on 127.0.0.1:<sinkPort> with no DNS. The system's Postfix (if any) is not touched.
 * Needs root (Postfix's master starts as root and drops to the postfix user).
 */
import { chmodSync, chownSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run, start, type Running } from './proc.js';

const BINARIES = ['/usr/sbin/postfix', '/usr/sbin/postconf', '/usr/sbin/smtp-source', '/usr/sbin/smtp-sink'];

/** Install Debian's postfix (it ships smtp-source and smtp-sink) unless it is there. */
export async function ensurePostfix(): Promise<void> {
  if (BINARIES.every((b) => existsSync(b))) return;
  if (process.getuid?.() !== 0) {
    throw new Error(`Postfix is not installed: run as root, or first: apt-get install postfix (choose "No configuration")`);
  }
  console.error('installing Debian\'s postfix ("No configuration": the system instance stays unconfigured and stopped)…');
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  await run('sh', ['-c', "echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections"]);
  const install = ['install', '-y', '--no-install-recommends', 'postfix'];
  try {
    await run('apt-get', install, 600_000, env);
  } catch {
    await run('apt-get', ['update'], 600_000, env);
    await run('apt-get', install, 600_000, env);
  }
}

export interface PostfixInstance {
  dir: string;
  port: number;
  start(): Promise<void>;
  /** Stop (abort if it will not), and remove the temp dir. */
  destroy(): Promise<void>;
}

export function createPostfixInstance(port: number, sinkPort: number): PostfixInstance {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wr-postfix-'));
  chmodSync(dir, 0o755); // the postfix user must reach its queue and data directories
  const etc = path.join(dir, 'etc');
  const data = path.join(dir, 'data');
  for (const d of [etc, data, path.join(dir, 'queue')]) mkdirSync(d, { recursive: true });
  chownSync(data, Number(uidOf('postfix')), 0);
  for (const f of ['master.cf', 'postfix-files', 'dynamicmaps.cf']) {
    if (existsSync(`/etc/postfix/${f}`)) copyFileSync(`/etc/postfix/${f}`, path.join(etc, f));
  }
  for (const d of ['postfix-files.d', 'dynamicmaps.cf.d']) {
    if (existsSync(`/etc/postfix/${d}`)) cpSync(`/etc/postfix/${d}`, path.join(etc, d), { recursive: true });
  }
  writeFileSync(
    path.join(etc, 'main.cf'),
    [
      'compatibility_level = 3.6',
      `queue_directory = ${dir}/queue`,
      `data_directory = ${data}`,
      'myhostname = postfix.bench.example',
      'mydomain = bench.example',
      'mydestination =',
      'inet_interfaces = loopback-only',
      'inet_protocols = ipv4',
      'mynetworks = 127.0.0.0/8',
      `relayhost = [127.0.0.1]:${sinkPort}`,
      'disable_dns_lookups = yes',
      'smtp_host_lookup = native',
      'smtpd_relay_restrictions = permit_mynetworks, reject',
      'alias_maps =',
      'alias_database =',
      'local_recipient_maps =',
      'biff = no',
      `maillog_file_prefixes = ${dir}`,
      `maillog_file = ${dir}/maillog`,
      '',
    ].join('\n'),
  );
  const postfix = (...args: string[]) => run('/usr/sbin/postfix', ['-c', etc, ...args], 120_000);
  return {
    dir,
    port,
    async start() {
      // smtpd on the loopback port only (not :25), and no chroot (the temp queue has no jail).
      await run('/usr/sbin/postconf', ['-c', etc, '-M#', 'smtp/inet']);
      await run('/usr/sbin/postconf', ['-c', etc, '-M', `127.0.0.1:${port}/inet=127.0.0.1:${port} inet n - n - - smtpd`]);
      await run('/usr/sbin/postconf', ['-c', etc, '-F', '*/*/chroot = n']);
      try {
        await postfix('start');
      } catch (err) {
        const log = existsSync(`${dir}/maillog`) ? readFileSync(`${dir}/maillog`, 'utf8').slice(-1500) : '';
        throw new Error(`${err instanceof Error ? err.message : String(err)}\n${log}`);
      }
    },
    async destroy() {
      try {
        await postfix('stop');
      } catch {
        await postfix('abort').catch(() => undefined);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function uidOf(user: string): string {
  const entry = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${user}:`));
  const uid = entry?.split(':')[2];
  if (!uid) throw new Error(`no "${user}" user: is Postfix installed?`);
  return uid;
}

/** smtp-sink on 127.0.0.1:port, exiting after `count` messages; `received()` reads its counter. */
export function startSink(port: number, count: number, timeoutMs: number): Running & { received(): number } {
  let received = 0;
  const r = start('/usr/sbin/smtp-sink', ['-u', 'postfix', '-c', '-M', String(count), `127.0.0.1:${port}`, '256'], timeoutMs, {}, (out) => {
    const m = /mesg=(\d+)\s*$/.exec(out.slice(-200).replace(/\r/g, '\n').trimEnd());
    if (m) received = Number(m[1]);
  });
  return { ...r, received: () => received };
}
