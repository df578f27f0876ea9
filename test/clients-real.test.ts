/**
 * Real SMTP clients against the relay, as devices and EHR servers use it: swaks, curl and
 * python3's smtplib, over plain SMTP, STARTTLS and implicit TLS, with AUTH PLAIN and LOGIN, each
 * delivered to the fake Gmail; and openssl's TLS 1.0 client refused by default, accepted where
 * the admin opted in.
 *
 * CI (CI=true; .ci/run installs the tools from Debian) runs every one of them, and a missing tool
 * fails the run. On a developer's machine a missing tool skips only that tool's tests, each named
 * with the tool and the one command that installs them all (README "Development").
 */
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceHash, startEdge, type EdgeEnv } from './support/edge.js';
import { waitUntil } from './support/harness.js';

const PASSWORD = 'Ehr-Device-Pw-7';
const IN_CI = Boolean(process.env.CI) && process.env.CI !== 'false';
const INSTALL_TOOLS = 'sudo apt-get install swaks libnet-ssleay-perl libio-socket-ssl-perl curl python3 openssl haproxy';

/** Null when the tool runs and can do what these tests need; otherwise what is wrong with it. */
function probe(command: string, args: string[], check: (out: string) => boolean, cannot: string): string | null {
  let out = '';
  try {
    out = execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    out = String((err as { stdout?: string }).stdout ?? '');
    if (!out) return `${command} is not installed`;
  }
  return check(out) ? null : `${command} ${cannot}`;
}

const missing: Record<'swaks' | 'curl' | 'python3' | 'openssl', string | null> = {
  swaks: probe('swaks', ['--support'], (o) => /TLS supported/.test(o), 'cannot do TLS (its Perl TLS module, libnet-ssleay-perl, is missing)'),
  curl: probe('curl', ['--version'], (o) => /smtps/.test(o), 'was built without smtp/smtps'),
  python3: probe('python3', ['-c', 'import smtplib, ssl; print("ok")'], (o) => o.includes('ok'), 'lacks smtplib or ssl'),
  openssl: probe('openssl', ['version'], (o) => /OpenSSL/.test(o), 'is not OpenSSL'),
};
const problems = Object.values(missing).filter((m): m is string => m !== null);

/** The test's name, saying why it is skipped when its tool is missing (never in CI). */
const named = (tool: keyof typeof missing, title: string) => (missing[tool] ? `${title} (skipped: ${missing[tool]}; install: ${INSTALL_TOOLS})` : title);
const skipped = (tool: keyof typeof missing) => missing[tool] !== null && !IN_CI;

function run(command: string, args: string[], input?: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
    child.stdin.end(input ?? '');
  });
}

type Mode = 'plain' | 'starttls' | 'implicit';
type Mech = 'PLAIN' | 'LOGIN';

const PYTHON = `
import smtplib, ssl, sys
mode, port, mech, cafile, tag, password = sys.argv[1:]
ctx = ssl.create_default_context(cafile=cafile)
s = smtplib.SMTP_SSL('127.0.0.1', int(port), context=ctx) if mode == 'implicit' else smtplib.SMTP('127.0.0.1', int(port))
s.ehlo('python.test')
if mode == 'starttls':
    s.starttls(context=ctx)
    s.ehlo('python.test')
s.user, s.password = 'ehr', password
s.auth(mech, getattr(s, 'auth_' + mech.lower()))
msg = 'From: alice@clinic.example\\r\\nTo: bob@clinic.example\\r\\nSubject: python\\r\\nX-Test-Id: %s\\r\\n\\r\\nhello\\r\\n' % tag
s.sendmail('alice@clinic.example', ['bob@clinic.example'], msg)
s.quit()
`;

