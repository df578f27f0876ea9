/**
 * The Notifier against a real spool, its hooks called as the scheduler calls them, with an
 * injected clock: what gets queued, to whom, as whom, how often.
 */
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { simpleParser } from 'mailparser';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import type { Config, ConfigInput } from '../src/config/index.js';
import { DeliveryError } from '../src/errors.js';
import { Notifier } from '../src/notify/index.js';
import { Spool, createQueueId, type MessageMeta } from '../src/spool/index.js';
import { LogCapture, removeDir, tempDir } from './support/harness.js';
import { TestClock } from './support/test-clock.js';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-09-01T08:00:00Z');

function configDoc(dir: string, workspace: Record<string, unknown> = {}): ConfigInput {
  return {
    hostname: 'relay.test',
    workspaces: [{ name: 'clinic', domains: ['clinic.example'], transport: 'outbox', outbox: { dir: path.join(dir, 'outbox') }, ...workspace }],
    queue: { dir: path.join(dir, 'spool') },
  };
}

const rejected = () => new DeliveryError('delivery.message_rejected', 'permanent', 'Gmail refused the message itself (Gmail: 400 INVALID_ARGUMENT invalidArgument)');
const disabled = (user = 'alice@clinic.example') =>
  new DeliveryError('delivery.mail_disabled', 'held', `Gmail is not enabled for ${user} (Gmail: 400 FAILED_PRECONDITION failedPrecondition)`, {
    fix: `turn Gmail on for ${user} (Admin console → Apps → Google Workspace → Gmail → Service status)`,
  });

