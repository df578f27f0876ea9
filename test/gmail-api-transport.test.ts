import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GMAIL_SEND_SCOPE } from '../src/config/index.js';
import { createGmailApiTransport } from '../src/delivery/gmail-api.js';
import { DELEGATION_PAGE } from '../src/failures/index.js';
import { GoogleCredentials, loadServiceAccountKey } from '../src/google/index.js';
import { createLogger } from '../src/log.js';
import type { OutboundMessage } from '../src/delivery/types.js';
import type { MessageMeta } from '../src/spool/types.js';
import { FakeGoogle, createTestServiceAccount, gmailError, rateLimitError, sha256 } from './support/fake-google.js';
import { rejection } from './support/rejection.js';
import { outbound } from './support/spool-meta.js';

const SENDER = 'front@clinic.example';
const sa = createTestServiceAccount();
const dir = mkdtempSync(path.join(os.tmpdir(), 'wr-gmail-'));
let fake: FakeGoogle;
let credentials: GoogleCredentials;
let logLines: Record<string, unknown>[];
let n = 0;

function logger() {
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) logLines.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  return createLogger({ level: 'debug' }, sink);
}

function transport(apiRootUrl = fake.apiRootUrl, timeoutMs?: number) {
  return createGmailApiTransport({ credentials, apiRootUrl, logger: logger(), ...(timeoutMs ? { timeoutMs } : {}) });
}

function spooled(bytes: Buffer, meta: Partial<MessageMeta> = {}): OutboundMessage & { path: string } {
  const id = `Q${n++}`;
  const file = path.join(dir, `${id}.eml`);
  writeFileSync(file, bytes);
  const full: MessageMeta = {
      version: 1,
      id,
      receivedAt: new Date().toISOString(),
      workspace: 'clinic',
      mailFrom: SENDER,
      sender: SENDER,
      recipients: ['doc@clinic.example'],
      bcc: [],
      headerRecipients: ['doc@clinic.example'],
      messageId: `${id}@scanner`,
      from: SENDER,
      size: bytes.length,
      sha256: sha256(bytes),
      client: { address: '127.0.0.1' },
      attempts: 0,
      nextAttemptAt: new Date().toISOString(),
      lastError: null,
      ...meta,
  };
  return { path: file, ...outbound(full, file) };
}

const MESSAGE = Buffer.from(
  'From: Front Desk <front@clinic.example>\r\nTo: doc@clinic.example\r\nSubject: Lab results for Jane Roe\r\nMessage-ID: <x@scanner>\r\n\r\nPatient: Jane Roe\r\n',
);

