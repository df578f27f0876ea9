/**
 * A client that splits one message into several transactions (Postfix past 50 recipients, or
 * any client after our 452) must not make Gmail deliver it to every header recipient again.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Relay } from '../src/app.js';
import type { ConfigInput } from '../src/config/index.js';
import { SmtpClient, message } from './support/smtp-client.js';
import { gmailError } from './support/fake-google.js';
import { type GoogleEnv, LogCapture, gmailConfig, removeDir, sleep, startGoogle, startTestRelay, tempDir, waitUntil } from './support/harness.js';

describe('duplicate suppression across transactions', () => {
  let dir: string;
  let google: GoogleEnv;
  let relay: Relay | undefined;
  let doc: ConfigInput;

  beforeEach(async () => {
    dir = tempDir();
    google = await startGoogle(dir);
    doc = gmailConfig(dir, google);
  });
  afterEach(async () => {
    await relay?.stop();
    relay = undefined;
    await google.fake.close();
    removeDir(dir);
  });

  const msg = message({ From: 'alice@clinic.example', To: 'bob@clinic.example, scans@clinic.example', 'Message-ID': '<split@clinic.example>' });

  it('sends a message that arrives as two transactions (RCPT a, then RCPT b) once', async () => {
    let logs: LogCapture;
    let port: number;
    ({ relay, logs, port } = await startTestRelay(doc));
    const c = await SmtpClient.open(port);
    expect((await c.send('alice@clinic.example', ['bob@clinic.example'], msg)).code).toBe(250);
    expect((await c.send('alice@clinic.example', ['scans@clinic.example'], msg)).code).toBe(250);
    await c.quit();
    await logs.waitFor('delivery.duplicate_suppressed');
    await sleep(100);
    expect(google.fake.sent).toHaveLength(1);
    expect(google.fake.sent[0]!.raw.toString('latin1')).toBe(msg);
  });

  it('remembers across a restart', async () => {
    let logs: LogCapture;
    let port: number;
    ({ relay, logs, port } = await startTestRelay(doc));
    let c = await SmtpClient.open(port);
    expect((await c.send('alice@clinic.example', ['bob@clinic.example'], msg)).code).toBe(250);
    await c.quit();
    await logs.waitFor('delivery.ok');
    await relay.stop();
    ({ relay, logs, port } = await startTestRelay(doc));
    c = await SmtpClient.open(port);
    expect((await c.send('alice@clinic.example', ['scans@clinic.example'], msg)).code).toBe(250);
    await c.quit();
    await logs.waitFor('delivery.duplicate_suppressed');
    expect(google.fake.sent).toHaveLength(1);
  });

  it('delivers both of two identical messages that carry no Message-ID (a device sending the same text twice)', async () => {
    let port: number;
    ({ relay, port } = await startTestRelay(doc));
    const bare = 'From: alice@clinic.example\r\nTo: bob@clinic.example\r\nSubject: Printer low on toner\r\n\r\nToner low.\r\n';
    const c = await SmtpClient.open(port);
    expect((await c.send('alice@clinic.example', ['bob@clinic.example'], bare)).code).toBe(250);
    expect((await c.send('alice@clinic.example', ['bob@clinic.example'], bare)).code).toBe(250);
    await c.quit();
    await waitUntil(() => google.fake.sent.length === 2, 10_000, 'both delivered');
  });

  it('delivers two different messages that share a Message-ID', async () => {
    let port: number;
    ({ relay, port } = await startTestRelay(doc));
    const c = await SmtpClient.open(port);
    const other = message({ From: 'alice@clinic.example', To: 'bob@clinic.example, scans@clinic.example', 'Message-ID': '<split@clinic.example>' }, 'Another body.\r\n');
    expect((await c.send('alice@clinic.example', ['bob@clinic.example'], msg)).code).toBe(250);
    expect((await c.send('alice@clinic.example', ['scans@clinic.example'], other)).code).toBe(250);
    await c.quit();
    await waitUntil(() => google.fake.sent.length === 2);
  });

  it('keeps spooled mail across a stop and delivers it after the next start', async () => {
    let logs: LogCapture;
    let port: number;
    ({ relay, logs, port } = await startTestRelay({ ...doc, queue: { ...doc.queue, retrySchedule: '1h' } }));
    for (let i = 0; i < 3; i++) google.fake.failNext(gmailError(503, 'unavailable', 'UNAVAILABLE', 'backendError'));
    const c = await SmtpClient.open(port);
    for (let i = 0; i < 3; i++) {
      const m = message({ From: 'alice@clinic.example', To: 'bob@clinic.example', 'Message-ID': `<keep${i}@x>` });
      expect((await c.send('alice@clinic.example', ['bob@clinic.example'], m)).code).toBe(250);
    }
    await c.quit();
    await logs.waitFor('delivery.deferred', 3);
    await relay.stop();
    expect(google.fake.sent).toHaveLength(0);
    // the next start: the schedule says an hour, so move the messages' next attempt to now
    const { Spool } = await import('../src/spool/index.js');
    const spool = await Spool.open(`${dir}/spool`);
    for (const m of await spool.list('queue')) await spool.update('queue', { ...m, nextAttemptAt: new Date().toISOString() });
    ({ relay } = await startTestRelay(doc));
    await waitUntil(() => google.fake.sent.length === 3, 10_000, 'three deliveries after restart');
  });
});
