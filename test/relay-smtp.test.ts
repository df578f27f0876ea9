/** Delivery through Gmail SMTP with an app password, against a local smtp-server with AUTH. */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SMTPServer } from 'smtp-server';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Relay } from '../src/app.js';
import type { ConfigInput } from '../src/config/index.js';
import { TraceFiles, type AuditRecord } from '../src/trace/index.js';
import { SmtpClient, message, queueIdOf } from './support/smtp-client.js';
import { LogCapture, removeDir, startTestRelay, tempDir, waitUntil } from './support/harness.js';
import { makeTestCert } from './support/tls.js';

interface Received {
  at: number;
  user: string;
  from: string;
  to: string[];
  raw: Buffer;
  secure: boolean;
}

async function startUpstream(
  dir: string,
  opts: { secure: boolean; password: string; failFirst?: number; refuse?: Record<string, number[]>; slowDownUntil?: number },
) {
  const tls = makeTestCert(dir, 'upstream');
  const received: Received[] = [];
  /** When the upstream answered "421 4.7.0 Try again later" (Gmail's slow down). */
  const slowedDown: number[] = [];
  let failures = opts.failFirst ?? 0;
  const refuse = opts.refuse ?? {};
  const server = new SMTPServer({
    onRcptTo(address, _session, cb) {
      const code = refuse[address.address]?.shift();
      if (code) return cb(Object.assign(new Error(code < 500 ? 'try later' : 'no such user'), { responseCode: code }));
      cb();
    },
    secure: opts.secure,
    key: readFileSync(tls.keyFile),
    cert: readFileSync(tls.certFile),
    authMethods: ['PLAIN', 'LOGIN'],
    logger: false,
    onAuth(auth, _session, cb) {
      if (auth.username === 'relay@clinic.example' && auth.password === opts.password) return cb(null, { user: auth.username });
      cb(Object.assign(new Error('Username and Password not accepted'), { responseCode: 535 }));
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        if (opts.slowDownUntil !== undefined && Date.now() < opts.slowDownUntil) {
          slowedDown.push(Date.now());
          return cb(Object.assign(new Error('4.7.0 Try again later, closing connection.'), { responseCode: 421 }));
        }
        if (failures > 0) {
          failures--;
          return cb(Object.assign(new Error('try again later'), { responseCode: 421 }));
        }
        received.push({
          at: Date.now(),
          user: String(session.user),
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks),
          secure: session.secure,
        });
        cb(null, 'OK 1700000000 abc123 - gsmtp');
      });
    },
  });
  server.on('error', () => undefined); // clients that drop the connection are not the test's concern
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.server.address() as { port: number }).port;
  return { server, received, slowedDown, port, ca: tls.certFile };
}

