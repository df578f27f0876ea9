/**
 * The queue CLI against a live relay's spool: every command goes through the relay's control
 * socket, the scheduler acts on it at once, and every change is in the audit log.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Relay } from '../src/app.js';
import type { Config } from '../src/config/index.js';
import { GMAIL_SEND_SCOPE } from '../src/config/schema.js';
import { type GoogleEnv, gmailConfig, removeDir, startGoogle, startTestRelay, tempDir, waitUntil } from './support/harness.js';
import { SmtpClient } from './support/smtp-client.js';
import { auditEntries, message, queueCli, queuedId } from './queue-cli-helpers.js';

let dir: string;
let google: GoogleEnv;
let relay: Relay;
let config: Config;
let port: number;
let auditFile: string;

const ALICE = 'alice@clinic.example';
const BOB = 'bob@clinic.example';

beforeAll(async () => {
  dir = tempDir('wr-qcli-');
  google = await startGoogle(dir, [ALICE, BOB, 'scans@clinic.example', 'postmaster@clinic.example']);
  auditFile = path.join(dir, 'audit.log');
  const doc = gmailConfig(dir, google, { audit: { file: auditFile } });
  doc.queue = { dir: path.join(dir, 'spool'), retrySchedule: '1h', heldRetry: '1h' };
  ({ relay, config, port } = await startTestRelay(doc));
});
afterAll(async () => {
  await relay?.stop();
  await google.fake.close();
  removeDir(dir);
});

const revoke = () => {
  google.fake.revoke(google.sa.clientId);
  google.fake.expireAllTokens(); // tokens the relay cached while delegation worked stop working too
};
const authorize = () => google.fake.authorize(google.sa.clientId, [GMAIL_SEND_SCOPE]);
const sentIds = () => google.fake.sent.map((s) => /^Message-ID: <([^>]+)>/im.exec(s.raw.toString('latin1'))?.[1]);

async function send(from: string, msgId: string, to = [BOB]): Promise<{ id: string; raw: string }> {
  const raw = message({ From: from, To: to.join(', '), 'Message-ID': `<${msgId}>`, Subject: 'results' });
  const c = await SmtpClient.open(port);
  const reply = await c.send(from, to, raw);
  await c.quit();
  expect(reply.code).toBe(250);
  return { id: queuedId(reply.text), raw };
}

/** Send while delegation is revoked: the message waits in the queue, held for an hour. */
async function sendHeld(msgId: string): Promise<string> {
  revoke();
  const { id } = await send(ALICE, msgId);
  await waitUntil(async () => ((await relay.spool.get('queue', id))?.attempts ?? 0) >= 1, 15_000, `first attempt of ${id}`);
  return id;
}

const lastAudit = () => auditEntries(auditFile).at(-1);

