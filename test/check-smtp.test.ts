/** `workspace-relay check` on a Gmail SMTP workspace: the login, and the classified failure with its fix. */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { check } from '../src/cli/check.js';
import { CliExit } from '../src/cli/context.js';
import { writeConfigFile } from './support/daemon.js';
import { removeDir, tempDir } from './support/harness.js';
import { makeTestCert } from './support/tls.js';

describe('check: Gmail SMTP login', () => {
  let dir: string;
  let server: SMTPServer;
  let port: number;
  let ca: string;

  beforeAll(async () => {
    dir = tempDir();
    const tls = makeTestCert(dir, 'upstream');
    ca = tls.certFile;
    server = new SMTPServer({
      secure: true,
      key: readFileSync(tls.keyFile),
      cert: readFileSync(tls.certFile),
      authMethods: ['PLAIN', 'LOGIN'],
      logger: false,
      onAuth(auth, _session, cb) {
        if (auth.username === 'relay@clinic.example' && auth.password === 'right') return cb(null, { user: auth.username });
        cb(Object.assign(new Error('5.7.8 Username and Password not accepted'), { responseCode: 535 }));
      },
    });
    server.on('error', () => undefined);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    removeDir(dir);
  });

  async function runCheck(password: string): Promise<{ lines: string[]; exit?: number }> {
    const passwordFile = path.join(dir, 'app-password');
    writeFileSync(passwordFile, password, { mode: 0o600 });
    const file = writeConfigFile(dir, {
      listen: [{ host: '127.0.0.1', port: 0 }],
      workspaces: [
        {
          name: 'clinic',
          domains: ['clinic.example'],
          transport: 'smtp',
          smtp: { host: '127.0.0.1', port, secure: true, user: 'relay@clinic.example', appPasswordFile: passwordFile, caFile: ca },
        },
      ],
      queue: { dir: path.join(dir, 'spool') },
    });
    const lines: string[] = [];
    const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) };
    try {
      await check({ path: file, source: 'flag', isExample: false }, [], io);
      return { lines };
    } catch (err) {
      if (err instanceof CliExit) return { lines, exit: err.exitCode };
      throw err;
    }
  }

  it('a refused app password: the classified failure and its fix, naming the password file; exit 1', async () => {
    const r = await runCheck('wrong');
    expect(r.exit).toBe(1);
    expect(r.lines).toContain('  FAIL  relay@clinic.example: the SMTP upstream refused the login of relay@clinic.example (535 5.7.8)');
    const fix = r.lines.find((l) => l.trimStart().startsWith('fix:'));
    expect(fix).toMatch(/^ {8}fix: create a new app password for relay@clinic\.example \(Google Account → Security → 2-Step Verification → App passwords;/);
    expect(fix).toContain(`and put it in ${path.join(dir, 'app-password')}`);
    expect(r.lines.join('\n')).not.toContain('wrong');
  }, 30_000);

  it('the right one: ok', async () => {
    const r = await runCheck('right');
    expect(r.exit).toBeUndefined();
    expect(r.lines).toContain('  ok    login as relay@clinic.example accepted');
  }, 30_000);
});
