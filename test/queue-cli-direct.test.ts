/**
 * The queue CLI with no relay running: reads straight from the spool, changes it under the
 * control-socket lock (which a starting relay honours), and the relay finds the changes at start.
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Relay } from '../src/app.js';
import { parseConfig } from '../src/config/load.js';
import type { Config, ConfigInput } from '../src/config/index.js';
import { GMAIL_SEND_SCOPE } from '../src/config/schema.js';
import { ControlServer } from '../src/control/index.js';
import { Spool } from '../src/spool/index.js';
import { type GoogleEnv, gmailConfig, removeDir, startGoogle, startTestRelay, tempDir, waitUntil } from './support/harness.js';
import { SmtpClient } from './support/smtp-client.js';
import { auditEntries, message, queueCli, queuedId } from './queue-cli-helpers.js';

let dir: string;
let google: GoogleEnv;
let doc: ConfigInput;
let config: Config;
let auditFile: string;
let relay: Relay | undefined;
const ids: Record<string, string> = {};
const sentIds = () => google.fake.sent.map((s) => /^Message-ID: <([^>]+)>/im.exec(s.raw.toString('latin1'))?.[1]);
const socket = () => path.join(dir, 'spool', 'control.sock');

beforeAll(async () => {
  dir = tempDir('wr-qdir-');
  google = await startGoogle(dir);
  auditFile = path.join(dir, 'audit.log');
  doc = gmailConfig(dir, google, { audit: { file: auditFile } });
  doc.queue = { dir: path.join(dir, 'spool'), retrySchedule: '1h', heldRetry: '1h' };
  google.fake.revoke(google.sa.clientId);
  const started = await startTestRelay(doc);
  config = started.config;
  const c = await SmtpClient.open(started.port);
  for (const name of ['held', 'retried', 'interrupted', 'deleted']) {
    const raw = message({ From: 'alice@clinic.example', To: 'bob@clinic.example', 'Message-ID': `<${name}@clinic.example>` });
    ids[name] = queuedId((await c.send('alice@clinic.example', ['bob@clinic.example'], raw)).text);
  }
  await c.quit();
  await waitUntil(async () => (await started.relay.spool.list('queue')).every((m) => m.attempts >= 1) && (await started.relay.spool.count('queue')) === 4);
  await started.relay.stop();
  // a delivery cut off by a crash: its .json is still in active/
  await (await Spool.open(path.join(dir, 'spool'), { recover: false })).claim(ids.interrupted!);
});
afterAll(async () => {
  await relay?.stop();
  await google.fake.close();
  removeDir(dir);
});

describe('no relay running', () => {
  it('reads the spool directly, and says so', async () => {
    const r = await queueCli(config, ['list']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('no relay is running; read from the spool directly');
    expect(r.stdout).toMatch(new RegExp(`^${ids.interrupted} +active `, 'm'));
    const json = JSON.parse((await queueCli(config, ['list', '--json'])).stdout) as { via: string; messages: unknown[] };
    expect(json).toMatchObject({ via: 'direct' });
    expect(json.messages).toHaveLength(4);
    expect(JSON.parse((await queueCli(config, ['show', ids.held!, '--json'])).stdout)).toMatchObject({ via: 'direct', message: { state: 'queue' } });
  });

  it('changes the spool directly under the lock, audited as direct, and releases the lock', async () => {
    const r = await queueCli(config, ['hold', ids.held!]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('changed the spool directly');
    expect(existsSync(path.join(dir, 'spool', 'hold', `${ids.held}.json`))).toBe(true);
    expect(auditEntries(auditFile).at(-1)).toMatchObject({ action: 'queue.hold', ids: [ids.held], via: 'direct', outcome: 'ok' });
    expect(existsSync(socket())).toBe(false);

    expect((await queueCli(config, ['retry', ids.retried!])).code).toBe(0);
    expect((await queueCli(config, ['delete', ids.deleted!])).code).toBe(0);
  });

  it('a delivery cut off by a stop cannot be held (it goes back to the queue at start) but can be deleted', async () => {
    const hold = await queueCli(config, ['hold', ids.interrupted!]);
    expect(hold.code).toBe(1);
    expect(hold.stderr).toContain('was being delivered when the relay stopped');
    const del = await queueCli(config, ['delete', ids.interrupted!]);
    expect(del.code).toBe(0);
    expect(del.stdout).toContain('(was in active/)');
  });

  it('refuses a change (75) while another queue command holds the lock; reads still work', async () => {
    const other = await ControlServer.acquire(socket(), { owner: 'cli' });
    try {
      const r = await queueCli(config, ['release', ids.held!]);
      expect(r.code).toBe(75);
      expect(r.stderr).toMatch(/another queue command \(pid \d+\) is changing the spool right now; try again/);
      expect((await queueCli(config, ['list'])).code).toBe(0);
    } finally {
      await other.close();
    }
  });

  it('refuses a direct change by an OS user who does not own the spool (its files must stay readable by the relay)', async () => {
    const owner = statSync(path.join(dir, 'spool')).uid;
    const r = await queueCli(config, ['release', ids.held!], { uid: owner + 1 });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`belongs to uid ${owner}`);
    expect(r.stderr).toContain("run this as the relay's user");
    expect((await queueCli(config, ['list'], { uid: owner + 1 })).code).toBe(0);
  });

  it('says when there is no spool at all', async () => {
    const none = parseConfig({ ...doc, queue: { dir: path.join(dir, 'nowhere') } });
    const r = await queueCli(none, ['list']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`no spool at ${path.join(dir, 'nowhere')}`);
    // a relative queue.dir that finds nothing from here: say what it is relative to, and the fix
    const relative = parseConfig({ ...doc, queue: { dir: './no-such-spool-here' } });
    const rel = await queueCli(relative, ['list']);
    expect(rel.code).toBe(1);
    expect(rel.stderr).toContain(`queue.dir ./no-such-spool-here is relative to the directory this command runs in (${process.cwd()})`);
    expect(rel.stderr).toContain('set an absolute queue.dir');
  });

  it('a control.socket path too long to bind is a config error (exit 78)', async () => {
    const long = parseConfig({ ...doc, control: { socket: path.join(dir, 'x'.repeat(120), 'control.sock') } });
    const r = await queueCli(long, ['list']);
    expect(r.code).toBe(78);
    expect(r.stderr).toContain('config error: control.socket: the control socket path');
  });

  it('the relay, started afterwards, keeps the hold, sends the retried message now, and never the deleted one', async () => {
    google.fake.authorize(google.sa.clientId, [GMAIL_SEND_SCOPE]);
    ({ relay } = await startTestRelay(doc));
    await waitUntil(() => sentIds().includes('retried@clinic.example'), 10_000, 'the retried message');
    await relay.scheduler.idle();
    expect((await relay.spool.find(ids.held!))?.state).toBe('hold');
    expect(sentIds()).not.toContain('held@clinic.example');
    expect(sentIds()).not.toContain('deleted@clinic.example');
    const rel = await queueCli(config, ['release', ids.held!, '--json']);
    expect(JSON.parse(rel.stdout)).toMatchObject({ via: 'daemon', message: { state: 'queue' } });
    await waitUntil(() => sentIds().includes('held@clinic.example'));
  });
});