describe('real SMTP clients', () => {
  let env: EdgeEnv;
  const ports = {} as Record<Mode, number>;
  let legacyPort: number;
  let msgFile: (tag: string) => string;

  beforeAll(async () => {
    if (IN_CI && problems.length) throw new Error(`CI runs every real-client test, but ${problems.join('; ')}: ${INSTALL_TOOLS}`);
    if (problems.length) console.warn(`real-client tests skipped here: ${problems.join('; ')}. Install the tools with: ${INSTALL_TOOLS}`);
    env = await startEdge({
      listen: (cert) => [
        { port: 0, auth: { allowPlaintext: true, required: true } },
        { port: 0, tls: { mode: 'starttls', ...cert }, auth: { required: true } },
        { port: 0, tls: { mode: 'implicit', ...cert }, auth: { required: true } },
        { port: 0, tls: { mode: 'implicit', ...cert, minVersion: 'TLSv1', legacyDevice: 'old fax' }, greetingDelay: 0 },
      ],
      devices: [{ username: 'ehr', passwordHash: await deviceHash(PASSWORD), workspace: 'clinic' }],
    });
    [ports.plain, ports.starttls, ports.implicit, legacyPort] = env.ports as [number, number, number, number];
    msgFile = (tag) => {
      const file = path.join(env.dir, `${tag}.eml`);
      writeFileSync(file, `From: alice@clinic.example\r\nTo: bob@clinic.example\r\nSubject: curl\r\nX-Test-Id: ${tag}\r\n\r\nhello\r\n`);
      return file;
    };
  });
  afterAll(async () => {
    await env?.stop();
  });

  const clients: Record<string, (mode: Mode, mech: Mech, tag: string) => Promise<{ code: number | null; out: string }>> = {
    swaks: (mode, mech, tag) =>
      run('swaks', [
        '--server', '127.0.0.1', '--port', String(ports[mode]),
        '--from', 'alice@clinic.example', '--to', 'bob@clinic.example',
        '--auth', mech, '--auth-user', 'ehr', '--auth-password', PASSWORD,
        '--add-header', `X-Test-Id: ${tag}`,
        ...(mode === 'starttls' ? ['--tls'] : mode === 'implicit' ? ['--tlsc'] : []),
      ]),
    curl: (mode, mech, tag) =>
      run('curl', [
        '--silent', '--show-error',
        '--url', `${mode === 'implicit' ? 'smtps' : 'smtp'}://127.0.0.1:${ports[mode]}`,
        ...(mode === 'starttls' ? ['--ssl-reqd'] : []),
        '--cacert', env.cert.certFile,
        '--mail-from', 'alice@clinic.example', '--mail-rcpt', 'bob@clinic.example',
        '--user', `ehr:${PASSWORD}`, '--login-options', `AUTH=${mech}`,
        '--upload-file', msgFile(tag),
      ]),
    python3: (mode, mech, tag) => run('python3', ['-c', PYTHON, mode, String(ports[mode]), mech, env.cert.certFile, tag, PASSWORD]),
  };

  for (const [name, client] of Object.entries(clients)) {
    for (const mode of ['plain', 'starttls', 'implicit'] as const) {
      for (const mech of ['PLAIN', 'LOGIN'] as const) {
        const tool = name as keyof typeof missing;
        it.skipIf(skipped(tool))(named(tool, `${name}: ${mode}, AUTH ${mech}, delivered to Gmail`), async () => {
          const tag = `${name}-${mode}-${mech}`;
          const logins = () => env.logs.events('auth.ok').filter((l) => l.method === mech && l.username === 'ehr').length;
          const tlsSessions = () => env.logs.events('session.tls').length;
          const before = logins();
          const tlsBefore = tlsSessions();
          const r = await client(mode, mech, tag);
          expect(r.code, r.out).toBe(0);
          await waitUntil(() => env.google.fake.sent.some((s) => s.raw.includes(`X-Test-Id: ${tag}`)), 20_000, `${tag} at the fake Gmail`);
          const sent = env.google.fake.sent.find((s) => s.raw.includes(`X-Test-Id: ${tag}`))!;
          expect(sent.user).toBe('alice@clinic.example');
          expect(logins()).toBe(before + 1);
          expect(tlsSessions() - tlsBefore).toBe(mode === 'plain' ? 0 : 1);
        });
      }
    }
  }

  it.skipIf(skipped('curl'))(named('curl', 'curl without credentials is refused at MAIL FROM where AUTH is required (530)'), async () => {
    const r = await run('curl', ['--silent', '--show-error', '--url', `smtp://127.0.0.1:${ports.plain}`, '--mail-from', 'alice@clinic.example', '--mail-rcpt', 'bob@clinic.example', '--upload-file', msgFile('curl-noauth')]);
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/530/);
  });

  const tls1 = (port: number) =>
    run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-tls1', '-cipher', 'DEFAULT@SECLEVEL=0', '-quiet'], 'QUIT\r\n');

  it.skipIf(skipped('openssl'))(named('openssl', 'openssl s_client -tls1 is refused by default and accepted on the listener opted in for a legacy device'), async () => {
    const refused = await tls1(ports.implicit);
    expect(refused.code, refused.out).not.toBe(0);
    expect(refused.out).not.toMatch(/^220 /m);
    const accepted = await tls1(legacyPort);
    expect(accepted.out).toMatch(/^220 relay\.test ESMTP/m);
    expect(accepted.out).toMatch(/^221 /m);
  });
});
