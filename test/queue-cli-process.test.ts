/** `workspace-relay queue …` as an admin runs it: real processes against a running daemon, exit codes. */
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Spool } from '../src/spool/index.js';
import { runCli, startDaemon, writeConfigFile, type Daemon } from './support/daemon.js';
import { type GoogleEnv, gmailConfig, removeDir, startGoogle, tempDir, waitUntil } from './support/harness.js';
import { SmtpClient } from './support/smtp-client.js';
import { auditEntries, message, queuedId } from './queue-cli-helpers.js';

describe('queue CLI processes against a daemon process', () => {
  let dir: string;
  let google: GoogleEnv;
  let configFile: string;
  let auditFile: string;
  let daemon: Daemon | undefined;
  let id: string;
  const queue = (...args: string[]) => runCli(['--config', configFile, 'queue', ...args], { SUDO_USER: 'nurse.joy' });

  beforeAll(async () => {
    dir = tempDir('wr-qproc-');
    google = await startGoogle(dir);
    google.fake.revoke(google.sa.clientId);
    auditFile = path.join(dir, 'audit.log');
    const doc = gmailConfig(dir, google, { audit: { file: auditFile } });
    doc.queue = { dir: path.join(dir, 'spool'), retrySchedule: '1h', heldRetry: '1h' };
    configFile = writeConfigFile(dir, doc);
    daemon = await startDaemon(configFile);
    const c = await SmtpClient.open(daemon.port);
    id = queuedId((await c.send('alice@clinic.example', ['bob@clinic.example'], message({ From: 'alice@clinic.example', To: 'bob@clinic.example' }))).text);
    await c.quit();
    const spool = await Spool.open(path.join(dir, 'spool'), { recover: false });
    await waitUntil(async () => ((await spool.get('queue', id))?.attempts ?? 0) >= 1);
  });
  afterAll(async () => {
    daemon?.child.kill('SIGKILL');
    await google.fake.close();
    removeDir(dir);
  });

  it('list --json goes through the daemon; hold is audited with the OS user and the sudo user', async () => {
    const list = await queue('list', '--json');
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toMatchObject({ via: 'daemon', messages: [{ id, state: 'queue', attempts: 1 }] });

    const hold = await queue('hold', id);
    expect(hold.code).toBe(0);
    expect(hold.stdout).toContain(`held ${id}`);
    expect(auditEntries(auditFile).at(-1)).toMatchObject({
      action: 'queue.hold',
      ids: [id],
      via: 'daemon',
      outcome: 'ok',
      who: { osUser: os.userInfo().username, sudoUser: 'nurse.joy' },
      at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect(daemon!.lines.some((l) => l.event === 'control.request' && l.op === 'hold' && l.outcome === 'ok')).toBe(true);
  });

  it('exit codes: 1 refused, 64 usage, 78 config', async () => {
    const retry = await queue('retry', id);
    expect(retry.code).toBe(1);
    expect(retry.stderr).toContain('is held by an admin');
    const bare = await queue();
    expect(bare.code).toBe(64);
    const bad = await runCli(['--config', path.join(dir, 'missing.yaml'), 'queue', 'list']);
    expect(bad.code).toBe(78);
    expect(bad.stderr).toContain('config error');
  });

  it('with the daemon stopped, reads and changes go to the spool directly', async () => {
    daemon!.child.kill('SIGTERM');
    await daemon!.exited;
    daemon = undefined;
    const release = await queue('release', id, '--json');
    expect(release.code).toBe(0);
    expect(JSON.parse(release.stdout)).toMatchObject({ via: 'direct', message: { id, state: 'queue' } });
    const list = await queue('list', '--json');
    expect(JSON.parse(list.stdout)).toMatchObject({ via: 'direct', messages: [{ id, state: 'queue' }] });
  });
});
