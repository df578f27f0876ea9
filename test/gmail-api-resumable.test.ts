/**
 * Resumable uploads through the Gmail API transport against the fake Google's session endpoint:
 * interrupted at several points (connection dropped, 503, 401, session expired, the last
 * answer lost), an upload continues from what Google holds and exactly one copy is sent.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createGmailApiTransport } from '../src/delivery/gmail-api.js';
import type { GoogleCredentials } from '../src/google/index.js';
import { createLogger } from '../src/log.js';
import type { MessageMeta } from '../src/spool/types.js';
import { sha256, type FakeGoogle, type UploadFault } from './support/fake-google.js';
import { rejection } from './support/rejection.js';
import { bccScanMeta, outbound } from './support/spool-meta.js';
import { credentialsFor, removeDir, startGoogle, type GoogleEnv } from './support/harness.js';

const SENDER = 'front@clinic.example';
const KiB = 1024;
const CHUNK = 256 * KiB;
const dir = mkdtempSync(path.join(os.tmpdir(), 'wr-resumable-'));
let fake: FakeGoogle;
let credentials: GoogleCredentials;
let logLines: Record<string, unknown>[];
let n = 0;

function transport(resumableAbove = 512 * KiB) {
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) logLines.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  return createGmailApiTransport({
    credentials,
    apiRootUrl: fake.apiRootUrl,
    logger: createLogger({ level: 'debug' }, sink),
    resumableAbove,
    resumable: { chunkBytes: 2 * CHUNK, retryDelaysMs: [20, 40, 80] },
  });
}

/** A stored message of about `size` bytes with its own Message-ID; `stored` is cut to `cutTo` bytes on disk. */
function spooled(size: number, meta: Partial<MessageMeta> = {}, cutTo?: number) {
  const id = `R${n++}`;
  const head = Buffer.from(`From: ${SENDER}\r\nTo: doc@clinic.example\r\nSubject: scan\r\nMessage-ID: <${id}@scanner>\r\n\r\n`);
  const line = Buffer.from(`${id} ${'0123456789abcdef'.repeat(4)}\r\n`);
  const body = Buffer.alloc(size - head.length, line);
  const bytes = Buffer.concat([head, body]);
  const file = path.join(dir, `${id}.eml`);
  writeFileSync(file, cutTo === undefined ? bytes : bytes.subarray(0, cutTo));
  const full = bccScanMeta(id, SENDER, { receivedAt: new Date().toISOString(), size: bytes.length, sha256: sha256(bytes), ...meta });
  // What Gmail must receive: the stored bytes with the Bcc header added.
  const expected = Buffer.concat([head.subarray(0, head.length - 2), Buffer.from('Bcc: billing@clinic.example\r\n\r\n'), body]);
  return { message: outbound(full, file), expected, messageId: `${id}@scanner` };
}

/** The upload requests made for the latest session(s), from `from` on. */
function requestsSince(from: number) {
  return fake.uploadRequests.slice(from);
}