describe('relay through Gmail SMTP (app password)', () => {
  let dir: string;
  let relay: Relay | undefined;
  let upstream: Awaited<ReturnType<typeof startUpstream>>;

  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(async () => {
    await relay?.stop();
    relay = undefined;
    await new Promise<void>((r) => upstream.server.close(() => r()));
    removeDir(dir);
  });

  /** Start the upstream and a relay whose app-password file holds `password`; returns its port and logs. */
  async function startBoth(upstreamOpts: Parameters<typeof startUpstream>[1], password: string, secure = true, queue: Partial<NonNullable<ConfigInput['queue']>> = {}) {
    upstream = await startUpstream(dir, upstreamOpts);
    const pw = path.join(dir, 'app-password');
    writeFileSync(pw, password, { mode: 0o600 });
    const logs = new LogCapture();
    const config = doc(upstream.port, upstream.ca, pw, secure);
    config.queue = { ...config.queue, ...queue };
    const started = await startTestRelay(config, logs);
    relay = started.relay;
    return { port: started.port, logs };
  }

  function doc(port: number, ca: string, passwordFile: string, secure = true): ConfigInput {
    return {
      listen: [{ host: '127.0.0.1', port: 0 }],
      workspaces: [
        {
          name: 'clinic',
          domains: ['clinic.example'],
          transport: 'smtp',
          smtp: { host: '127.0.0.1', port, secure, user: 'relay@clinic.example', appPasswordFile: passwordFile, caFile: ca },
        },
      ],
      queue: { dir: path.join(dir, 'spool'), retrySchedule: '200ms', heldRetry: '300ms', userRate: 100 },
    };
  }

  for (const secure of [false, true]) {
    it(`${secure ? 'implicit TLS' : 'STARTTLS'}: envelope kept, bytes kept but for the stripped Bcc and the From of the app-password account`, async () => {
      const { port } = await startBoth({ secure, password: 'abcd efgh ijkl mnop' }, 'abcd efgh ijkl mnop\n', secure);
      const c = await SmtpClient.open(port);
      const head = 'From: alice@clinic.example\r\nTo: bob@clinic.example\r\nBcc: secret@clinic.example,\r\n hidden@clinic.example\r\nSubject: hi\r\nDate: Sun, 22 Nov 2026 08:00:00 +0000\r\nMessage-ID: <s@x>\r\n';
      const msg = `${head}\r\nBody\r\n`;
      const r = await c.send('alice@clinic.example', ['bob@clinic.example', 'secret@clinic.example', 'hidden@clinic.example'], msg);
      expect(r.code).toBe(250);
      await c.quit();
      await waitUntil(() => upstream.received.length === 1);
      const got = upstream.received[0]!;
      expect(got.secure).toBe(true);
      expect(got.user).toBe('relay@clinic.example');
      expect(got.from).toBe('relay@clinic.example');
      expect(got.to).toEqual(['bob@clinic.example', 'secret@clinic.example', 'hidden@clinic.example']);
      // Gmail SMTP sends as the app-password account: From says so explicitly (fromPolicy rewrite)
      expect(got.raw.toString()).toBe('From: relay@clinic.example\r\nTo: bob@clinic.example\r\nSubject: hi\r\nDate: Sun, 22 Nov 2026 08:00:00 +0000\r\nMessage-ID: <s@x>\r\n\r\nBody\r\n');
    });
  }

  it('retries after an upstream 4xx', async () => {
    const { port, logs } = await startBoth({ secure: true, password: 'pw', failFirst: 1 }, 'pw');
    const c = await SmtpClient.open(port);
    expect((await c.send('alice@clinic.example', ['bob@clinic.example'], message({ From: 'alice@clinic.example', To: 'bob@clinic.example' }))).code).toBe(250);
    await c.quit();
    await logs.waitFor('delivery.deferred');
    await waitUntil(() => upstream.received.length === 1);
  });

  it("Gmail's 421 4.7.0 pauses the app-password account, whichever user the mail is from", async () => {
    const upstreamOpts = { secure: true, password: 'pw', slowDownUntil: Infinity };
    const { port, logs } = await startBoth(upstreamOpts, 'pw', true, { rateLimitBackoff: '1s' });
    const c = await SmtpClient.open(port);
    for (const [i, from] of ['alice@clinic.example', 'bob@clinic.example', 'alice@clinic.example', 'bob@clinic.example', 'alice@clinic.example', 'bob@clinic.example'].entries()) {
      const r = await c.send(from, ['front@clinic.example'], message({ From: from, To: 'front@clinic.example', 'Message-ID': `<p${i}@x>` }));
      expect(r.code).toBe(250);
    }
    await c.quit();
    await waitUntil(() => upstream.slowedDown.length >= 1, 5_000, 'the first refusal');
    await new Promise((r) => setTimeout(r, 200)); // every message is due meanwhile
    upstreamOpts.slowDownUntil = Date.now() + 100;
    await waitUntil(() => upstream.received.length === 6, 10_000, 'all six delivered after the pause');
    // every sender goes out as relay@: one pause for the account, not one refusal per message
    expect(upstream.slowedDown.length).toBeGreaterThanOrEqual(1);
    expect(upstream.slowedDown.length).toBeLessThanOrEqual(2); // the sends in flight (queue.perUserConcurrency)
    const first = upstream.slowedDown[0]!;
    expect(logs.events('delivery.deferred').every((l) => l.code === 'delivery.rate_limited' && l.account === 'relay@clinic.example')).toBe(true);
    // nothing went out before the backoff from the first refusal was over
    expect(Math.min(...upstream.received.map((r) => r.at))).toBeGreaterThanOrEqual(first + 950);
  });

  it('holds mail when the app password is refused, and says how to fix it', async () => {
    const { port, logs } = await startBoth({ secure: true, password: 'right' }, 'wrong');
    const c = await SmtpClient.open(port);
    expect((await c.send('alice@clinic.example', ['bob@clinic.example'], message({ From: 'alice@clinic.example', To: 'bob@clinic.example' }))).code).toBe(250);
    await c.quit();
    const held = await logs.waitFor('delivery.held');
    expect(held[0]).toMatchObject({ kind: 'held' });
    expect(JSON.stringify(held[0])).not.toContain('wrong');
    expect(await relay!.spool.list('dead')).toHaveLength(0);
  });

  it('partial acceptance: a deferred recipient is retried in a copy, a refused one reported, nobody gets it twice', async () => {
    const { port, logs } = await startBoth({ secure: true, password: 'pw', refuse: { 'later@clinic.example': [450], 'gone@clinic.example': [550, 550] } }, 'pw');
    const c = await SmtpClient.open(port);
    const rcpts = ['bob@clinic.example', 'later@clinic.example', 'gone@clinic.example'];
    const reply = await c.send('alice@clinic.example', rcpts, message({ From: 'alice@clinic.example', To: rcpts.join(', '), 'Message-ID': '<partial@x>' }));
    expect(reply.code).toBe(250);
    await c.quit();
    const sends = () => upstream.received.filter((r) => r.raw.includes('<partial@x>') && !r.to.includes('alice@clinic.example'));
    await waitUntil(() => sends().length === 2, 10_000, 'the copy for the deferred recipient');
    expect(sends().map((r) => r.to)).toEqual([['bob@clinic.example'], ['later@clinic.example']]);
    // the sender hears about the refused one (a delivery-status notice to alice)
    await waitUntil(() => upstream.received.some((r) => r.to.includes('alice@clinic.example') && /multipart\/report/i.test(r.raw.toString())), 10_000, 'notice to the sender');
    expect(logs.events('delivery.partial')[0]).toMatchObject({ retry: ['later@clinic.example'], failed: ['gone@clinic.example'] });
    // it says the message reached the others, and points at nothing to requeue (nothing is kept)
    const dsn = upstream.received.find((r) => r.to.includes('alice@clinic.example') && /multipart\/report/i.test(r.raw.toString()))!.raw.toString();
    expect(dsn).toMatch(/It was delivered to its other recipients/);
    expect(dsn).not.toMatch(/queue requeue/);
    // the audit trail: the original names only the RCPT TO the upstream took; the copy its own
    const files = TraceFiles.inSpool(path.join(dir, 'spool'));
    const audited = async () => {
      const all: AuditRecord[] = [];
      for await (const r of files.read()) if (r.type === 'audit' && r.messageId === 'partial@x') all.push(r);
      return all;
    };
    await waitUntil(async () => (await audited()).length === 2, 10_000, 'both audit records');
    const all = await audited();
    const first = all.find((a) => a.queueId === queueIdOf(reply));
    const copy = all.find((a) => a.queueId !== queueIdOf(reply));
    expect(first).toMatchObject({ outcome: 'delivered', transport: 'smtp', recipients: ['bob@clinic.example'], undelivered: ['later@clinic.example', 'gone@clinic.example'] });
    expect(copy).toMatchObject({ outcome: 'delivered', recipients: ['later@clinic.example'] });
  });
});
