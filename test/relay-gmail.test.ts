/** SMTP in → spool → Gmail API (the fake), end to end over loopback sockets. */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Relay } from '../src/app.js';
import { SmtpClient, message, queueIdOf } from './support/smtp-client.js';
import { gmailError } from './support/fake-google.js';
import { type GoogleEnv, LogCapture, gmailConfig, removeDir, startGoogle, startTestRelay, tempDir, waitUntil } from './support/harness.js';

describe('relay through the Gmail API', () => {
  let dir: string;
  let google: GoogleEnv;
  let relay: Relay | undefined;
  let logs: LogCapture;
  let port: number;

  beforeEach(async () => {
    dir = tempDir();
    google = await startGoogle(dir);
    ({ relay, logs, port } = await startTestRelay(gmailConfig(dir, google)));
  });
  afterEach(async () => {
    await relay?.stop();
    await google.fake.close();
    removeDir(dir);
  });

  it('delivers the exact bytes as the sending user, with the configured scope, through the media upload', async () => {
    const c = await SmtpClient.open(port);
    const msg = message(
      { From: 'Alice <alice@clinic.example>', To: 'bob@clinic.example', Subject: 'Lab results', 'Message-ID': '<m1@clinic.example>' },
      'Body line one.\r\n.leading dot line\r\n',
    );
    const reply = await c.send('alice@clinic.example', ['bob@clinic.example'], msg);
    expect(reply.code).toBe(250);
    expect(reply.text).toMatch(/^2\.0\.0 Ok: queued as \S+$/);
    await c.quit();
    await waitUntil(() => google.fake.sent.length === 1, 10_000, 'gmail send');
    const sent = google.fake.sent[0]!;
    expect(sent.raw.toString('latin1')).toBe(msg);
    expect(sent.user).toBe('alice@clinic.example');
    expect(sent.userId).toBe('me');
    expect(sent.uploadType).toBe('media');
    expect(google.fake.grants[0]).toMatchObject({ sub: 'alice@clinic.example', scopes: ['https://www.googleapis.com/auth/gmail.send'], iss: google.sa.clientEmail });
    const ok = await logs.waitFor('delivery.ok');
    expect(ok[0]).toMatchObject({ queueId: queueIdOf(reply), providerId: sent.id, messageId: 'm1@clinic.example' });
    // delivered mail is removed from the spool at once
    await waitUntil(() => readdirSync(path.join(dir, 'spool', 'data')).length === 0, 5000, 'spool emptied');
    // no PHI in logs
    expect(logs.raw.join('\n')).not.toMatch(/Lab results|Body line/);
  });

  it('adds a Bcc header for envelope recipients missing from the headers, and nothing else', async () => {
    const c = await SmtpClient.open(port);
    const msg = message({ From: 'alice@clinic.example', To: 'bob@clinic.example', Subject: 'x' });
    const reply = await c.send('alice@clinic.example', ['bob@clinic.example', 'scans@clinic.example'], msg);
    expect(reply.code).toBe(250);
    await c.quit();
    await waitUntil(() => google.fake.sent.length === 1);
    const raw = google.fake.sent[0]!.raw.toString('latin1');
    const [head, body] = [raw.slice(0, raw.indexOf('\r\n\r\n')), raw.slice(raw.indexOf('\r\n\r\n'))];
    expect(head.split('\r\n').filter((l) => /^bcc:/i.test(l))).toEqual(['Bcc: scans@clinic.example']);
    expect(head.split('\r\n').filter((l) => !/^bcc:/i.test(l)).join('\r\n') + body).toBe(msg);
  });

  it('sends a 12 MB message in a resumable upload (gmailApi.resumableAbove: 5MB by default)', async () => {
    const line = 'x'.repeat(998) + '\r\n';
    const body = line.repeat(Math.ceil((12 * 1024 * 1024) / line.length));
    const msg = message({ From: 'alice@clinic.example', To: 'bob@clinic.example', Subject: 'scan' }, body);
    const c = await SmtpClient.open(port);
    expect((await c.send('alice@clinic.example', ['bob@clinic.example'], msg)).code).toBe(250);
    await c.quit();
    await waitUntil(() => google.fake.sent.length === 1, 20_000);
    expect(google.fake.sent[0]!.uploadType).toBe('resumable');
    expect(google.fake.sent[0]!.raw.equals(Buffer.from(msg, 'latin1'))).toBe(true);
  });

  it('retries after a Gmail 500 and delivers', async () => {
    google.fake.failNext(gmailError(500, 'Backend Error', 'INTERNAL', 'backendError'));
    const c = await SmtpClient.open(port);
    expect((await c.send('alice@clinic.example', ['bob@clinic.example'], message({ From: 'alice@clinic.example', To: 'bob@clinic.example' }))).code).toBe(250);
    await c.quit();
    const deferred = await logs.waitFor('delivery.deferred');
    expect(deferred[0]).toMatchObject({ kind: 'temporary', attempts: 1 });
    await waitUntil(() => google.fake.sent.length === 1);
    expect((await logs.waitFor('delivery.ok'))[0]).toMatchObject({ attempts: 2 });
  });

  it('fetches a new token when Gmail answers 401 to a cached one, and delivers once', async () => {
    const c = await SmtpClient.open(port);
    const msg = message({ From: 'alice@clinic.example', To: 'bob@clinic.example' });
    expect((await c.send('alice@clinic.example', ['bob@clinic.example'], msg)).code).toBe(250);
    await waitUntil(() => google.fake.sent.length === 1);
    google.fake.expireAllTokens();
    expect((await c.send('alice@clinic.example', ['bob@clinic.example'], message({ From: 'alice@clinic.example', To: 'bob@clinic.example', 'Message-ID': '<second@x>' }))).code).toBe(250);
    await c.quit();
    await waitUntil(() => google.fake.sent.length === 2);
    expect(google.fake.grants.filter((g) => g.sub === 'alice@clinic.example')).toHaveLength(2);
    expect(google.fake.sent[1]!.raw.toString('latin1')).toContain('<second@x>');
    await logs.waitFor('delivery.ok', 2);
    expect(logs.events('delivery.deferred')).toHaveLength(0);
  });

  it('moves mail for a user Google does not know to dead/ with a clear reason', async () => {
    const c = await SmtpClient.open(port);
    expect((await c.send('ghost@clinic.example', ['bob@clinic.example'], message({ From: 'ghost@clinic.example', To: 'bob@clinic.example' }))).code).toBe(250);
    await c.quit();
    const failed = await logs.waitFor('delivery.failed');
    expect(failed.find((l) => l.sender === 'ghost@clinic.example')).toMatchObject({ kind: 'permanent' });
    // the failure notice about it (sent as postmaster@, not a user in this fake) may be dead too
    const dead = (await relay!.spool.list('dead')).filter((m) => !m.notification);
    expect(dead).toHaveLength(1);
    expect(dead[0]!.lastError).toMatchObject({ kind: 'permanent' });
    expect(dead[0]!.lastError!.message).toMatch(/ghost@clinic\.example/);
    expect(google.fake.sent).toHaveLength(0);
  });

  it('holds mail while delegation is missing, names the fix, and sends once the client is authorised', async () => {
    google.fake.revoke(google.sa.clientId);
    const c = await SmtpClient.open(port);
    expect((await c.send('alice@clinic.example', ['bob@clinic.example'], message({ From: 'alice@clinic.example', To: 'bob@clinic.example' }))).code).toBe(250);
    await c.quit();
    const held = await logs.waitFor('delivery.held');
    expect(held[0]).toMatchObject({ level: 'error', alert: true, kind: 'held' });
    expect(String(held[0]!.fix)).toContain(google.sa.clientId);
    expect(String(held[0]!.fix)).toContain('https://www.googleapis.com/auth/gmail.send');
    expect(String(held[0]!.fix)).toMatch(/Domain-wide delegation/);
    expect(await relay!.spool.list('dead')).toHaveLength(0);
    google.fake.authorize(google.sa.clientId, ['https://www.googleapis.com/auth/gmail.send']);
    await waitUntil(() => google.fake.sent.length === 1, 10_000, 'delivery after authorisation');
  });
});