describe('Notifier', () => {
  let dir: string;
  let spool: Spool;
  let logs: LogCapture;
  let clock: TestClock;
  let config: Config;
  let enqueued: MessageMeta[];

  beforeEach(async () => {
    dir = tempDir('wr-notifier-');
    spool = await Spool.open(path.join(dir, 'spool'));
    logs = new LogCapture();
    clock = new TestClock(T0);
    enqueued = [];
    config = parseConfig(configDoc(dir, { notify: 'it@clinic.example' }));
  });
  afterEach(() => removeDir(dir));

  const notifier = (alertInterval?: number) =>
    new Notifier({ spool, config: () => config, logger: logs.logger, clock, enqueue: (m) => enqueued.push(m), ...(alertInterval ? { alertInterval } : {}) });

  /** An accepted message in the spool, as the listener would have stored it. */
  async function original(over: Partial<MessageMeta> = {}): Promise<MessageMeta> {
    const id = createQueueId(clock.now());
    const w = spool.createWriter(id);
    await w.write(Buffer.from('From: alice@clinic.example\r\nTo: bob@clinic.example\r\nSubject: Results for Jane Roe\r\nMessage-ID: <orig@clinic.example>\r\n\r\nSecret body\r\n'));
    return w.commit({
      version: 1,
      id,
      receivedAt: new Date(clock.now()).toISOString(),
      workspace: 'clinic',
      mailFrom: 'scanner@printer.local',
      sender: 'alice@clinic.example',
      recipients: ['bob@clinic.example'],
      bcc: [],
      headerRecipients: ['bob@clinic.example'],
      messageId: 'orig@clinic.example',
      from: 'alice@clinic.example',
      size: 0,
      sha256: '',
      client: { address: '127.0.0.1' },
      attempts: 1,
      nextAttemptAt: new Date(clock.now()).toISOString(),
      lastError: null,
      ...over,
    });
  }

  const notices = async () => (await spool.list('queue')).filter((m) => m.notification);
  const fail = (meta: MessageMeta, e: DeliveryError) => {
    meta.lastError = { code: e.code, kind: e.kind, message: e.message, at: new Date(clock.now()).toISOString() };
  };

  it('queues a failure notice to the sender as the postmaster, and an alert to the admin, both marked as notifications', async () => {
    const meta = await original();
    fail(meta, rejected());
    await notifier().failed(meta, rejected(), false);
    const queued = await notices();
    expect(queued.map((m) => [m.notification, m.sender, m.recipients, m.mailFrom, m.workspace])).toEqual([
      ['failure', 'postmaster@clinic.example', ['alice@clinic.example'], '', 'clinic'],
      ['alert', 'postmaster@clinic.example', ['it@clinic.example'], '', 'clinic'],
    ]);
    expect(enqueued.map((m) => m.id)).toEqual(queued.map((m) => m.id));
    const dsn = await simpleParser(readFileSync(spool.emlPath(queued[0]!.id)));
    expect(dsn.subject).toBe('Undeliverable: your message could not be delivered');
    expect(dsn.text).toContain('delivery.message_rejected');
    const alert = await simpleParser(readFileSync(spool.emlPath(queued[1]!.id)));
    expect(alert.subject).toBe('[workspace-relay] Mail moved to dead/ in workspace clinic: delivery.message_rejected');
    expect(alert.text).toContain(`workspace-relay queue requeue ${meta.id}`);
    expect(logs.events('notify.sent').map((l) => [l.kind, l.about, l.queueId])).toEqual([
      ['failure', meta.id, queued[0]!.id],
      ['alert', meta.id, queued[1]!.id],
    ]);
    for (const m of queued) expect(readFileSync(spool.emlPath(m.id), 'utf8')).not.toMatch(/Jane Roe|Secret body/);
    expect(logs.raw.join('\n')).not.toMatch(/Jane Roe|Secret body/);
  });

  it('uses the configured postmaster user', async () => {
    config = parseConfig(configDoc(dir, { postmaster: 'mailer@clinic.example' }));
    const meta = await original();
    await notifier().failed(meta, rejected(), false);
    expect((await notices()).map((m) => [m.sender, m.from])).toEqual([['mailer@clinic.example', 'mailer@clinic.example']]);
  });

  it('sends nothing about a notification, and says so', async () => {
    const meta = await original({ notification: 'failure', sender: 'postmaster@clinic.example' });
    const n = notifier();
    await n.failed(meta, rejected(), false);
    await n.held(meta, disabled('postmaster@clinic.example'));
    clock.set(clock.now() + 10 * HOUR);
    await n.deferred(meta, disabled('postmaster@clinic.example'));
    expect((await spool.list('queue')).map((m) => m.id)).toEqual([meta.id]);
    expect(enqueued).toEqual([]);
    expect(logs.events('notify.sent')).toEqual([]);
    expect(logs.events('notify.suppressed').filter((l) => l.reason === 'about_notification').map((l) => l.kind)).toEqual(
      expect.arrayContaining(['failure', 'alert']),
    );
  });

  it('sends one delayed notice once the message has waited queue.delayWarning, and marks the message', async () => {
    const meta = await original();
    const n = notifier();
    const temp = new DeliveryError('delivery.gmail_5xx', 'temporary', 'Gmail had a server error: will retry (Gmail: 503)');
    clock.set(T0 + 4 * HOUR - 1);
    await n.deferred(meta, temp);
    expect(await notices()).toEqual([]);
    expect(meta.delayNotified).toBeUndefined();
    clock.set(T0 + 4 * HOUR);
    fail(meta, temp);
    await n.deferred(meta, temp);
    expect(meta.delayNotified).toBe(true);
    clock.set(clock.now() + HOUR);
    await n.deferred(meta, temp);
    const queued = await notices();
    expect(queued.map((m) => [m.notification, m.recipients])).toEqual([['delay', ['alice@clinic.example']]]);
    const dsn = await simpleParser(readFileSync(spool.emlPath(queued[0]!.id)), { keepDeliveryStatus: true } as Parameters<typeof simpleParser>[1]);
    const status = dsn.attachments.find((a) => a.contentType === 'message/delivery-status')!.content.toString();
    expect(status).toMatch(/^Action: delayed$/m);
    expect(status).toMatch(/^Status: 4\.4\.0$/m);
    expect(status).toContain('Will-Retry-Until: Sun, 06 Sep 2026 08:00:00 +0000'); // receivedAt + maxAge (5d)
  });

  it('alerts the admin about held mail once per error code per interval, naming the fix, and counts the rest', async () => {
    const n = notifier(HOUR);
    const a = await original();
    const b = await original({ sender: 'bob@clinic.example' });
    await n.held(a, disabled());
    await n.held(b, disabled('bob@clinic.example'));
    await n.held(a, disabled());
    let alerts = (await notices()).filter((m) => m.notification === 'alert');
    expect(alerts).toHaveLength(1);
    const first = await simpleParser(readFileSync(spool.emlPath(alerts[0]!.id)));
    expect(first.subject).toBe('[workspace-relay] Mail held in workspace clinic: delivery.mail_disabled');
    expect(first.text).toContain('Fix:             turn Gmail on for alice@clinic.example (Admin console → Apps → Google Workspace → Gmail → Service status)');
    expect(logs.events('notify.suppressed').filter((l) => l.reason === 'rate_limited')).toHaveLength(2);

    // another error code is another alert
    await n.held(a, new DeliveryError('delivery.token.unauthorized_client', 'held', 'Google refused a token', { fix: 'authorise client ID 1 for scope x' }));
    expect((await notices()).filter((m) => m.notification === 'alert')).toHaveLength(2);

    clock.set(clock.now() + HOUR);
    await n.held(b, disabled('bob@clinic.example'));
    alerts = (await notices()).filter((m) => m.notification === 'alert');
    expect(alerts).toHaveLength(3);
    const later = await simpleParser(readFileSync(spool.emlPath(alerts.find((m) => m.receivedAt === new Date(clock.now()).toISOString())!.id)));
    expect(later.text).toContain('2 more like this since the last alert');
    expect(later.text).toContain('Sender:          bob@clinic.example');
  });

  it('sends the failure notice for a sending user Google does not know to the admin, not to that user', async () => {
    const meta = await original({ sender: 'ghost@clinic.example' });
    const e = new DeliveryError('delivery.no_such_user', 'permanent', 'no such user ghost@clinic.example in the Workspace (invalid_grant)');
    await notifier().failed(meta, e, false);
    const failure = (await notices()).filter((m) => m.notification === 'failure');
    expect(failure.map((m) => m.recipients)).toEqual([['it@clinic.example']]);
    const status = readFileSync(spool.emlPath(failure[0]!.id), 'utf8');
    expect(status).toMatch(/^Status: 5\.1\.8\r$/m);
  });

  it('sends no notice back to a null sender (MAIL FROM:<>): no delay notice, the failure to the admin', async () => {
    const meta = await original({ mailFrom: '' });
    const n = notifier();
    clock.set(T0 + 10 * HOUR);
    await n.deferred(meta, new DeliveryError('delivery.gmail_5xx', 'temporary', 'Gmail had a server error: will retry (Gmail: 503)'));
    expect(await notices()).toEqual([]);
    expect(logs.events('notify.suppressed').map((l) => l.reason)).toContain('null_sender');
    await n.failed(meta, rejected(), false);
    const failure = (await notices()).filter((m) => m.notification === 'failure');
    expect(failure.map((m) => m.recipients)).toEqual([['it@clinic.example']]);
  });

  it('reports an expired message with status 5.4.7 and the last reason', async () => {
    const meta = await original({ attempts: 7 });
    meta.lastError = { code: 'delivery.expired', kind: 'held', message: 'gave up after 7 attempts: Gmail is not enabled for alice@clinic.example', at: new Date(clock.now()).toISOString() };
    await notifier().failed(meta, disabled(), true);
    const [dsn, alert] = await notices();
    const text = readFileSync(spool.emlPath(dsn!.id), 'utf8');
    expect(text).toMatch(/^Status: 5\.4\.7\r$/m);
    expect(text).toContain('Diagnostic-Code: X-workspace-relay; delivery.expired: gave up after 7 attempts: Gmail is not enabled for alice@clinic.example');
    expect(alert!.notification).toBe('alert');
  });

  it('refuses a postmaster or notify address outside the workspace in the config', () => {
    expect(() => parseConfig(configDoc(dir, { notify: 'it@outside.example' }))).toThrow(/notify.*not in this workspace's domains/s);
    expect(() => parseConfig(configDoc(dir, { postmaster: 'postmaster@outside.example' }))).toThrow(/postmaster.*not in this workspace's domains/s);
  });
});
