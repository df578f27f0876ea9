/**
 * `workspace-relay sendmail`, installed as `sendmail` (a symlink: the name alone makes it the
 * sendmail command) and piped to from a shell with the argument forms real programs use. It
 * submits through the relay's own listener, so the relay's policy applies, and exits with
 * sendmail's codes.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Relay } from '../src/app.js';
import { parseSendmailArgs } from '../src/cli/sendmail-args.js';
import { sendmailInvocation } from '../src/cli/sendmail.js';
import { writeConfigFile } from './support/daemon.js';
import { type GoogleEnv, freePort, gmailConfig, removeDir, startGoogle, startTestRelay, tempDir, waitUntil } from './support/harness.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const CLI = path.join(ROOT, 'src/cli/index.ts');

describe('sendmail, piped to from a shell', () => {
  let dir: string;
  let google: GoogleEnv;
  let relay: Relay;
  let configFile: string;
  let bin: string;
  let port: number;

  beforeAll(async () => {
    dir = tempDir();
    google = await startGoogle(dir);
    port = await freePort();
    const doc = gmailConfig(dir, google, { listen: [{ host: '127.0.0.1', port }] });
    doc.workspaces[0] = { ...doc.workspaces[0]!, senders: { map: {}, default: 'scans@clinic.example' } };
    configFile = writeConfigFile(dir, doc);
    ({ relay } = await startTestRelay(doc));
    // /usr/sbin/sendmail as an admin would install it: a link named sendmail to the CLI's entry.
    bin = path.join(dir, 'bin');
    mkdirSync(bin);
    const entry = path.join(bin, 'workspace-relay.mjs');
    writeFileSync(entry, `#!/usr/bin/env node\nimport ${JSON.stringify(CLI)};\n`);
    chmodSync(entry, 0o755);
    symlinkSync(entry, path.join(bin, 'sendmail'));
  });
  afterAll(async () => {
    await relay.stop();
    await google.fake.close();
    removeDir(dir);
  });

  /** Run a shell line with our sendmail first on PATH; resolves with its exit code and stderr. */
  function sh(line: string, env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn('/bin/sh', ['-c', line], {
        cwd: ROOT,
        env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, NODE_OPTIONS: '--import tsx', WORKSPACE_RELAY_CONFIG: configFile, ...env },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('exit', (code) => resolve({ code, stderr }));
    });
  }
  const sentWithSubject = (subject: string) => google.fake.sent.find((s) => s.raw.toString('latin1').includes(`Subject: ${subject}\r\n`));

  it('sendmail -t -i: recipients from To, Cc and Bcc; Bcc removed; CRLF; a lone dot is text; exit 0', async () => {
    const r = await sh(`printf 'To: bob@clinic.example\\nCc: alice@clinic.example\\nBcc: scans@clinic.example\\nSubject: nightly-t\\n\\nreport\\n.\\nmore\\n' | sendmail -t -i`);
    expect(r).toEqual({ code: 0, stderr: '' });
    await waitUntil(() => sentWithSubject('nightly-t') !== undefined, 10_000, 'delivered');
    const raw = sentWithSubject('nightly-t')!.raw.toString('latin1');
    expect(raw).toMatch(/\r\n\r\nreport\r\n\.\r\nmore\r\n$/);
    expect(raw).not.toMatch(/[^\r]\n/);
    // the relay put the envelope-only recipient back as Gmail needs it, and no other Bcc
    expect(raw.match(/^Bcc:.*$/gim)).toEqual(['Bcc: scans@clinic.example']);
    expect(sentWithSubject('nightly-t')!.user).toBe('scans@clinic.example');
  }, 60_000);

  it('sendmail -f a@b c@d: envelope sender and recipient from the arguments; without -i a lone dot ends the message', async () => {
    const r = await sh(`printf 'Subject: nightly-f\\n\\nline one\\n.\\nnever sent\\n' | sendmail -f alice@clinic.example bob@clinic.example`);
    expect(r).toEqual({ code: 0, stderr: '' });
    await waitUntil(() => sentWithSubject('nightly-f') !== undefined, 10_000, 'delivered');
    const sent = sentWithSubject('nightly-f')!;
    expect(sent.user).toBe('alice@clinic.example');
    const raw = sent.raw.toString('latin1');
    expect(raw).toMatch(/^From: alice@clinic\.example\r\n/);
    expect(raw).toMatch(/line one\r\n$/);
    expect(raw).not.toContain('never sent');
  }, 60_000);

  it("cron's form (-FCronDaemon -i -B8BITMIME -oem user): a From with the full name", async () => {
    const r = await sh(`printf 'Subject: nightly-cron\\n\\ncron output\\n' | sendmail -FCronDaemon -i -B8BITMIME -oem bob@clinic.example`);
    expect(r).toEqual({ code: 0, stderr: '' });
    await waitUntil(() => sentWithSubject('nightly-cron') !== undefined, 10_000, 'delivered');
    expect(sentWithSubject('nightly-cron')!.raw.toString('latin1')).toMatch(/^From: "CronDaemon" <scans@clinic\.example>\r\n/m);
  }, 60_000);

  it('a recipient outside the workspace: exit 67 (EX_NOUSER) with the relay\'s reply; the others still get it', async () => {
    const r = await sh(`printf 'Subject: nightly-67\\n\\nhi\\n' | sendmail -f alice@clinic.example eve@elsewhere.example bob@clinic.example`);
    expect(r.code).toBe(67);
    expect(r.stderr).toBe('sendmail: <eve@elsewhere.example>: 550 5.7.1 recipient <eve@elsewhere.example> outside clinic: mail is only relayed inside the organisation\n');
    await waitUntil(() => sentWithSubject('nightly-67') !== undefined, 10_000, 'delivered to bob');
  }, 60_000);

  it('a message the relay refuses at DATA (a header recipient outside): exit 65 (EX_DATAERR)', async () => {
    const r = await sh(`printf 'To: eve@elsewhere.example\\nSubject: nightly-65\\n\\nhi\\n' | sendmail -f alice@clinic.example bob@clinic.example`);
    expect(r.code).toBe(65);
    expect(r.stderr).toMatch(/^sendmail: message: 554 5\.7\.1 header recipient <eve@elsewhere\.example> in To refused/);
  }, 60_000);

  it('the relay unreachable: exit 75 (EX_TEMPFAIL), as `workspace-relay sendmail --server`', async () => {
    const closed = await freePort();
    const r = await sh(`printf 'Subject: x\\n\\nhi\\n' | node ${JSON.stringify(CLI)} sendmail --server 127.0.0.1:${closed} -f alice@clinic.example bob@clinic.example`);
    expect(r.code).toBe(75);
    expect(r.stderr).toMatch(new RegExp(`^sendmail: cannot reach the relay at 127\\.0\\.0\\.1:${closed} \\(\\w+\\): try again later\\n$`));
  }, 60_000);

  it('usage errors: exit 64 (EX_USAGE)', async () => {
    const none = await sh(`printf 'Subject: x\\n\\nhi\\n' | sendmail -t`);
    expect(none.code).toBe(64);
    expect(none.stderr).toMatch(/^sendmail: no recipients: name them/);
    const bs = await sh('sendmail -bs < /dev/null');
    expect(bs.code).toBe(64);
    expect(bs.stderr).toMatch(/^sendmail: -bs: only -bm \(read a message and send it\) is supported/);
  }, 60_000);
});

