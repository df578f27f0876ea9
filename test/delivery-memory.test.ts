/**
 * Delivering a 30 MB message holds a bounded part of it in memory, whatever the way out: the
 * fakes pause every few MiB of the upload and, at each pause, the test forces a garbage
 * collection and reads how much Buffer memory the process holds beyond what it held before the
 * delivery and what the fake itself holds of what it received. That is what the transport is
 * buffering at that moment (a transport that read the message into memory would show 30 MB).
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGmailApiTransport } from '../src/delivery/gmail-api.js';
import type { GoogleCredentials } from '../src/google/index.js';
import { createLogger } from '../src/log.js';
import type { OutboundMessage } from '../src/delivery/types.js';
import type { FakeGoogle } from './support/fake-google.js';
import { credentialsFor, removeDir, startGoogle, tempDir } from './support/harness.js';
import { bccScanMeta, outbound } from './support/spool-meta.js';
import { startUpstream } from './support/smtp-upstream.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const MiB = 1024 * 1024;
const SIZE = 30 * 1024 * 1024;
/** What a delivery may hold of a message at any moment (its pooled buffer, socket and stream buffers). */
const BOUND = 4 * MiB;
const SENDER = 'front@clinic.example';

let dir: string;
let n = 0;

/**
 * Buffer memory now, after a full collection. Twice: V8 frees dead buffers' memory concurrently
 * after a collection, and the next collection waits for that to finish first.
 */
function buffers(): number {
  gc();
  gc();
  return process.memoryUsage().arrayBuffers;
}

/** A 30 MB message written to the spool in 1 MiB pieces (never whole in memory); with the sha256 of what should arrive. */
function spool30MB(extraHeader: string): { message: OutboundMessage; expectedSha: string; expectedSize: number } {
  const id = `M${n++}`;
  const head = `From: ${SENDER}\r\nTo: doc@clinic.example\r\nSubject: scan\r\nMessage-ID: <${id}@scanner>\r\n`;
  const file = path.join(dir, `${id}.eml`);
  const fd = openSync(file, 'w');
  const stored = createHash('sha256');
  const expected = createHash('sha256');
  const write = (b: Buffer, to: 'both' | 'stored' | 'expected' = 'both') => {
    if (to !== 'expected') {
      writeSync(fd, b);
      stored.update(b);
    }
    if (to !== 'stored') expected.update(b);
  };
  write(Buffer.from(head));
  write(Buffer.from(extraHeader), 'expected');
  write(Buffer.from('\r\n'));
  const piece = Buffer.alloc(MiB, `${id} ${'0123456789abcdef'.repeat(4)}\r\n`);
  piece.write('\r\n', MiB - 2); // lines end with CRLF (SMTP would add one at the end)
  let size = Buffer.byteLength(head) + 2;
  while (size < SIZE) {
    write(piece);
    size += piece.length;
  }
  closeSync(fd);
  const meta = bccScanMeta(id, SENDER, { size, sha256: stored.digest('hex') });
  return { message: outbound(meta, file), expectedSha: expected.digest('hex'), expectedSize: size + Buffer.byteLength(extraHeader) };
}

describe('a 30 MB message is delivered in bounded memory', () => {
  let fake: FakeGoogle;
  let credentials: GoogleCredentials;

  beforeAll(async () => {
    dir = tempDir('wr-memory-');
    const google = await startGoogle(dir, [SENDER]);
    fake = google.fake;
    credentials = credentialsFor(google);
  });
  afterAll(async () => {
    await fake.close();
    removeDir(dir);
  });

  it.each([
    ['a resumable upload (the default above 5 MB)', undefined],
    ['one media upload', Number.MAX_SAFE_INTEGER],
  ])('through the Gmail API in %s', async (_name, resumableAbove) => {
    const m = spool30MB('Bcc: billing@clinic.example\r\n');
    const transport = createGmailApiTransport({ credentials, apiRootUrl: fake.apiRootUrl, logger: createLogger({ level: 'silent' }), ...(resumableAbove ? { resumableAbove } : {}) });
    const held: number[] = [];
    const before = buffers();
    fake.uploadProbe = { every: 3 * MiB, run: () => void held.push(buffers() - before - fake.heldBytes()) };
    try {
      await transport.deliver(m.message, new AbortController().signal);
    } finally {
      fake.uploadProbe = undefined;
    }
    const sent = fake.sentWithMessageId(m.message.meta.messageId!)!;
    expect(sent.uploadType).toBe(resumableAbove ? 'media' : 'resumable');
    expect(sent.raw.length).toBe(m.expectedSize);
    expect(createHash('sha256').update(sent.raw).digest('hex')).toBe(m.expectedSha);
    expect(held.length).toBeGreaterThanOrEqual(9);
    expect(Math.max(...held)).toBeLessThan(BOUND);
    await transport.close?.();
  });

  it('through Gmail SMTP (the message streamed into DATA)', async () => {
    const held: number[] = [];
    let before = 0;
    // Measured while reading on (smtp-server buffers what arrives while its stream is paused).
    const upstream = await startUpstream(dir, { size: 40 * MiB, onBytes: { every: 3 * MiB, run: () => void held.push(buffers() - before) } });
    try {
      const m = spool30MB('');
      before = buffers();
      await upstream.transport.deliver(m.message, new AbortController().signal);
      expect(upstream.received).toEqual([{ to: ['doc@clinic.example', 'billing@clinic.example'], size: m.expectedSize, sha256: m.expectedSha }]);
      expect(held.length).toBeGreaterThanOrEqual(9);
      expect(Math.max(...held)).toBeLessThan(BOUND);
    } finally {
      await upstream.close();
    }
  });
});
