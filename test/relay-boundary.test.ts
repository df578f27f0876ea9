/** The workspace boundary as an SMTP client sees it: the exact reply codes on the wire. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Relay } from '../src/app.js';
import { SmtpClient, message } from './support/smtp-client.js';
import { type GoogleEnv, LogCapture, gmailConfig, removeDir, sleep, startGoogle, startTestRelay, tempDir } from './support/harness.js';

describe('workspace boundary at the SMTP listener', () => {
  let dir: string;
  let google: GoogleEnv;
  let relay: Relay;
  let logs: LogCapture;
  let port: number;

  beforeAll(async () => {
    dir = tempDir();
    google = await startGoogle(dir);
    const doc = gmailConfig(dir, google);
    doc.workspaces.push({ name: 'other', domains: ['other.example'], transport: 'outbox', outbox: { dir: `${dir}/outbox` } });
    ({ relay, logs, port } = await startTestRelay(doc));
  });
  afterAll(async () => {
    await relay.stop();
    await google.fake.close();
    removeDir(dir);
  });

  it('advertises SIZE, 8BITMIME, PIPELINING and ENHANCEDSTATUSCODES, and no STARTTLS without a certificate', async () => {
    const { client, greeting } = await SmtpClient.connect(port);
    expect(greeting.code).toBe(220);
    const ehlo = await client.cmd('EHLO scanner');
    expect(ehlo.lines).toEqual(expect.arrayContaining(['SIZE 26214400', '8BITMIME', 'PIPELINING', 'ENHANCEDSTATUSCODES']));
    expect(ehlo.lines.join(' ')).not.toMatch(/STARTTLS|AUTH/);
    await client.quit();
  });

  it('refuses a sender outside every workspace, and maps a device sender', async () => {
    const c = await SmtpClient.open(port);
    const r = await c.cmd('MAIL FROM:<someone@gmail.com>');
    expect(r.code).toBe(550);
    expect(r.text).toMatch(/^5\.7\.1 /);
    expect((await c.cmd('MAIL FROM:<scanner@printer.local>')).code).toBe(250);
    await c.quit();
  });

  it('refuses the null sender when no default sender is configured', async () => {
    const c = await SmtpClient.open(port);
    const r = await c.cmd('MAIL FROM:<>');
    expect(r.code).toBe(550);
    expect(r.text).toMatch(/^5\.7\.1 /);
    await c.quit();
  });

  it('refuses recipients outside the sender’s workspace at RCPT with 550 5.7.1', async () => {
    const c = await SmtpClient.open(port);
    expect((await c.cmd('MAIL FROM:<alice@clinic.example>')).code).toBe(250);
    for (const outside of ['x@gmail.com', 'x@clinic.example.evil.com', 'x@evilclinic.example', 'x@sub.clinic.example', 'x@other.example']) {
      const r = await c.cmd(`RCPT TO:<${outside}>`);
      expect(r.code, outside).toBe(550);
      expect(r.text).toMatch(/^5\.7\.1 recipient .* outside clinic: mail is only relayed inside the organisation/);
    }
    expect((await c.cmd('RCPT TO:<Bob@CLINIC.example>')).code).toBe(250);
    await c.quit();
  });

  it('answers the 101st recipient with 452 4.5.3', async () => {
    const c = await SmtpClient.open(port);
    await c.cmd('MAIL FROM:<alice@clinic.example>');
    for (let i = 0; i < 100; i++) expect((await c.cmd(`RCPT TO:<u${i}@clinic.example>`)).code).toBe(250);
    const r = await c.cmd('RCPT TO:<u100@clinic.example>');
    expect(r.code).toBe(452);
    expect(r.text).toMatch(/^4\.5\.3 /);
    await c.quit();
  });

  const headerCases: [string, Record<string, string | string[]>][] = [
    ['an outside Cc', { Cc: 'x@outside.example' }],
    ['an outside Bcc', { Bcc: 'x@outside.example' }],
    ['a second To header with an outside address', { To: ['bob@clinic.example', 'x@outside.example'] }],
    ['an outside Resent-To', { 'Resent-To': 'x@outside.example' }],
    ['a group with an outside member', { Cc: 'team: bob@clinic.example, x@outside.example;' }],
    ['an encoded word standing for an address', { Cc: '=?utf-8?q?x=40outside.example?=' }],
    ['a lookalike domain', { Cc: 'x@clinic.example.evil.com' }],
  ];
  for (const [name, extra] of headerCases) {
    it(`refuses after DATA with 554 5.7.1: ${name}`, async () => {
      const before = google.fake.sent.length;
      const c = await SmtpClient.open(port);
      const r = await c.send('alice@clinic.example', ['bob@clinic.example'], message({ From: 'alice@clinic.example', To: 'bob@clinic.example', ...extra }));
      expect(r.code).toBe(554);
      expect(r.text).toMatch(/^5\.7\.1 /);
      await c.quit();
      await sleep(50);
      expect(google.fake.sent.length).toBe(before);
    });
  }

  it('accepts header tricks that stay inside: display names with outside addresses, comments, empty groups', async () => {
    const c = await SmtpClient.open(port);
    const r = await c.send(
      'alice@clinic.example',
      ['bob@clinic.example'],
      message({
        From: 'alice@clinic.example',
        To: '"x@evil.example" <bob@clinic.example>',
        Cc: 'bob@clinic.example (x@evil.example), undisclosed-recipients:;',
      }),
    );
    expect(r.code).toBe(250);
    await c.quit();
  });

  it('counts header recipients plus added Bcc against Gmail’s 100: 554 5.5.3', async () => {
    const c = await SmtpClient.open(port);
    const to = Array.from({ length: 60 }, (_, i) => `h${i}@clinic.example`).join(', ');
    const rcpts = Array.from({ length: 50 }, (_, i) => `e${i}@clinic.example`);
    const r = await c.send('alice@clinic.example', rcpts, message({ From: 'alice@clinic.example', To: to }));
    expect(r.code).toBe(554);
    expect(r.text).toMatch(/^5\.5\.3 /);
    await c.quit();
  });

  it('logs each refusal with its stage and code, without message content', () => {
    const refused = logs.events('message.rejected');
    expect(refused.some((l) => l.stage === 'rcpt' && l.code === 550)).toBe(true);
    expect(refused.some((l) => l.stage === 'data' && l.code === 554)).toBe(true);
  });
});
