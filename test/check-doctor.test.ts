/**
 * `workspace-relay check`, the doctor: what serve would refuse, the spool, and every user the
 * config names, each failure with its fix; exit 0 only when every check passes.
 */
import { chmodSync, copyFileSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRelay } from '../src/app.js';
import { parseConfig } from '../src/config/load.js';
import type { ConfigInput } from '../src/config/index.js';
import { silentLogger } from '../src/log.js';
import { item, lineAndFix, runCheck } from './support/check.js';
import { writeConfigFile } from './support/daemon.js';
import { gmailError } from './support/fake-google.js';
import { type GoogleEnv, freePort, gmailConfig, removeDir, startGoogle, startTestRelay, tempDir } from './support/harness.js';
import { runProgram } from './support/program.js';

let dir: string;
let google: GoogleEnv;

beforeAll(async () => {
  dir = tempDir();
  google = await startGoogle(dir, ['alice@clinic.example', 'bob@clinic.example', 'scans@clinic.example', 'notices@clinic.example', 'nomail@clinic.example']);
  google.fake.disableMail('nomail@clinic.example');
});
afterAll(async () => {
  await google.fake.close();
  removeDir(dir);
});

/** A config every check passes: its users exist with Gmail, its postmaster too. */
function goodConfig(extra: Partial<ConfigInput> = {}, spool = path.join(dir, `spool-${Math.random().toString(36).slice(2)}`)): ConfigInput {
  const doc = gmailConfig(dir, google, extra);
  doc.queue = { ...doc.queue, dir: spool };
  const w = doc.workspaces[0]!;
  w.senders = { map: { 'scanner@printer.local': 'scans@clinic.example' }, default: 'alice@clinic.example' };
  w.postmaster = 'notices@clinic.example';
  w.notify = 'bob@clinic.example';
  return doc;
}

