/**
 * The SMTP transports (Gmail SMTP here, and the SMTP relay service through the same upstream
 * code, smtp-upstream.ts) stream the message from the spool file into DATA: byte-exact, Bcc
 * stripped, its size announced in MAIL FROM, and never a message cut short.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SpoolKeys } from '../src/crypt/index.js';
import { DeliveryError } from '../src/errors.js';
import { removeDir, tempDir } from './support/harness.js';
import { startUpstream } from './support/smtp-upstream.js';
import { chunkAt, flipByte, testKeys, writeSealed } from './support/spool-crypt.js';
import { makeMeta, outbound } from './support/spool-meta.js';

let dir: string;
let n = 0;

function spooled(body: Buffer, options: { cutTo?: number; keys?: SpoolKeys } = {}) {
  const id = `S${n++}`;
  const head = `From: scans@clinic.example\r\nTo: doc@clinic.example\r\nSubject: scan\r\nMessage-ID: <${id}@scanner>\r\n`;
  const bytes = Buffer.concat([Buffer.from(`${head}Bcc: billing@clinic.example\r\n\r\n`), body]);
  const file = path.join(dir, `${id}.eml`);
  if (options.keys) writeSealed(file, bytes, options.keys);
  else writeFileSync(file, options.cutTo === undefined ? bytes : bytes.subarray(0, options.cutTo));
  const meta = makeMeta(id, {
    mailFrom: 'scans@clinic.example',
    sender: 'relay@clinic.example',
    recipients: ['doc@clinic.example', 'billing@clinic.example'],
    headerRecipients: ['doc@clinic.example', 'billing@clinic.example'],
    messageId: `${id}@scanner`,
    from: 'scans@clinic.example',
    size: bytes.length,
  });
  const expected = Buffer.concat([Buffer.from(`${head}\r\n`), body]); // the Bcc field stripped
  return { message: outbound(meta, file, options.keys), expected, file };
}

/** Base64-like lines, ending with CRLF (SMTP would add one). */
const body = (size: number) => {
  const b = Buffer.alloc(size, 'JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFIvRmlsdGVyIC9GbGF0ZURlY29kZT4+\r\n');
  b.write('\r\n', size - 2);
  return b;
};
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('Gmail SMTP transport, streaming', () => {
  beforeAll(() => {
    dir = tempDir('wr-smtp-');
  });
  afterAll(() => removeDir(dir));

  it.each(['smtp', 'smtp-relay'] as const)('%s: sends a 2 MB message byte-exact from the spool file, without its Bcc field, to the envelope recipients', async (via) => {
    const upstream = await startUpstream(dir, { via });
    try {
      const m = spooled(body(2_000_000));
      await upstream.transport.deliver(m.message, new AbortController().signal);
      expect(upstream.received).toEqual([{ to: ['doc@clinic.example', 'billing@clinic.example'], size: m.expected.length, sha256: sha(m.expected) }]);
    } finally {
      await upstream.close();
    }
  });

  it('a spool file cut short: held before DATA, and the upstream never gets a message', async () => {
    const upstream = await startUpstream(dir);
    try {
      const m = spooled(body(2_000_000), { cutTo: 1_500_000 });
      const err = await upstream.transport.deliver(m.message, new AbortController().signal).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DeliveryError);
      expect(err).toMatchObject({ code: 'delivery.spool_unreadable', kind: 'held' });
      expect(upstream.received).toEqual([]);
    } finally {
      await upstream.close();
    }
  });

  it('an encrypted spool file damaged mid-message: held, and the upstream never gets a message (no final dot)', async () => {
    const upstream = await startUpstream(dir);
    try {
      const keys = testKeys();
      const whole = spooled(body(2_000_000), { keys });
      await upstream.transport.deliver(whole.message, new AbortController().signal);
      expect(upstream.received).toEqual([expect.objectContaining({ sha256: sha(whole.expected) })]);
      const m = spooled(body(2_000_000), { keys });
      flipByte(m.file, chunkAt(20) + 100); // well past the header section: found while DATA is under way
      const err = await upstream.transport.deliver(m.message, new AbortController().signal).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DeliveryError);
      expect(err).toMatchObject({ code: 'delivery.spool_damaged', kind: 'held' });
      expect((err as Error).message).toContain('chunk 20');
      expect(upstream.dataStarted).toBe(2);
      expect(upstream.received).toHaveLength(1);
    } finally {
      await upstream.close();
    }
  });

  it('announces the size in MAIL FROM: an upstream whose SIZE is smaller refuses it before any byte is sent (permanent)', async () => {
    const upstream = await startUpstream(dir, { size: 1_000_000 });
    try {
      const m = spooled(body(2_000_000));
      const err = await upstream.transport.deliver(m.message, new AbortController().signal).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'delivery.message_too_large', kind: 'permanent' });
      expect(upstream.dataStarted).toBe(0);
    } finally {
      await upstream.close();
    }
  });
});