describe('sendmail arguments', () => {
  it.each([
    [['-t', '-i'], { readHeaders: true, ignoreDots: true, recipients: [] }],
    [['-ti'], { readHeaders: true, ignoreDots: true }],
    [['-f', 'a@b.example', 'c@d.example'], { from: 'a@b.example', recipients: ['c@d.example'] }],
    [['-fa@b.example', '-oi', 'c@d.example'], { from: 'a@b.example', ignoreDots: true, recipients: ['c@d.example'] }],
    [['-FCronDaemon', '-i', '-B8BITMIME', '-oem', 'root@x.example'], { fullName: 'CronDaemon', ignoreDots: true, recipients: ['root@x.example'] }],
    [['-oem', '-oi', '--', '-odd@x.example'], { ignoreDots: true, recipients: ['-odd@x.example'] }],
    [['-f', '<>', 'a@x.example'], { from: '' }],
    [['-r', '<a@x.example>', '-N', 'never', 'b@x.example'], { from: 'a@x.example', recipients: ['b@x.example'] }],
    [['-C', '/etc/wr.yaml', '--server=127.0.0.1:25', 'a@x.example'], { config: '/etc/wr.yaml', server: '127.0.0.1:25' }],
  ] as const)('%j', (argv, want) => {
    expect(parseSendmailArgs(argv)).toMatchObject(want);
  });

  it.each([[['-bs']], [['-q']], [['-Z']], [['-f']], [['--nope']]] as const)('%j is a usage error', (argv) => {
    expect(() => parseSendmailArgs(argv)).toThrow();
  });

  it('is sendmail when run under that name, or as `workspace-relay [-c FILE] sendmail`', () => {
    expect(sendmailInvocation(['node', '/usr/sbin/sendmail', '-t', '-i'])).toEqual(['-t', '-i']);
    expect(sendmailInvocation(['node', '/opt/wr/dist/cli/index.js', '-c', '/etc/wr.yaml', 'sendmail', '-oi', 'a@x.example'])).toEqual(['--config', '/etc/wr.yaml', '-oi', 'a@x.example']);
    expect(sendmailInvocation(['node', '/opt/wr/dist/cli/index.js', 'check', 'sendmail'])).toBeUndefined();
  });
});