describe('check: a config that works', () => {
  it('tries every user the config names (sending users, postmaster, notify), sends nothing, and exits 0', async () => {
    const file = writeConfigFile(dir, goodConfig(), 'good.yaml');
    const requests = google.fake.tokenRequests.length;
    const sent = google.fake.sent.length;
    const r = await runProgram(['--config', file, 'check']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/ok +scans@clinic\.example \(senders\.map\): Google issues tokens as scans@clinic\.example .*; Gmail serves scans@clinic\.example/);
    expect(r.stdout).toMatch(/ok +alice@clinic\.example \(senders\.default\): /);
    expect(r.stdout).toMatch(/ok +notices@clinic\.example \(postmaster\): /);
    expect(r.stdout).toMatch(/ok +bob@clinic\.example \(notify\): /);
    expect(r.stdout).not.toMatch(/FAIL|skip/);
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe('all checks passed');
    expect(r.code).toBe(0);
    const subs = google.fake.tokenRequests.slice(requests).map((t) => t.sub);
    expect(new Set(subs)).toEqual(new Set(['scans@clinic.example', 'alice@clinic.example', 'notices@clinic.example', 'bob@clinic.example']));
    expect(google.fake.sent.length).toBe(sent);
  }, 30_000);

  it('--json: the same checks as one report', async () => {
    const file = writeConfigFile(dir, goodConfig(), 'good-json.yaml');
    const r = await runProgram(['--config', file, 'check', '--json']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { ok: boolean; failures: number; sections: { title: string; items: { name: string; ok: boolean }[] }[] };
    expect(report).toMatchObject({ ok: true, failures: 0 });
    const names = report.sections.flatMap((s) => s.items.map((i) => i.name));
    expect(names).toEqual(expect.arrayContaining(['listen[0]', 'listen[0].bind', 'directories', 'keys', 'spool.permissions', 'spool.free-space', 'spool.hard-links', 'reach token endpoint', 'clock', 'user alice@clinic.example']));
  }, 30_000);
});

describe('check: what serve would refuse', () => {
  it('a missing TLS certificate fails check, as it stops serve (same words)', async () => {
    const doc = goodConfig({ listen: [{ host: '127.0.0.1', port: 0, tls: { mode: 'starttls', certFile: path.join(dir, 'none-cert.pem'), keyFile: path.join(dir, 'none-key.pem') } }] });
    const r = await runCheck(dir, doc);
    expect(r.exit).toBe(1);
    const listener = item(r.report, 'listen[0]');
    expect(listener.ok).toBe(false);
    expect(listener.detail).toMatch(/^listen\[0\]\.tls\.certFile: cannot read .*none-cert\.pem: .*\(a PEM file the relay's user can read\)$/);
    await expect(startRelay({ config: parseConfig(doc), logger: silentLogger })).rejects.toThrow(listener.detail);
  }, 30_000);

  it('a service-account key others can read fails check with the chmod, as it stops serve (same words)', async () => {
    const key = path.join(dir, 'open-key.json');
    copyFileSync(google.keyFile, key);
    chmodSync(key, 0o644);
    const doc = goodConfig();
    doc.workspaces[0]!.gmailApi = { ...doc.workspaces[0]!.gmailApi!, serviceAccountKeyFile: key };
    const r = await runCheck(dir, doc);
    expect(r.exit).toBe(1);
    const keys = item(r.report, 'keys');
    expect(keys.ok).toBe(false);
    expect(keys.detail).toBe(`workspaces[0].gmailApi.serviceAccountKeyFile: ${key} is readable by group or others (mode 644); run: chmod 600 ${key}`);
    await expect(startRelay({ config: parseConfig(doc), logger: silentLogger })).rejects.toThrow(keys.detail);
  }, 30_000);

  it('a port another program holds: the bind fails with the fix', async () => {
    const holder = net.createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    const port = (holder.address() as net.AddressInfo).port;
    try {
      const r = await runCheck(dir, goodConfig({ listen: [{ host: '127.0.0.1', port }] }));
      expect(r.exit).toBe(1);
      expect(item(r.report, 'listen[0].bind')).toMatchObject({ ok: false, code: 'EADDRINUSE' });
      expect(item(r.report, 'listen[0].bind').detail).toBe(`listen[0].port: 127.0.0.1:${port} is in use by another program (or another listen[] entry): stop it, or choose another port`);
    } finally {
      holder.close();
    }
  }, 30_000);

  it('while the relay runs, its own ports are not a failure (status over the control socket says it holds them)', async () => {
    const port = await freePort();
    const doc = goodConfig({ listen: [{ host: '127.0.0.1', port }] });
    const { relay } = await startTestRelay(doc);
    try {
      const r = await runCheck(dir, doc);
      expect(item(r.report, 'relay').detail).toMatch(new RegExp(`^relay running: pid ${process.pid}, up `));
      expect(item(r.report, 'listen[0].bind')).toMatchObject({ ok: true, detail: `listen[0] 127.0.0.1:${port}: held by the running relay (pid ${process.pid})` });
      expect(r.report.failures).toBe(0);
      expect(r.exit).toBe(0);
    } finally {
      await relay.stop();
    }
  }, 30_000);
});

describe('check: the spool', () => {
  it('a spool directory others can read fails, with the chmod', async () => {
    const spool = path.join(dir, 'open-spool');
    mkdirSync(spool, { mode: 0o755 });
    chmodSync(spool, 0o755);
    const r = await runCheck(dir, goodConfig({}, spool));
    expect(r.exit).toBe(1);
    const [line, fix] = lineAndFix(r.lines, /open-spool is 755/);
    expect(line).toMatch(/^ {2}FAIL {2}.*open-spool is 755: others may read the mail in it/);
    expect(fix).toBe(`chmod 700 ${spool} (the relay also sets 0700 at its next start)`);
  }, 30_000);

  it("a spool that is not this user's fails, saying whose it is and what to run", async () => {
    const spool = path.join(dir, 'theirs');
    mkdirSync(spool, { mode: 0o700 });
    const r = await runCheck(dir, goodConfig({}, spool), [], { uid: 4242 });
    const perm = item(r.report, 'spool.permissions');
    expect(perm.ok).toBe(false);
    expect(perm.detail).toMatch(/theirs belongs to uid \d+, not to this user \(uid 4242\)$/);
    expect(perm.fix).toMatch(/^run check as the relay's user \(sudo -u workspace-relay workspace-relay check\); .*chown -R <relay user>: /);
  }, 30_000);

  it('less free space than queue.minFreeSpace fails: the relay would answer 452', async () => {
    const r = await runCheck(dir, goodConfig({}), [], { freeBytes: async () => 100 * 1024 ** 2 });
    expect(r.exit).toBe(1);
    const [line, fix] = lineAndFix(r.lines, /free \(queue\.minFreeSpace/);
    expect(line).toBe('  FAIL  100 MB free (queue.minFreeSpace 512 MB): below it the relay answers 452 to new mail');
    expect(fix).toBe('free space on that file system, or move queue.dir to a larger one (or lower queue.minFreeSpace)');
  }, 30_000);

  it('a file system without hard links fails as the spool would refuse it', async () => {
    const eperm = Object.assign(new Error('operation not permitted'), { code: 'EPERM' });
    const r = await runCheck(dir, goodConfig({}), [], {
      spoolFs: {
        link: async () => {
          throw eperm;
        },
      },
    });
    expect(r.exit).toBe(1);
    expect(item(r.report, 'spool.hard-links')).toMatchObject({ ok: false, code: 'spool.no_hard_links' });
    expect(item(r.report, 'spool.hard-links').detail).toMatch(/cannot hard-link files \(EPERM\); the spool needs them: put queue\.dir on a local file system such as ext4 or XFS$/);
  }, 30_000);
});

describe('check: users', () => {
  it('a user given that is in no workspace is a failure, not "all checks passed"', async () => {
    const file = writeConfigFile(dir, goodConfig(), 'typo.yaml');
    const r = await runProgram(['--config', file, 'check', 'bob@typo.example']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('  FAIL  bob@typo.example: in no workspace (the workspaces\' domains: clinic.example): the relay refuses mail to and from it');
    expect(r.stdout).toContain("        fix: check the address (a typo?), or add its domain to a workspace's domains");
    expect(r.stdout).not.toContain('all checks passed');
    expect(r.stderr).toBe('1 check(s) failed');
  }, 30_000);

  it('a postmaster that is no user fails: every notice is sent as it', async () => {
    const doc = goodConfig();
    delete doc.workspaces[0]!.postmaster; // postmaster@clinic.example, which the fake does not have
    const r = await runCheck(dir, doc);
    expect(r.exit).toBe(1);
    const [line, fix] = lineAndFix(r.lines, /postmaster@clinic\.example/);
    expect(line).toBe('  FAIL  postmaster@clinic.example (postmaster (default)): no such user postmaster@clinic.example in the Workspace');
    expect(fix).toBe('every notice (failure and delay notices, alerts) is sent as postmaster@clinic.example: create that user with Gmail, or set workspaces[0].postmaster to a real user with Gmail');
  }, 30_000);

  it('a user without Gmail fails with the fix, though Google issues a token (and nothing is sent)', async () => {
    const sent = google.fake.sent.length;
    const r = await runCheck(dir, goodConfig(), ['nomail@clinic.example']);
    expect(r.exit).toBe(1);
    expect(item(r.report, 'user nomail@clinic.example')).toMatchObject({ ok: false, code: 'delivery.mail_disabled' });
    const [line, fix] = lineAndFix(r.lines, /nomail@clinic\.example/);
    expect(line).toMatch(/^ {2}FAIL {2}nomail@clinic\.example: a token, but Gmail refuses nomail@clinic\.example: Gmail is not enabled for nomail@clinic\.example/);
    expect(fix).toMatch(/^turn Gmail on for nomail@clinic\.example \(Admin console → Apps → Google Workspace → Gmail → Service status\)/);
    expect(google.fake.sent.length).toBe(sent);
  }, 30_000);

  it('the Gmail API not enabled in the project: the token alone would not tell', async () => {
    // Twice: google-auth-library asks again with a new token after a 403; Google says the same.
    const disabled = gmailError(403, 'Gmail API has not been used in project 123 before or it is disabled.', 'PERMISSION_DENIED', 'accessNotConfigured');
    google.fake.failNext(disabled);
    google.fake.failNext(disabled);
    const r = await runCheck(dir, goodConfig(), ['alice@clinic.example']);
    expect(r.exit).toBe(1);
    const alice = item(r.report, 'user alice@clinic.example');
    expect(alice).toMatchObject({ ok: false, code: 'delivery.api_disabled' });
    expect(alice.fix).toBe('enable it: Google Cloud console → APIs & Services → Library → Gmail API → Enable');
  }, 30_000);

  it('a notify address Google has no user for is a warning (a group receives alerts too), not a failure', async () => {
    const doc = goodConfig();
    doc.workspaces[0]!.notify = 'it-team@clinic.example';
    const r = await runCheck(dir, doc);
    expect(item(r.report, 'user it-team@clinic.example')).toMatchObject({ ok: true, note: 'warn', code: 'delivery.no_such_user' });
    expect(r.exit).toBe(0);
  }, 30_000);
});