describe('gmail-api transport: resumable uploads', () => {
  let google: GoogleEnv;
  beforeAll(async () => {
    google = await startGoogle(dir, [SENDER, 'doc@clinic.example']);
    fake = google.fake;
    credentials = credentialsFor(google);
  });
  afterAll(async () => {
    await fake.close();
    removeDir(dir);
  });
  beforeEach(() => {
    logLines = [];
  });
  afterEach(() => {
    // Every fault a test scripted was met (a test that scripts one too many proves less than it says).
    expect(fake.resumable.pendingFaults).toEqual([]);
  });

  it('sends a message above resumableAbove through a session, in chunks of a multiple of 256 KiB; one at or below it in one media upload', async () => {
    const m = spooled(1_300_000);
    const from = fake.uploadRequests.length;
    const res = await transport().deliver(m.message, new AbortController().signal);
    const sent = fake.sentWithMessageId(m.messageId)!;
    expect(sent).toMatchObject({ uploadType: 'resumable', user: SENDER, userId: 'me', id: res.providerId });
    expect(sent.raw.equals(m.expected)).toBe(true);
    const total = m.expected.length;
    expect(requestsSince(from)).toEqual([
      { kind: 'start', status: 200 },
      { kind: 'chunk', session: expect.any(String), range: `bytes 0-${2 * CHUNK - 1}/${total}`, status: 308 },
      { kind: 'chunk', session: expect.any(String), range: `bytes ${2 * CHUNK}-${4 * CHUNK - 1}/${total}`, status: 308 },
      { kind: 'chunk', session: expect.any(String), range: `bytes ${4 * CHUNK}-${total - 1}/${total}`, status: 200 },
    ]);
    // every request carried a token the fake verified (a JWT for the sending user); the session start said what comes
    const start = fake.requests.find((r) => r.url.searchParams.get('uploadType') === 'resumable' && r.method === 'POST')!;
    expect(start.grant).toMatchObject({ sub: SENDER, iss: google.sa.clientEmail });
    expect(start.headers['x-upload-content-length']).toBe(String(total));
    expect(start.headers['x-upload-content-type']).toBe('message/rfc822');

    const small = spooled(512 * KiB - 40); // 512 KiB exactly once the Bcc is added
    expect(small.expected.length).toBeLessThanOrEqual(512 * KiB);
    const before = fake.uploadRequests.length;
    await transport().deliver(small.message, new AbortController().signal);
    expect(fake.sentWithMessageId(small.messageId)).toMatchObject({ uploadType: 'media' });
    expect(fake.uploadRequests.length).toBe(before);
  });

  const interruptions: [string, UploadFault[], (total: number) => void][] = [
    [
      'the connection dropped in the middle of a chunk: asks how far it got and sends the rest from there',
      [{ on: 'chunk', atByte: 700_000, action: 'drop' }],
      (total) => {
        const requests = fake.uploadRequests.slice(-4);
        expect(requests.map((r) => [r.kind, r.status])).toEqual([['chunk', 'dropped'], ['status', 308], ['chunk', 308], ['chunk', 200]]);
        // Google kept 2 × 256 KiB of the interrupted chunk: the upload goes on from byte 524288, not from 0
        expect(requests[2]!.range).toBe(`bytes ${2 * CHUNK}-${4 * CHUNK - 1}/${total}`);
      },
    ],
    [
      'Google answered a chunk with 503: waits, asks, and sends it again',
      [{ on: 'chunk', atByte: 2 * CHUNK, action: 503 }],
      () => expect(fake.uploadRequests.slice(-4).map((r) => [r.kind, r.status])).toEqual([['chunk', 503], ['status', 308], ['chunk', 308], ['chunk', 200]]),
    ],
    [
      'the status query failed too (dropped, then 503): asks again',
      [
        { on: 'chunk', atByte: 3 * CHUNK, action: 'drop' },
        { on: 'status', action: 'drop' },
        { on: 'status', action: 503 },
      ],
      () => expect(fake.uploadRequests.filter((r) => r.kind === 'status').slice(-3).map((r) => r.status)).toEqual(['dropped', 503, 308]),
    ],
    [
      'the session expired: starts a new one from the first byte',
      [{ on: 'chunk', atByte: 4 * CHUNK, action: 'expire' }],
      (total) => {
        const starts = fake.uploadRequests.filter((r) => r.kind === 'start');
        expect(starts.length).toBeGreaterThanOrEqual(2);
        const last = fake.uploadRequests.slice(fake.uploadRequests.lastIndexOf(starts.at(-1)!));
        expect(last.map((r) => r.range ?? r.kind)).toEqual(['start', `bytes 0-${2 * CHUNK - 1}/${total}`, `bytes ${2 * CHUNK}-${4 * CHUNK - 1}/${total}`, `bytes ${4 * CHUNK}-${total - 1}/${total}`]);
        expect(logLines.some((l) => l.event === 'delivery.gmail_api.upload_restarted')).toBe(true);
      },
    ],
    [
      "the answer to the last chunk was lost: the status query returns the sent message, which is not sent again",
      [{ on: 'chunk', atByte: 1_299_999, action: 'lose-answer' }],
      () => expect(fake.uploadRequests.slice(-2).map((r) => [r.kind, r.status])).toEqual([['chunk', 'dropped'], ['status', 200]]),
    ],
    [
      'several at once: dropped, 503, dropped again, the last answer lost',
      [
        { on: 'chunk', atByte: 300_000, action: 'drop' },
        { on: 'chunk', atByte: 600_000, action: 503 },
        { on: 'chunk', atByte: 900_000, action: 'drop' },
        { on: 'chunk', atByte: 1_299_999, action: 'lose-answer' },
      ],
      () => expect(fake.uploadRequests.filter((r) => r.status === 'dropped' || r.status === 503).length).toBeGreaterThanOrEqual(4),
    ],
  ];

  it.each(interruptions)('%s; exactly one copy arrives, whole', async (_name, faults, check) => {
    const m = spooled(1_300_000);
    for (const f of faults) fake.failUpload(f);
    const res = await transport().deliver(m.message, new AbortController().signal);
    expect(fake.sentByMessageId().get(m.messageId)).toBe(1);
    const sent = fake.sentWithMessageId(m.messageId)!;
    expect(sha256(sent.raw)).toBe(sha256(m.expected));
    expect(res.providerId).toBe(sent.id);
    check(m.expected.length);
  });

  it('a token Google stops taking mid-upload: a new token, a status query, and the upload goes on', async () => {
    const m = spooled(1_300_000);
    let expired = false;
    fake.uploadProbe = {
      every: 3 * CHUNK,
      run: () => {
        if (!expired) fake.expireAllTokens();
        expired = true;
      },
    };
    try {
      const grants = fake.grants.length;
      await transport().deliver(m.message, new AbortController().signal);
      expect(fake.grants.length).toBe(grants + 1);
      expect(fake.sentByMessageId().get(m.messageId)).toBe(1);
      expect(sha256(fake.sentWithMessageId(m.messageId)!.raw)).toBe(sha256(m.expected));
      expect(fake.uploadRequests.some((r) => r.status === 401)).toBe(true);
    } finally {
      fake.uploadProbe = undefined;
    }
  });

  it('Google failing without progress past the retries: temporary, and known not sent', async () => {
    const m = spooled(1_300_000);
    for (let i = 0; i < 4; i++) fake.failUpload({ on: 'chunk', action: 503 });
    const err = await rejection(transport().deliver(m.message, new AbortController().signal));
    expect(err).toMatchObject({ code: 'delivery.gmail_5xx', kind: 'temporary', outcomeUnknown: false });
    expect(fake.sentByMessageId().get(m.messageId)).toBeUndefined();
  });

  it('the last chunk went up unanswered and nobody can say how far it got: outcome unknown (the scheduler retries, possible duplicate logged)', async () => {
    const m = spooled(1_300_000);
    fake.failUpload({ on: 'chunk', atByte: 1_299_999, action: 'lose-answer' });
    for (let i = 0; i < 3; i++) fake.failUpload({ on: 'status', action: 'drop' });
    const err = await rejection(transport().deliver(m.message, new AbortController().signal));
    expect(err).toMatchObject({ code: 'delivery.network', kind: 'temporary', outcomeUnknown: true });
    expect(fake.sentByMessageId().get(m.messageId)).toBe(1);
  });

  it('dropped before the last byte and then unreachable: temporary, known not sent', async () => {
    const m = spooled(1_300_000);
    fake.failUpload({ on: 'chunk', atByte: 700_000, action: 'drop' });
    for (let i = 0; i < 3; i++) fake.failUpload({ on: 'status', action: 'drop' });
    const err = await rejection(transport().deliver(m.message, new AbortController().signal));
    expect(err).toMatchObject({ code: 'delivery.network', kind: 'temporary', outcomeUnknown: false });
  });

  it('a spool file cut short mid-upload: held, and Google never gets a whole message', async () => {
    const m = spooled(1_300_000, {}, 900_000);
    const err = await rejection(transport().deliver(m.message, new AbortController().signal));
    expect(err).toMatchObject({ code: 'delivery.spool_unreadable', kind: 'held' });
    expect(err.message).toContain('EIO');
    expect(fake.sentByMessageId().get(m.messageId)).toBeUndefined();
  });

  it('a stop during the wait between tries ends the attempt at once', async () => {
    const m = spooled(1_300_000);
    fake.failUpload({ on: 'chunk', action: 503 });
    const controller = new AbortController();
    const slow = createGmailApiTransport({
      credentials,
      apiRootUrl: fake.apiRootUrl,
      logger: createLogger({ level: 'silent' }),
      resumableAbove: 0,
      resumable: { chunkBytes: 2 * CHUNK, retryDelaysMs: [60_000] },
    });
    const before = fake.uploadRequests.length;
    let stoppedAt = 0;
    // Stop once Google has answered the 503 (the upload is then waiting a minute to ask again).
    const watch = setInterval(() => {
      if (fake.uploadRequests.slice(before).some((r) => r.status === 503)) {
        clearInterval(watch);
        stoppedAt = Date.now();
        controller.abort();
      }
    }, 10);
    const err = await rejection(slow.deliver(m.message, controller.signal));
    clearInterval(watch);
    expect(err).toMatchObject({ code: 'delivery.aborted', kind: 'temporary', outcomeUnknown: false });
    expect(stoppedAt).toBeGreaterThan(0);
    expect(Date.now() - stoppedAt).toBeLessThan(2_000);
  });
});