describe('gmail-api transport', () => {
  beforeAll(async () => {
    fake = await FakeGoogle.start();
    fake.addServiceAccount(sa);
    fake.addUser(SENDER, 'doc@clinic.example');
    const key = loadServiceAccountKey(sa.writeKeyFile(dir), 'gmailApi.serviceAccountKeyFile');
    credentials = new GoogleCredentials({ key, scopes: [GMAIL_SEND_SCOPE], tokenUrl: fake.tokenUrl });
  });
  afterAll(() => fake.close());
  beforeEach(() => {
    fake.authorize(sa.clientId, [GMAIL_SEND_SCOPE]);
    fake.clockOffsetMs = 0;
    logLines = [];
  });

  it('sends the stored bytes through the media upload, as the sending user, with only the Bcc header added', async () => {
    const m = spooled(MESSAGE, { recipients: ['doc@clinic.example', 'billing@clinic.example'], bcc: ['billing@clinic.example'] });
    const before = fake.sent.length;
    const res = await transport().deliver(m, new AbortController().signal);
    const sent = fake.sent.slice(before);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.uploadType).toBe('media');
    expect(sent[0]!.userId).toBe('me');
    expect(sent[0]!.user).toBe(SENDER);
    expect(res.providerId).toBe(sent[0]!.id);
    const headerEnd = MESSAGE.indexOf('\r\n\r\n') + 2;
    expect(sent[0]!.raw.equals(Buffer.concat([MESSAGE.subarray(0, headerEnd), Buffer.from('Bcc: billing@clinic.example\r\n'), MESSAGE.subarray(headerEnd)]))).toBe(true);
    expect(readFileSync(m.path).equals(MESSAGE)).toBe(true);
    // the token the upload carried: a JWT (RS256, verified by the fake) for the sending user and the configured scope
    expect(fake.requests.at(-1)!.url.pathname).toBe('/upload/gmail/v1/users/me/messages/send');
    expect(fake.requests.at(-1)!.grant).toMatchObject({ sub: SENDER, scopes: [GMAIL_SEND_SCOPE], iss: sa.clientEmail });
    // nothing about the content in the logs
    expect(JSON.stringify(logLines)).not.toMatch(/Jane Roe|Lab results/);
  });

  it('sends exactly the stored bytes when no header change is needed', async () => {
    const before = fake.sent.length;
    await transport().deliver(spooled(MESSAGE), new AbortController().signal);
    expect(fake.sent[before]!.raw.equals(MESSAGE)).toBe(true);
  });

  it('sends a 12 MB message in a resumable upload (above resumableAbove, 5 MB by default), a 5 MB one through the media upload', async () => {
    const head = MESSAGE.subarray(0, MESSAGE.indexOf('\r\n\r\n') + 4);
    const big = Buffer.concat([head, Buffer.alloc(12 * 1024 * 1024, 'QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\r\n')]);
    const before = fake.sent.length;
    await transport().deliver(spooled(big), new AbortController().signal);
    expect(fake.sent[before]!.uploadType).toBe('resumable');
    expect(sha256(fake.sent[before]!.raw)).toBe(sha256(big));
    const five = Buffer.concat([head, Buffer.alloc(5 * 1024 * 1024 - head.length, 'QUJD\r\n')]);
    await transport().deliver(spooled(five), new AbortController().signal);
    expect(fake.sent[before + 1]!.uploadType).toBe('media');
    expect(sha256(fake.sent[before + 1]!.raw)).toBe(sha256(five));
  });

  it('applies the header changes decided at accept time (From rewritten, Date added) on the way out', async () => {
    const scanned = Buffer.from('From: Scanner <scanner@clinic.example>\r\nTo: doc@clinic.example\r\n\r\nscan\r\n');
    const before = fake.sent.length;
    await transport().deliver(
      spooled(scanned, { from: 'scanner@clinic.example', rewrite: { from: SENDER, addDate: 'Sun, 22 Nov 2026 08:00:00 +0000' } }),
      new AbortController().signal,
    );
    expect(fake.sent[before]!.raw.toString()).toBe(
      'From: Scanner <front@clinic.example>\r\nTo: doc@clinic.example\r\nDate: Sun, 22 Nov 2026 08:00:00 +0000\r\n\r\nscan\r\n',
    );
  });

  it('after a 401 on a cached token fetches a new token and delivers once, with the full bytes', async () => {
    const t = transport();
    await t.deliver(spooled(MESSAGE), new AbortController().signal); // token cached
    fake.expireAllTokens();
    const grants = fake.grants.length;
    const sent = fake.sent.length;
    const requests = fake.requests.length;
    const m = spooled(MESSAGE, { bcc: ['x@clinic.example'] });
    await t.deliver(m, new AbortController().signal);
    expect(fake.grants.length).toBe(grants + 1);
    expect(fake.requests.length).toBe(requests + 2); // the refused request and the retry
    expect(fake.sent.length).toBe(sent + 1);
    expect(fake.sent[sent]!.raw.toString()).toBe(MESSAGE.toString().replace('\r\n\r\n', '\r\nBcc: x@clinic.example\r\n\r\n'));
  });

  it('500 from Gmail → temporary', async () => {
    fake.failNext(gmailError(500, 'Backend Error', 'INTERNAL', 'backendError'));
    const err = await rejection(transport().deliver(spooled(MESSAGE), new AbortController().signal));
    expect(err).toMatchObject({ code: 'delivery.gmail_5xx', kind: 'temporary', status: 500, outcomeUnknown: false });
  });

  it('no such user → permanent', async () => {
    const err = await rejection(transport().deliver(spooled(MESSAGE, { sender: 'left@clinic.example' }), new AbortController().signal));
    expect(err).toMatchObject({ code: 'delivery.no_such_user', kind: 'permanent' });
    expect(err.message).toContain('left@clinic.example');
  });

  it('delegation not authorised → held, with the fix naming the client ID and the scope', async () => {
    credentials.forget(SENDER);
    fake.revoke(sa.clientId);
    const sent = fake.sent.length;
    const err = await rejection(transport().deliver(spooled(MESSAGE), new AbortController().signal));
    expect(err).toMatchObject({ code: 'delivery.token.unauthorized_client', kind: 'held' });
    expect(err.fix).toBe(`authorise client ID ${sa.clientId} for scope ${GMAIL_SEND_SCOPE} in ${DELEGATION_PAGE} (changes can take up to 24 h to propagate)`);
    expect(fake.sent.length).toBe(sent);
    // once fixed, the next attempt goes through
    fake.authorize(sa.clientId, [GMAIL_SEND_SCOPE]);
    await transport().deliver(spooled(MESSAGE), new AbortController().signal);
    expect(fake.sent.length).toBe(sent + 1);
  });

  it('429 with "Retry after" → temporary, not before that time', async () => {
    const at = new Date(Date.now() + 15 * 60_000);
    fake.failNext(rateLimitError(at));
    const err = await rejection(transport().deliver(spooled(MESSAGE), new AbortController().signal));
    expect(err).toMatchObject({ code: 'delivery.rate_limited', kind: 'temporary', status: 429 });
    expect(err.retryAfter?.toISOString()).toBe(at.toISOString());
  });

  it('mail service not enabled (400 failedPrecondition) → held', async () => {
    fake.addUser('nomail@clinic.example');
    fake.disableMail('nomail@clinic.example');
    const err = await rejection(transport().deliver(spooled(MESSAGE, { sender: 'nomail@clinic.example', from: 'nomail@clinic.example' }), new AbortController().signal));
    expect(err).toMatchObject({ code: 'delivery.mail_disabled', kind: 'held', status: 400 });
    expect(err.fix).toMatch(/nomail@clinic\.example/);
  });

  it('connection dropped after the request was sent → temporary, outcome unknown', async () => {
    fake.failNext({ status: 0, body: '', dropConnection: true });
    const err = await rejection(transport().deliver(spooled(MESSAGE), new AbortController().signal));
    expect(err).toMatchObject({ code: 'delivery.network', kind: 'temporary', outcomeUnknown: true });
  });

  it('connection refused → temporary, nothing can have been sent', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((r) => closed.close(() => r()));
    const err = await rejection(transport(`http://127.0.0.1:${port}/`).deliver(spooled(MESSAGE), new AbortController().signal));
    expect(err).toMatchObject({ code: 'delivery.network.refused', kind: 'temporary', outcomeUnknown: false });
    expect(err.fix).toContain(`allow outgoing TCP to 127.0.0.1:${port} in the firewall`);
  });

  it('no answer within the time limit → temporary, outcome unknown (the upload may have arrived)', async () => {
    fake.sendLatencyMs = 3_000;
    try {
      const started = Date.now();
      const err = await rejection(transport(fake.apiRootUrl, 300).deliver(spooled(MESSAGE), new AbortController().signal));
      expect(err).toMatchObject({ code: 'delivery.timeout', kind: 'temporary', outcomeUnknown: true });
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      fake.sendLatencyMs = 0;
    }
  });

  it('goes through the proxy in HTTP_PROXY (token and upload), as gaxios does', async () => {
    const seen: string[] = [];
    // a CONNECT proxy on loopback (gaxios tunnels through https-proxy-agent, also to http:// targets)
    const proxy = http.createServer((_req, res) => res.writeHead(405).end());
    proxy.on('connect', (req: http.IncomingMessage, client: Duplex, head: Buffer) => {
      seen.push(`CONNECT ${req.url}`);
      const [host, port] = req.url!.split(':');
      const up = net.connect(Number(port), host, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        up.write(head);
        up.pipe(client);
        client.pipe(up);
      });
      up.on('error', () => client.destroy());
      client.on('error', () => up.destroy());
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const saved = process.env.HTTP_PROXY;
    process.env.HTTP_PROXY = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    try {
      credentials.forget(SENDER); // a new client, so the token request goes through the proxy too
      const before = fake.sent.length;
      const res = await transport().deliver(spooled(MESSAGE), new AbortController().signal);
      expect(fake.sent.length).toBe(before + 1);
      expect(res.providerId).toBe(fake.sent[before]!.id);
      expect(seen).toContain(`CONNECT ${new URL(fake.apiRootUrl).host}`);
    } finally {
      if (saved === undefined) delete process.env.HTTP_PROXY;
      else process.env.HTTP_PROXY = saved;
      credentials.forget(SENDER);
      await new Promise<void>((r) => proxy.close(() => r()));
    }
  });

  it('Gmail said 200 but the connection broke before its answer ended → delivered, not sent again', async () => {
    const raw = net.createServer((socket) => {
      socket.once('data', () => socket.end('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{"id":"cut'));
      socket.on('error', () => undefined);
    });
    await new Promise<void>((r) => raw.listen(0, '127.0.0.1', r));
    try {
      const res = await transport(`http://127.0.0.1:${(raw.address() as AddressInfo).port}/`).deliver(spooled(MESSAGE), new AbortController().signal);
      expect(res.providerId).toBe(''); // the id did not arrive; the message did
      expect(logLines.some((l) => l.event === 'delivery.gmail_no_id')).toBe(true);
    } finally {
      await new Promise<void>((r) => raw.close(() => r()));
    }
  });

  it('a stop does not wait for a token request that stalls', async () => {
    const stall = http.createServer(() => undefined); // takes the token request, never answers
    await new Promise<void>((r) => stall.listen(0, '127.0.0.1', r));
    try {
      const key = loadServiceAccountKey(sa.writeKeyFile(dir), 'gmailApi.serviceAccountKeyFile');
      const stalled = new GoogleCredentials({ key, scopes: [GMAIL_SEND_SCOPE], tokenUrl: `http://127.0.0.1:${(stall.address() as AddressInfo).port}/token` });
      const t = createGmailApiTransport({ credentials: stalled, apiRootUrl: fake.apiRootUrl, logger: logger() });
      const controller = new AbortController();
      setTimeout(() => controller.abort(new Error('shutting down')), 200);
      const started = Date.now();
      const err = await rejection(t.deliver(spooled(MESSAGE), controller.signal));
      expect(err).toMatchObject({ code: 'delivery.aborted', kind: 'temporary', outcomeUnknown: false });
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      stall.closeAllConnections();
      await new Promise<void>((r) => stall.close(() => r()));
    }
  });

  it('closing the transport (the old one after a reload) lets an upload in flight finish', async () => {
    fake.sendLatencyMs = 400;
    try {
      const t = transport();
      const before = fake.sent.length;
      const pending = t.deliver(spooled(MESSAGE), new AbortController().signal);
      await new Promise((r) => setTimeout(r, 150));
      await t.close?.();
      const res = await pending;
      expect(res.providerId).toBe(fake.sent[before]!.id);
    } finally {
      fake.sendLatencyMs = 0;
    }
  });

  it('an aborted signal stops before sending', async () => {
    const controller = new AbortController();
    controller.abort();
    const sent = fake.sent.length;
    const err = await rejection(transport().deliver(spooled(MESSAGE), controller.signal));
    expect(err).toMatchObject({ code: 'delivery.aborted', kind: 'temporary', outcomeUnknown: false });
    expect(fake.sent.length).toBe(sent);
  });

  it('a missing spool file → held, naming the file', async () => {
    const m = spooled(MESSAGE);
    const err = await rejection(transport().deliver(outbound(m.meta, `${m.path}.gone`), new AbortController().signal));
    expect(err).toMatchObject({ code: 'delivery.spool_unreadable', kind: 'held' });
    expect(err.message).toContain('ENOENT');
  });
});
