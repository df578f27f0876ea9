/** A MessageMeta for spool tests: a scanner's message to one doctor, with fields to override. */
import { readFileSync } from 'node:fs';
import { SpoolKeys } from '../../src/crypt/index.js';
import type { OutboundMessage } from '../../src/delivery/types.js';
import { messageSource, type MessageMeta } from '../../src/spool/index.js';
import { trailerRange } from '../../src/spool/meta-codec.js';

export function makeMeta(id: string, over: Partial<MessageMeta> = {}): MessageMeta {
  return {
    version: 1,
    id,
    receivedAt: '2024-05-01T10:00:00.000Z',
    workspace: 'clinic',
    mailFrom: 'scanner@clinic.example',
    sender: 'frontdesk@clinic.example',
    recipients: ['dr.a@clinic.example'],
    bcc: [],
    headerRecipients: ['dr.a@clinic.example'],
    messageId: null,
    from: null,
    size: 0,
    sha256: '',
    client: { address: '127.0.0.1' },
    attempts: 0,
    nextAttemptAt: '2024-05-01T10:00:00.000Z',
    lastError: null,
    ...over,
  };
}

/**
 * A scan sent as `sender` to doc@, with billing@ only in the envelope (so the Gmail API adds a
 * Bcc header for it), its Message-ID `<id>@scanner`.
 */
export function bccScanMeta(id: string, sender: string, over: Partial<MessageMeta> = {}): MessageMeta {
  return makeMeta(id, {
    mailFrom: sender,
    sender,
    recipients: ['doc@clinic.example', 'billing@clinic.example'],
    bcc: ['billing@clinic.example'],
    headerRecipients: ['doc@clinic.example'],
    messageId: `${id}@scanner`,
    from: sender,
    ...over,
  });
}

/** A transport's view of the message stored (meta.size bytes, plain or sealed with `keys`) in `file`. */
export function outbound(meta: MessageMeta, file: string, keys: SpoolKeys = SpoolKeys.none()): OutboundMessage {
  return { meta, message: messageSource(file, meta.size, keys) };
}

/**
 * The message bytes of a spool file (data/<id>.eml holds the message, then the metadata it was
 * accepted with: meta-codec.ts). Checks the trailer is there and parses.
 */
export function messageBytes(file: string): Buffer {
  const buf = readFileSync(file);
  const range = trailerRange(buf.length, buf);
  if (!range) throw new Error(`${file} has no metadata trailer`);
  JSON.parse(buf.subarray(range.start, range.start + range.length).toString('utf8'));
  return buf.subarray(0, range.start);
}
