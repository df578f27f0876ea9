/**
 * Which headers of the original message a notice may carry (its text/rfc822-headers part), and
 * reading them. A notice goes back to the sender inside the workspace, but it is still a copy
 * of patient mail that can be forwarded, so it carries only what identifies the message:
 *
 * - Message-ID, and Date: as written when it is a plain RFC 5322 date, else rewritten from the
 *   time it reads as (a comment or stray words in it could be a name), else left out;
 * - From, To and Cc as bare addresses: display names are dropped (an EHR may put a patient's
 *   name there), and so are groups' names;
 * - never Subject (PHI), Bcc, Content-Type / Content-Disposition (they can name an
 *   attachment), Received, X-* or any other field; never the body.
 */
import { parseAddressList, splitHeaderFields } from '../policy/index.js';
import type { MessageSource } from '../spool/index.js';
import { CRLF, rfc5322Date } from './mime.js';

export interface SafeHeaders {
  messageId: string | null;
  date: string | null;
  from: string[];
  to: string[];
  cc: string[];
}

/** The names of the header fields a notice copies, in the order it writes them. */
export const SAFE_HEADER_FIELDS = ['Message-ID', 'Date', 'From', 'To', 'Cc'] as const;

/** At most this much of the stored message is read to find its header section. */
export const HEADER_READ_LIMIT = 256 * 1024;

/**
 * The header section of a stored message (up to HEADER_READ_LIMIT bytes, cut at the last
 * complete line), or null when it cannot be read (gone, damaged, a key missing). Read through
 * the spool (decrypted when sealed); the body is not read beyond the chunk holding the header's
 * end, nor anything past the message's `size` bytes.
 */
export async function readHeaderSection(message: MessageSource, limit = HEADER_READ_LIMIT): Promise<Buffer | null> {
  let stream;
  try {
    stream = await message.open();
    const max = Math.min(limit, message.size);
    const parts: Buffer[] = [];
    let filled = 0;
    for await (const chunk of stream) {
      parts.push(chunk as Buffer);
      filled += (chunk as Buffer).length;
      const buf = Buffer.concat(parts).subarray(0, Math.min(filled, max));
      const end = headerEnd(buf);
      if (end >= 0) return Buffer.from(buf.subarray(0, end));
      if (filled >= max) break;
    }
    const buf = Buffer.concat(parts).subarray(0, Math.min(filled, max));
    const lastLf = buf.lastIndexOf(0x0a);
    return Buffer.from(buf.subarray(0, buf.length < limit ? buf.length : lastLf + 1));
  } catch {
    return null;
  } finally {
    stream?.destroy();
  }
}

/** Offset of the empty line that ends the header section, or -1 when not seen yet. */
function headerEnd(buf: Buffer): number {
  if (buf[0] === 0x0a || (buf[0] === 0x0d && buf[1] === 0x0a)) return 0;
  const crlf = buf.indexOf('\r\n\r\n');
  const lf = buf.indexOf('\n\n');
  const ends = [crlf >= 0 ? crlf + 2 : -1, lf >= 0 ? lf + 1 : -1].filter((n) => n >= 0);
  return ends.length ? Math.min(...ends) : -1;
}

/**
 * The safe headers of a message, from its header section (null when unreadable: then only what
 * the spool metadata knows, Message-ID and From).
 */
export function safeHeadersOf(section: Buffer | null, meta: { messageId: string | null; from: string | null }): SafeHeaders {
  const messageId = meta.messageId && /^[\x21-\x3b\x3d\x3f-\x7e]{1,500}$/.test(meta.messageId) ? meta.messageId : null;
  const out: SafeHeaders = { messageId, date: null, from: meta.from ? [meta.from] : [], to: [], cc: [] };
  const parsed = section ? splitHeaderFields(section) : null;
  if (!parsed?.ok) return out;
  const from: string[] = [];
  for (const { key, value } of parsed.fields) {
    if (key === 'date' && out.date === null) out.date = dateValue(value);
    else if (key === 'from') from.push(...addresses(value));
    else if (key === 'to') out.to.push(...addresses(value));
    else if (key === 'cc') out.cc.push(...addresses(value));
  }
  if (from.length) out.from = from;
  return out;
}

/** The text/rfc822-headers content: one line per safe field present. */
export function renderSafeHeaders(h: SafeHeaders): string {
  const lines: string[] = [];
  if (h.messageId) lines.push(`Message-ID: <${h.messageId}>`);
  if (h.date) lines.push(`Date: ${h.date}`);
  if (h.from.length) lines.push(`From: ${h.from.join(', ')}`);
  if (h.to.length) lines.push(`To: ${h.to.join(', ')}`);
  if (h.cc.length) lines.push(`Cc: ${h.cc.join(', ')}`);
  return lines.map((l) => l + CRLF).join('');
}

function addresses(value: string): string[] {
  const r = parseAddressList(value);
  return r.ok ? r.mailboxes.map((m) => m.address) : [];
}

/** An RFC 5322 date-time with nothing else in it (no comment, no words). */
const PLAIN_DATE = /^(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?\d{1,2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}(?::\d{2})? [+-]\d{4}$/;

/**
 * The Date value: as written when it is a plain date; else, when it still reads as a date (V8's
 * parser also takes "Jane Doe 2024" or a date with a comment), that time written afresh.
 */
function dateValue(value: string): string | null {
  const v = value.trim().replace(/\s+/g, ' ');
  if (PLAIN_DATE.test(v)) return v;
  const ms = /^[\x20-\x7e]{1,100}$/.test(v) ? Date.parse(v) : Number.NaN;
  return Number.isNaN(ms) ? null : rfc5322Date(new Date(ms));
}
