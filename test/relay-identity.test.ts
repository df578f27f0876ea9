/** Who Google sends as, end to end: the listener's fromPolicy and the header changes on the way out. */
import { describe, expect, it } from 'vitest';
import type { ConfigInput } from '../src/config/index.js';
import { SmtpClient, message } from './support/smtp-client.js';
import { relayEnv, LogCapture, gmailConfig, startTestRelay, waitUntil } from './support/harness.js';

const head = (raw: Buffer) => raw.toString('latin1').slice(0, raw.indexOf('\r\n\r\n'));

describe('sender identity', () => {
  const env = relayEnv();

  async function start(listen: Record<string, unknown> = {}): Promise<{ port: number; logs: LogCapture }> {
    const doc: ConfigInput = gmailConfig(env.dir, env.google);
    doc.listen = [{ host: '127.0.0.1', port: 0, ...listen }];
    const r = await startTestRelay(doc);
    env.relay = r.relay;
    return { port: r.port, logs: r.logs };
  }

  it('rewrite (default): a scanner’s own From becomes the mapped user, display name kept; Date and Message-ID added once', async () => {
    const { port, logs } = await start();
    const c = await SmtpClient.open(port);
    const scan = 'From: "Scanner 3F" <scanner@printer.local>\r\nTo: bob@clinic.example\r\nSubject: Scan\r\n\r\nscan\r\n';
    expect((await c.send('scanner@printer.local', ['bob@clinic.example'], scan)).code).toBe(250);
    await c.quit();
    await waitUntil(() => env.google.fake.sent.length === 1);
    const sent = env.google.fake.sent[0]!;
    expect(sent.user).toBe('scans@clinic.example');
    const h = head(sent.raw);
    expect(h).toMatch(/^From: "Scanner 3F" <scans@clinic\.example>\r\n/);
    expect(h).toMatch(/\r\nDate: [A-Z][a-z]{2}, \d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [+-]\d{4}(\r\n|$)/);
    expect(h).toMatch(/\r\nMessage-ID: <[^@\s]+@clinic\.example>(\r\n|$)/);
    expect(sent.raw.toString('latin1').endsWith('\r\n\r\nscan\r\n')).toBe(true);
    expect((await logs.waitFor('message.accepted'))[0]).toMatchObject({ fromOutcome: 'rewritten', from: 'scanner@printer.local', sender: 'scans@clinic.example' });
  });

  it('reject: a From that is not the sending user is refused after DATA with 550 5.7.1', async () => {
    const { port } = await start({ fromPolicy: 'reject' });
    const c = await SmtpClient.open(port);
    const r = await c.send('bob@clinic.example', ['alice@clinic.example'], message({ From: 'alice@clinic.example', To: 'alice@clinic.example' }));
    expect(r.code).toBe(550);
    expect(r.text).toMatch(/^5\.7\.1 From <?alice@clinic\.example>? is not the sending user <?bob@clinic\.example>?/);
    expect((await c.send('bob@clinic.example', ['alice@clinic.example'], message({ From: 'Bob <BOB@clinic.example>', To: 'alice@clinic.example' }))).code).toBe(250);
    await c.quit();
  });

  it('impersonate: the EHR’s mail goes out as the From user when it is inside the workspace', async () => {
    const { port } = await start({ fromPolicy: 'impersonate' });
    const c = await SmtpClient.open(port);
    const r = await c.send('scanner@printer.local', ['bob@clinic.example'], message({ From: 'Dr Alice <alice@clinic.example>', To: 'bob@clinic.example' }));
    expect(r.code).toBe(250);
    await c.quit();
    await waitUntil(() => env.google.fake.sent.length === 1);
    expect(env.google.fake.sent[0]!.user).toBe('alice@clinic.example');
    expect(head(env.google.fake.sent[0]!.raw)).toMatch(/^From: Dr Alice <alice@clinic\.example>\r\n/);
  });

  it('replyToOriginal keeps the device’s From (inside the workspace) as Reply-To', async () => {
    const { port } = await start({ replyToOriginal: true });
    const c = await SmtpClient.open(port);
    expect((await c.send('bob@clinic.example', ['alice@clinic.example'], message({ From: 'frontdesk@clinic.example', To: 'alice@clinic.example', Date: 'Sun, 22 Nov 2026 08:00:00 +0000', 'Message-ID': '<m@x>' }))).code).toBe(250);
    await c.quit();
    await waitUntil(() => env.google.fake.sent.length === 1);
    const h = head(env.google.fake.sent[0]!.raw);
    expect(h).toMatch(/^From: bob@clinic\.example\r\n/);
    expect(h).toMatch(/\r\nReply-To: frontdesk@clinic\.example(\r\n|$)/);
    expect(h.match(/\r\nDate: /g)).toHaveLength(1);
  });

  it('verifySendAs: a verified alias of the sender is left as it is', async () => {
    env.google.fake.authorize(env.google.sa.clientId, ['https://www.googleapis.com/auth/gmail.send', 'https://www.googleapis.com/auth/gmail.settings.basic']);
    env.google.fake.setSendAs('bob@clinic.example', ['frontdesk@clinic.example']);
    const { port, logs } = await start({ verifySendAs: true });
    const c = await SmtpClient.open(port);
    expect((await c.send('bob@clinic.example', ['alice@clinic.example'], message({ From: 'Front Desk <frontdesk@clinic.example>', To: 'alice@clinic.example' }))).code).toBe(250);
    await c.quit();
    await waitUntil(() => env.google.fake.sent.length === 1);
    expect(head(env.google.fake.sent[0]!.raw)).toMatch(/^From: Front Desk <frontdesk@clinic\.example>\r\n/);
    expect(env.google.fake.sent[0]!.user).toBe('bob@clinic.example');
    expect((await logs.waitFor('message.accepted'))[0]).toMatchObject({ fromOutcome: 'alias' });
    // the send-as lookup used its own token with only the settings scope; the send token only gmail.send
    expect(env.google.fake.grants.map((g) => g.scopes.join(' ')).sort()).toEqual([
      'https://www.googleapis.com/auth/gmail.send',
      'https://www.googleapis.com/auth/gmail.settings.basic',
    ]);
  });
});
