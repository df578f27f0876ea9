/**
 * Notices end to end: the real relay, the fake Gmail, SMTP on loopback. Failure and delay DSNs
 * reach the sender as the postmaster user; admin alerts reach the `notify` address; nothing is
 * ever sent about a notice.
 */
import { simpleParser } from 'mailparser';
import { afterEach, describe, expect, it } from 'vitest';
import type { Relay } from '../src/app.js';
import type { ConfigInput } from '../src/config/index.js';
import { gmailError, type SentMessage } from './support/fake-google.js';
import { type GoogleEnv, LogCapture, gmailConfig, removeDir, startGoogle, startTestRelay, tempDir, waitUntil } from './support/harness.js';
import { SmtpClient, message, queueIdOf } from './support/smtp-client.js';
import { TestClock } from './support/test-clock.js';

const SUBJECT = 'Biopsy results for Jane Roe';
const BODY = 'Malignant. Call the patient today.\r\n';
const USERS = ['alice@clinic.example', 'bob@clinic.example', 'postmaster@clinic.example', 'it@clinic.example'];
const MIN = 60_000;

type Workspace = Record<string, unknown>;

describe('notices through the relay', () => {
  let dir: string;
  let google: GoogleEnv;
  let relay: Relay | undefined;
  let logs: LogCapture;
  let port: number;

  /** `clock`: the relay's, for tests that move time instead of waiting for it. */
  async function start(options: { users?: string[]; workspace?: Workspace; queue?: Record<string, unknown>; clock?: TestClock } = {}): Promise<void> {
    dir = tempDir('wr-notify-');
    google = await startGoogle(dir, options.users ?? USERS);
    const doc = gmailConfig(dir, google);
    const ws = doc.workspaces[0]!;
    const next: ConfigInput = {
      ...doc,
      workspaces: [{ ...ws, ...options.workspace }],
      queue: { ...doc.queue, ...options.queue },
    };
    ({ relay, logs, port } = await startTestRelay(next, undefined, options.clock ? { clock: options.clock } : {}));
  }

  afterEach(async () => {
    await relay?.stop();
    relay = undefined;
    await google?.fake.close();
    removeDir(dir);
  });

  async function send(from = 'alice@clinic.example'): Promise<string> {
    const c = await SmtpClient.open(port);
    const reply = await c.send(from, ['bob@clinic.example'], message({ From: from, To: 'bob@clinic.example', Subject: SUBJECT, 'Message-ID': `<${Math.random().toString(36).slice(2)}@clinic.example>` }, BODY));
    await c.quit();
    expect(reply.code).toBe(250);
    return queueIdOf(reply);
  }

  const notices = (kind?: string): SentMessage[] =>
    google.fake.sent.filter((s) => {
      const m = /^X-Workspace-Relay-Notice: (\w+)/m.exec(s.raw.toString('utf8'));
      return m !== null && (kind === undefined || m[1] === kind);
    });

  async function statusOf(raw: Buffer): Promise<string> {
    const mail = await simpleParser(raw, { keepDeliveryStatus: true } as Parameters<typeof simpleParser>[1]);
    return mail.attachments.find((a) => a.contentType === 'message/delivery-status')!.content.toString();
  }

  function expectNoPhi(raw: Buffer): void {
    const text = raw.toString('utf8');
    expect(text).not.toContain('Biopsy');
    expect(text).not.toContain('Jane Roe');
    expect(text).not.toContain('Malignant');
  }

  it('Gmail refuses a message: the sender gets a failure DSN from the postmaster, the admin an alert', async () => {
    await start({ workspace: { notify: 'it@clinic.example' } });
    google.fake.failNext(gmailError(400, `Invalid To header: ${SUBJECT}`, 'INVALID_ARGUMENT', 'invalidArgument'));
    const id = await send();
    await waitUntil(() => notices('failure').length === 1 && notices('alert').length === 1, 15_000, 'failure notice and alert');
    const dsn = notices('failure')[0]!;
    expect(dsn.user).toBe('postmaster@clinic.example');
    const mail = await simpleParser(dsn.raw);
    expect((mail.to as { value: { address: string }[] }).value[0]!.address).toBe('alice@clinic.example');
    expect(mail.headers.get('auto-submitted')).toBe('auto-replied');
    expect((mail.headers.get('content-type') as { params: Record<string, string> }).params['report-type']).toBe('delivery-status');
    const status = await statusOf(dsn.raw);
    expect(status).toMatch(/^Action: failed\r?$/m);
    expect(status).toMatch(/^Status: 5\.6\.0\r?$/m);
    expect(status).toMatch(/^Final-Recipient: rfc822; bob@clinic\.example\r?$/m);
    expect(status).toContain('delivery.message_rejected');
    expectNoPhi(dsn.raw); // Google's text echoed the subject; our diagnostic does not
    const alert = notices('alert')[0]!;
    expect(alert.user).toBe('postmaster@clinic.example');
    expect(alert.raw.toString()).toMatch(/^To: <it@clinic\.example>\r$/m);
    expectNoPhi(alert.raw);
    expect(logs.events('notify.sent').map((l) => [l.kind, l.about])).toEqual(
      expect.arrayContaining([
        ['failure', id],
        ['alert', id],
      ]),
    );
    expect(logs.raw.join('\n')).not.toMatch(/Biopsy|Jane Roe|Malignant/);
  });

  it('a sending user Google does not know: the failure DSN goes to the postmaster, who exists', async () => {
    await start();
    await send('ghost@clinic.example');
    await waitUntil(() => notices('failure').length === 1, 15_000, 'failure notice');
    const dsn = notices('failure')[0]!;
    expect(dsn.user).toBe('postmaster@clinic.example');
    expect(dsn.raw.toString()).toMatch(/^To: <postmaster@clinic\.example>\r$/m);
    expect(await statusOf(dsn.raw)).toMatch(/^Status: 5\.1\.8\r?$/m);
  });

  it('max age runs out: the sender gets an expired DSN (5.4.7)', async () => {
    const clock = new TestClock();
    await start({ queue: { maxAge: '1h', heldRetry: '20m' }, clock });
    google.fake.disableMail('alice@clinic.example');
    await send();
    // held at 0, 20 and 40 minutes; the last attempt is at max age itself, then the notice
    for (let n = 1; n <= 3; n++) {
      await logs.waitFor('delivery.held', n);
      expect(notices('failure')).toHaveLength(0);
      await clock.advance(20 * MIN);
    }
    await waitUntil(() => notices('failure').length === 1, 15_000, 'expired notice');
    expect(await logs.waitFor('delivery.failed')).toEqual([expect.objectContaining({ expired: true, attempts: 4 })]);
    const dsn = notices('failure')[0]!;
    expect(dsn.user).toBe('postmaster@clinic.example');
    const status = await statusOf(dsn.raw);
    expect(status).toMatch(/^Status: 5\.4\.7\r?$/m);
    expect(status).toMatch(/delivery\.expired: gave up after \d+ attempts/);
    expect((await simpleParser(dsn.raw)).text).toMatch(/given up/);
    expectNoPhi(dsn.raw);
    expect(google.fake.sent.filter((s) => s.user === 'alice@clinic.example')).toHaveLength(0);
  });

  it('a message waiting longer than delayWarning gets exactly one delayed notice', async () => {
    const clock = new TestClock();
    await start({ queue: { delayWarning: '1h', heldRetry: '15m' }, clock });
    google.fake.disableMail('alice@clinic.example');
    const id = await send();
    // held at 0, 15, 30 and 45 minutes: no notice yet
    for (let n = 1; n <= 4; n++) {
      await logs.waitFor('delivery.held', n, 20_000);
      expect(notices('delay')).toHaveLength(0);
      await clock.advance(15 * MIN);
    }
    await waitUntil(() => notices('delay').length >= 1, 5_000, 'delay notice');
    for (let n = 5; n <= 7; n++) {
      await logs.waitFor('delivery.held', n, 20_000);
      await clock.advance(15 * MIN);
    }
    await logs.waitFor('delivery.held', 8, 20_000);
    expect(notices('delay')).toHaveLength(1);
    expect(logs.events('notify.sent').filter((l) => l.kind === 'delay' && l.about === id)).toHaveLength(1);
    const dsn = notices('delay')[0]!;
    expect(dsn.user).toBe('postmaster@clinic.example');
    const status = await statusOf(dsn.raw);
    expect(status).toMatch(/^Action: delayed\r?$/m);
    expect(status).toMatch(/^Status: 4\.7\.0\r?$/m);
    expect(status).toMatch(/^Will-Retry-Until: /m);
    expectNoPhi(dsn.raw);
    expect((await relay!.spool.get('queue', id))?.delayNotified).toBe(true);
  });

  it('mail the relay itself holds back (the daily limit) gets its delayed notice on time, with no attempt', async () => {
    const clock = new TestClock();
    await start({ queue: { delayWarning: '4h', dailyMessages: 1 }, clock });
    await send(); // the day's one message
    await waitUntil(() => google.fake.sent.length === 1, 5_000, 'the first message');
    const held = await send(); // over the limit: never attempted
    await logs.waitFor('pace.daily_limit');
    await clock.advance(4 * 60 * MIN - 1 * MIN); // sweeps once a minute: none has seen 4 h yet
    expect(notices('delay')).toHaveLength(0);
    await clock.advance(2 * MIN);
    await waitUntil(() => notices('delay').length >= 1, 5_000, 'delay notice for the held message');
    await clock.advance(60 * MIN); // more sweeps: still one notice
    expect(notices('delay')).toHaveLength(1);
    expect(notices('delay')[0]!.user).toBe('postmaster@clinic.example');
    expect(logs.events('notify.sent').filter((l) => l.kind === 'delay').map((l) => l.about)).toEqual([held]);
    const meta = await relay!.spool.get('queue', held);
    expect(meta).toMatchObject({ delayNotified: true, attempts: 0 }); // still waiting, never tried
    expect(google.fake.sentByMessageId().size).toBe(2); // the first message and the notice only
  });

  it('a notice that fails for good is dead-lettered with no notice about it', async () => {
    await start({ users: ['alice@clinic.example', 'bob@clinic.example'] }); // no postmaster user
    google.fake.failNext(gmailError(400, 'Invalid argument', 'INVALID_ARGUMENT', 'invalidArgument'));
    const id = await send();
    await logs.waitFor('delivery.failed', 2, 15_000);
    const dead = await relay!.spool.list('dead');
    expect(dead.map((m) => [m.id === id, m.notification ?? null, m.lastError?.code])).toEqual(
      expect.arrayContaining([
        [true, null, 'delivery.message_rejected'],
        [false, 'failure', 'delivery.no_such_user'],
      ]),
    );
    expect(dead).toHaveLength(2);
    const notice = dead.find((m) => m.notification)!;
    expect(logs.events('notify.sent').map((l) => l.queueId)).toEqual([notice.id]);
    expect(logs.events('notify.suppressed').filter((l) => l.about === notice.id && l.reason === 'about_notification')).not.toHaveLength(0);
    expect(google.fake.sent).toHaveLength(0);
    expect(await relay!.spool.list('queue')).toEqual([]);
  });

  it('held mail alerts the admin once per error code, naming the fix', async () => {
    await start({ workspace: { notify: 'it@clinic.example' }, queue: { heldRetry: '150ms' } });
    google.fake.disableMail('alice@clinic.example');
    await send();
    await send();
    await logs.waitFor('delivery.held', 6, 20_000);
    await waitUntil(() => notices('alert').length >= 1, 5_000, 'alert');
    expect(notices('alert')).toHaveLength(1);
    const alert = notices('alert')[0]!;
    expect(alert.user).toBe('postmaster@clinic.example');
    const mail = await simpleParser(alert.raw);
    expect(mail.subject).toBe('[workspace-relay] Mail held in workspace clinic: delivery.mail_disabled');
    expect(mail.text).toContain('turn Gmail on for alice@clinic.example');
    expectNoPhi(alert.raw);
    expect(logs.events('notify.suppressed').filter((l) => l.reason === 'rate_limited').length).toBeGreaterThanOrEqual(4);
    expect(notices('delay')).toHaveLength(0); // delayWarning (4h) not reached
  });
});