describe('queue list / show', () => {
  it('lists a waiting message with age, sender, recipients, attempts, next attempt and last error; --json for scripts', async () => {
    const id = await sendHeld('list-1@clinic.example');
    const human = await queueCli(config, ['list']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^ID +STATE +AGE +SENDER +RCPTS +ATTEMPTS +NEXT +LAST ERROR$/m);
    const row = human.stdout.split('\n').find((l) => l.startsWith(id))!;
    expect(row).toMatch(new RegExp(`^${id} +queue +\\d+s +alice@clinic\\.example +1 +1 +in (59|60)m +delivery\\.`));
    expect(human.stdout).toMatch(/\d+ messages?: \d+ queued/);

    const json = await queueCli(config, ['list', '--json']);
    const parsed = JSON.parse(json.stdout) as { via: string; messages: Record<string, any>[] };
    expect(parsed.via).toBe('daemon');
    expect(parsed.messages.find((m) => m.id === id)).toMatchObject({
      state: 'queue',
      sender: ALICE,
      recipients: [BOB],
      attempts: 1,
      lastError: { kind: 'held' },
    });
  });

  it('show gives the metadata; --body the exact bytes, and that access is audited', async () => {
    const raw = message({ From: ALICE, To: BOB, 'Message-ID': '<show-1@clinic.example>' }, 'Potassium 4.1\r\n');
    revoke();
    const c = await SmtpClient.open(port);
    const id = queuedId((await c.send(ALICE, [BOB], raw)).text);
    await c.quit();
    await waitUntil(async () => ((await relay.spool.get('queue', id))?.attempts ?? 0) >= 1);

    const shown = await queueCli(config, ['show', id]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(new RegExp(`^id: +${id}$`, 'm'));
    expect(shown.stdout).toMatch(/^message-id: +show-1@clinic\.example$/m);
    expect(shown.stdout).toMatch(/^received: .* from 127\.0\.0\.1 .* on listener 127\.0\.0\.1:\d+$/m);
    expect(shown.stdout).toMatch(/^last error: +\S+ \(held, /m);
    expect(shown.stdout).not.toContain('Potassium');
    expect(JSON.parse((await queueCli(config, ['show', id, '--json'])).stdout).message).toMatchObject({ id, state: 'queue', messageId: 'show-1@clinic.example' });

    const body = await queueCli(config, ['show', id, '--body']);
    expect(body.code).toBe(0);
    expect(body.bytes.toString('latin1')).toBe(raw);
    expect(lastAudit()).toMatchObject({ action: 'queue.show-body', ids: [id], via: 'daemon', outcome: 'ok', who: { sudoUser: 'drsmith' } });
    // the access is on record before the bytes are shown
    expect(auditEntries(auditFile).at(-2)).toMatchObject({ action: 'queue.show-body', ids: [id], outcome: 'started' });
    expect(JSON.stringify(auditEntries(auditFile))).not.toContain('Potassium');
  });
});

describe('queue hold / release / retry', () => {
  it('a held message is never sent, even across a restart, until released; release sends it at once', async () => {
    const held = await sendHeld('hold-1@clinic.example');
    const r = await queueCli(config, ['hold', held]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`held ${held}`);
    expect(existsSync(path.join(dir, 'spool', 'hold', `${held}.json`))).toBe(true);
    expect(lastAudit()).toMatchObject({ action: 'queue.hold', ids: [held], via: 'daemon', outcome: 'ok' });
    expect((await queueCli(config, ['retry', held])).stderr).toContain('is held by an admin: `queue release ID`');
    expect((await queueCli(config, ['hold', held])).code).toBe(1);

    await relay.stop();
    authorize();
    ({ relay, port } = await startTestRelay({ ...gmailConfigFor(), audit: { file: auditFile } }));
    const { id: other } = await send(ALICE, 'hold-other@clinic.example');
    await waitUntil(() => sentIds().includes('hold-other@clinic.example'));
    expect(other).not.toBe(held);
    expect(sentIds()).not.toContain('hold-1@clinic.example');
    const list = JSON.parse((await queueCli(config, ['list', '--json'])).stdout) as { messages: { id: string; state: string }[] };
    expect(list.messages.find((m) => m.id === held)?.state).toBe('hold');
    expect((await queueCli(config, ['list'])).stdout).toMatch(new RegExp(`^${held} +hold .* held `, 'm'));

    const rel = await queueCli(config, ['release', held]);
    expect(rel.code).toBe(0);
    expect(rel.stdout).toContain(`released ${held}: back in the queue, due now`);
    await waitUntil(() => sentIds().includes('hold-1@clinic.example'));
    expect(lastAudit()).toMatchObject({ action: 'queue.release', ids: [held], outcome: 'ok' });
    expect((await queueCli(config, ['release', held])).code).toBe(1);
  });

  it('retry ID makes the next attempt now instead of in an hour', async () => {
    const id = await sendHeld('retry-1@clinic.example');
    authorize();
    const r = await queueCli(config, ['retry', id]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${id}: next attempt now\n`);
    await waitUntil(() => sentIds().includes('retry-1@clinic.example'), 10_000);
    expect(lastAudit()).toMatchObject({ action: 'queue.retry', ids: [id], outcome: 'ok' });
  });

  it('retry --all sends everything waiting, and skips held messages', async () => {
    const a = await sendHeld('all-1@clinic.example');
    const b = await sendHeld('all-2@clinic.example');
    const held = await sendHeld('all-held@clinic.example');
    expect((await queueCli(config, ['hold', held])).code).toBe(0);
    authorize();
    const r = await queueCli(config, ['retry', '--all', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { retried: string[] };
    expect(out.retried).toEqual(expect.arrayContaining([a, b]));
    expect(out.retried).not.toContain(held);
    await waitUntil(() => ['all-1@clinic.example', 'all-2@clinic.example'].every((m) => sentIds().includes(m)));
    expect(lastAudit()).toMatchObject({ action: 'queue.retry-all', outcome: 'ok', ids: expect.arrayContaining([a, b]) });
    expect((await relay.spool.find(held))?.state).toBe('hold');
    expect((await queueCli(config, ['delete', held])).code).toBe(0);
  });
});

describe('queue delete', () => {
  it('deletes a waiting message with its bytes; it is gone for show and the scheduler', async () => {
    const id = await sendHeld('delete-1@clinic.example');
    const r = await queueCli(config, ['delete', id]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`deleted ${id} (was in queue/) with its message bytes\n`);
    expect(existsSync(relay.spool.emlPath(id))).toBe(false);
    const shown = await queueCli(config, ['show', id]);
    expect(shown.code).toBe(1);
    expect(shown.stderr).toContain(`no message ${id}`);
    expect(lastAudit()).toMatchObject({ action: 'queue.delete', ids: [id], outcome: 'ok', who: { osUser: expect.any(String) } });
    authorize();
    await queueCli(config, ['retry', '--all']);
    await relay.scheduler.idle();
    expect(sentIds()).not.toContain('delete-1@clinic.example');
  });

  it('refuses a message being delivered right now (exit 75), and audits the refusal', async () => {
    authorize();
    google.fake.sendLatencyMs = 2_500;
    try {
      const { id } = await send(ALICE, 'busy-1@clinic.example');
      await waitUntil(async () => (await relay.spool.find(id))?.state === 'active');
      const r = await queueCli(config, ['delete', id]);
      expect(r.code).toBe(75);
      expect(r.stderr).toContain(`message ${id} is being delivered right now`);
      expect(lastAudit()).toMatchObject({ action: 'queue.delete', ids: [id], outcome: 'failed' });
      expect((await queueCli(config, ['hold', id])).code).toBe(75);
      await waitUntil(() => sentIds().includes('busy-1@clinic.example'));
    } finally {
      google.fake.sendLatencyMs = 0;
    }
  });
});

describe('queue dead / requeue', () => {
  it('lists the dead with the reason; requeue gives one a fresh chance after the fix', async () => {
    authorize();
    const carol = 'carol@clinic.example'; // not (yet) a Google user: permanent failure
    const { id } = await send(carol, 'dead-1@clinic.example');
    await waitUntil(async () => (await relay.spool.find(id))?.state === 'dead');

    const dead = await queueCli(config, ['dead']);
    expect(dead.code).toBe(0);
    expect(dead.stdout).toMatch(/^ID +AGE +SENDER +RCPTS +ATTEMPTS +DIED +REASON$/m);
    expect(dead.stdout).toMatch(new RegExp(`^${id} +\\d+s +carol@clinic\\.example +1 +1 +\\d{4}-\\d\\d-\\d\\d [\\d:]+Z +\\S+: `, 'm'));
    const json = JSON.parse((await queueCli(config, ['dead', '--json'])).stdout) as { messages: Record<string, any>[] };
    expect(json.messages.find((m) => m.id === id)).toMatchObject({ state: 'dead', lastError: { kind: 'permanent' } });
    expect((await queueCli(config, ['list', '--json'])).stdout).not.toContain(id);

    google.fake.addUser(carol);
    const r = await queueCli(config, ['requeue', id, '--json']);
    expect(r.code).toBe(0);
    const back = JSON.parse(r.stdout) as { message: Record<string, any> };
    expect(back.message).toMatchObject({ id, state: 'queue', attempts: 0 });
    expect(Date.now() - Date.parse(back.message.requeuedAt as string)).toBeLessThan(60_000);
    await waitUntil(() => sentIds().includes('dead-1@clinic.example'));
    expect(lastAudit()).toMatchObject({ action: 'queue.requeue', ids: [id], outcome: 'ok' });
    expect((await queueCli(config, ['requeue', id])).code).toBe(1);
  });
});

describe('queue find', () => {
  it('finds by Message-ID (with or without <>), sender and recipient, as in Email Log Search', async () => {
    const id = await sendHeld('find-me@clinic.example');
    for (const args of [
      ['--message-id', '<find-me@clinic.example>'],
      ['--message-id', 'FIND-ME@clinic.example'],
      ['--sender', 'Alice@Clinic.example', '--recipient', BOB],
    ]) {
      const r = await queueCli(config, ['find', ...args, '--json']);
      expect(r.code).toBe(0);
      expect((JSON.parse(r.stdout) as { messages: { id: string }[] }).messages.map((m) => m.id)).toContain(id);
    }
    const human = await queueCli(config, ['find', '--message-id', 'find-me@clinic.example']);
    expect(human.stdout).toMatch(new RegExp(`^${id} +queue `, 'm'));
    const none = await queueCli(config, ['find', '--sender', ALICE, '--recipient', 'nobody@clinic.example']);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('no message matches');
    expect((await queueCli(config, ['find'])).code).toBe(64);
    await queueCli(config, ['delete', id]);
  });
});

describe('exit codes', () => {
  it('1 for an unknown id, 64 (EX_USAGE) for usage mistakes', async () => {
    expect(await queueCli(config, ['show', '0000000000ZZZZ'])).toMatchObject({ code: 1 });
    const bad = await queueCli(config, ['hold', '../../etc/passwd']);
    expect(bad.code).toBe(64);
    expect(bad.stderr).toContain('not a queue id');
    expect((await queueCli(config, ['hold'])).code).toBe(64);
    expect((await queueCli(config, ['retry'])).code).toBe(64);
    expect((await queueCli(config, ['retry', '0000000000ZZZZ', '--all'])).code).toBe(64);
    expect((await queueCli(config, ['frobnicate'])).code).toBe(64);
    expect((await queueCli(config, ['show', '0000000000ZZZZ', '--body', '--json'])).code).toBe(64);
  });
});

function gmailConfigFor() {
  const doc = gmailConfig(dir, google);
  doc.queue = { dir: path.join(dir, 'spool'), retrySchedule: '1h', heldRetry: '1h' };
  return doc;
}
