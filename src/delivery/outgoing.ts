/**
 * The bytes that go out: the exact stored bytes with only the header changes delivery needs.
 * The stored `.eml` is never rewritten: a new header block is built in memory (headers are at
 * most 1 MiB, refused at DATA above that) and the body follows it as stored, streamed from the
 * spool file (outgoing-message.ts).
 *
 * The header section is everything before the first empty line (CRLF or LF). Each field starts
 * at a line that does not begin with a space or tab; the lines that do are its continuation.
 * Work is done on the header as latin1 text (one char per octet), so 8-bit headers, header order
 * and line endings stay exactly as received; only the fields a change names are touched. The
 * body (from the empty line on) is never looked at.
 */
import { DeliveryError } from '../errors.js';
import type { MessageRewrite } from '../spool/index.js';
import { replaceFromAddress } from './from-rewrite.js';
import { foldLongLines, hasLongLine } from './header-fold.js';

export { MAX_LINE } from './header-fold.js';

export interface OutgoingChanges {
  /** Addresses to add in one new `Bcc:` field (Gmail API: envelope-only recipients). */
  addBcc?: readonly string[];
  /** Remove every `Bcc:` and `Resent-Bcc:` field with its continuation lines (SMTP upstream). */
  stripBcc?: boolean;
  /**
   * The From address becomes this one, display name kept (see from-rewrite.ts); a From that is
   * not one readable mailbox becomes `From: <address>`, later From fields are removed, and a
   * message without From gets `From: <address>`.
   */
  rewriteFrom?: string;
  /** Every Reply-To field is replaced by one `Reply-To: <address>`. */
  setReplyTo?: string;
  /** `Date: <value>` is added when the message has no Date field. */
  addDate?: string;
  /** `Message-ID: <id>` (id given without <>) is added when the message has no Message-ID field. */
  addMessageId?: string;
}

/**
 * The changes stored at accept time (meta.rewrite) as OutgoingChanges; add the transport's own
 * (addBcc for the Gmail API and the outbox, stripBcc for SMTP) beside them.
 */
export function rewriteChanges(rewrite: MessageRewrite | undefined): OutgoingChanges {
  const out: OutgoingChanges = {};
  if (!rewrite) return out;
  if (rewrite.from !== undefined) out.rewriteFrom = rewrite.from;
  if (rewrite.replyTo !== undefined) out.setReplyTo = rewrite.replyTo;
  if (rewrite.addDate !== undefined) out.addDate = rewrite.addDate;
  if (rewrite.addMessageId !== undefined) out.addMessageId = rewrite.addMessageId;
  return out;
}

/**
 * The header block that goes out, and where the body starts in the stored bytes: `stored` holds
 * the message from its first byte, at least up to the empty line that ends its header section
 * (it may hold more, or be the whole message). Returns null when `stored` is only part of the
 * message (`whole` false) and no header end is in it yet. The body is not looked at: it goes
 * out as stored, from `bodyOffset` on (outgoing-message.ts streams it from the spool file).
 *
 * Header lines over 998 octets are folded whatever the changes (header-fold.ts). Nothing to
 * change or fold → `head` is a view of `stored` itself.
 *
 * Every value written into a header is checked first: an address must be one plain addr-spec, a
 * Date or Message-ID printable ASCII. A value with CR, LF or NUL (which could add header fields)
 * or otherwise unfit is refused with a permanent DeliveryError (the message goes to dead/ for
 * the admin): these values come from the relay's own metadata, so a bad one is a bug or a
 * tampered .json, and sending some altered version of it would be a guess.
 */
export function outgoingHead(stored: Buffer, changes: OutgoingChanges, whole = true): { head: Buffer; bodyOffset: number } | null {
  checkValues(changes);
  const headerEnd = findHeaderEnd(stored);
  if (headerEnd === stored.length && !whole) return null;
  const header = stored.subarray(0, headerEnd);
  if (!hasChanges(changes) && !hasLongLine(header)) return { head: header, bodyOffset: headerEnd };
  const eol = detectEol(stored);
  let fields = splitFields(header);
  const has = (name: string) => fields.some((f) => f.name === name);
  const added: string[] = [];

  if (changes.stripBcc) fields = fields.filter((f) => !BLIND_FIELDS.has(f.name));
  if (changes.rewriteFrom !== undefined) {
    const address = changes.rewriteFrom;
    const first = fields.findIndex((f) => f.name === 'from');
    if (first < 0) added.push(`From: ${address}${eol}`);
    else {
      const f = fields[first]!;
      const replaced = replaceFromAddress(f.text, address);
      const text = replaced ?? `From: ${address}${lineEnding(f.text, eol)}`;
      fields = fields.map((x, i) => (i === first ? { name: 'from', text } : x)).filter((x, i) => i === first || x.name !== 'from');
    }
  }
  if (changes.setReplyTo !== undefined) {
    fields = fields.filter((f) => f.name !== 'reply-to');
    added.push(`Reply-To: ${changes.setReplyTo}${eol}`);
  }
  if (changes.addDate !== undefined && !has('date')) added.push(`Date: ${changes.addDate}${eol}`);
  if (changes.addMessageId !== undefined && !has('message-id')) added.push(`Message-ID: <${changes.addMessageId}>${eol}`);
  if (changes.addBcc?.length) added.push(bccField(changes.addBcc, eol));

  const last = fields[fields.length - 1];
  if (added.length && last && !last.text.endsWith('\n')) last.text += eol;
  const newHeader = Buffer.from(fields.map((f) => f.text).join('') + added.join(''), 'latin1');
  return { head: foldLongLines(newHeader, eol), bodyOffset: headerEnd };
}

/** outgoingHead on a whole message in memory: the bytes to send (the very same buffer when nothing changes). */
export function applyHeaderChanges(raw: Buffer, changes: OutgoingChanges): Buffer {
  const { head, bodyOffset } = outgoingHead(raw, changes)!;
  if (head.buffer === raw.buffer && head.byteOffset === raw.byteOffset && head.length === bodyOffset) return raw;
  return Buffer.concat([head, raw.subarray(bodyOffset)]);
}

const LF = 0x0a;
const CR = 0x0d;
const BLIND_FIELDS = new Set(['bcc', 'resent-bcc']);
/** RFC 5322 asks lines to stay within 78 characters (998 is the hard limit). */
const FOLD_AT = 78;

function hasChanges(c: OutgoingChanges): boolean {
  return Boolean(c.addBcc?.length || c.stripBcc || c.rewriteFrom !== undefined || c.setReplyTo !== undefined || c.addDate !== undefined || c.addMessageId !== undefined);
}

/** One header field: its lowercase name ('' for lines that are not a field) and its text, line endings included. */
interface RawField {
  name: string;
  text: string;
}

/**
 * The header as fields, in latin1 (one char per octet, so every byte round-trips exactly). A
 * line starting with a space or tab continues the field before it.
 */
function splitFields(header: Buffer): RawField[] {
  const text = header.toString('latin1');
  const fields: RawField[] = [];
  let lineStart = 0;
  while (lineStart < text.length) {
    const nl = text.indexOf('\n', lineStart);
    const lineEnd = nl < 0 ? text.length : nl + 1;
    const line = text.slice(lineStart, lineEnd);
    const last = fields[fields.length - 1];
    if ((line[0] === ' ' || line[0] === '\t') && last) last.text += line;
    else fields.push({ name: fieldName(line), text: line });
    lineStart = lineEnd;
  }
  return fields;
}

/** A field's name, lowercase (`BCC :` is `bcc`); '' when the line is not a header field. */
function fieldName(line: string): string {
  const colon = line.indexOf(':');
  if (colon < 0) return '';
  const name = line.slice(0, colon).trimEnd().toLowerCase();
  return /^[\x21-\x39\x3b-\x7e]+$/.test(name) ? name : '';
}

function lineEnding(text: string, eol: string): string {
  if (text.endsWith('\r\n')) return '\r\n';
  return text.endsWith('\n') ? '\n' : eol;
}

/** A plain addr-spec as policy produces them: dot-atom local part, an ASCII (A-label) domain. */
const PLAIN_ADDRESS = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.]+@[A-Za-z0-9.-]+$/;
const PRINTABLE = /^[\x20-\x7e]+$/;
const MESSAGE_ID = /^[\x21-\x3b\x3d\x3f-\x7e]+@[\x21-\x3b\x3d\x3f-\x7e]+$/;

function checkValues(c: OutgoingChanges): void {
  const bad = (what: string, value: string) =>
    new DeliveryError('delivery.bad_header_value', 'permanent', `refusing to write ${JSON.stringify(value.slice(0, 120))} into a ${what} header: the message's metadata is damaged`);
  if (c.rewriteFrom !== undefined && !PLAIN_ADDRESS.test(c.rewriteFrom)) throw bad('From', c.rewriteFrom);
  if (c.setReplyTo !== undefined && !PLAIN_ADDRESS.test(c.setReplyTo)) throw bad('Reply-To', c.setReplyTo);
  if (c.addDate !== undefined && (!PRINTABLE.test(c.addDate) || c.addDate.length > 200)) throw bad('Date', c.addDate);
  if (c.addMessageId !== undefined && (!MESSAGE_ID.test(c.addMessageId) || c.addMessageId.length > 900)) throw bad('Message-ID', c.addMessageId);
}

/**
 * Offset just after the last header line's line ending, i.e. where the empty line starts.
 * A message without an empty line is all header; one that starts with an empty line has none.
 */
export function findHeaderEnd(raw: Buffer): number {
  let lineStart = 0;
  while (lineStart < raw.length) {
    if (raw[lineStart] === LF) return lineStart;
    if (raw[lineStart] === CR && raw[lineStart + 1] === LF) return lineStart;
    const nl = raw.indexOf(LF, lineStart);
    if (nl < 0) return raw.length;
    lineStart = nl + 1;
  }
  return raw.length;
}

/** The message's own line ending (from its first line); CRLF when there is none to copy. */
function detectEol(raw: Buffer): string {
  const nl = raw.indexOf(LF);
  if (nl < 0) return '\r\n';
  return nl > 0 && raw[nl - 1] === CR ? '\r\n' : '\n';
}

/**
 * `Bcc: a@x, b@y` folded between addresses. Addresses come from the envelope; one that could
 * break the header (CR, LF, NUL) is refused rather than written.
 */
export function bccField(addresses: readonly string[], eol = '\r\n'): string {
  for (const a of addresses) {
    if (!a || /[\r\n\0]/.test(a)) {
      throw new DeliveryError('delivery.bad_envelope', 'permanent', `refusing to write address ${JSON.stringify(a)} into a Bcc header`);
    }
  }
  let out = 'Bcc:';
  let line = out.length;
  addresses.forEach((address, i) => {
    const piece = address + (i < addresses.length - 1 ? ',' : '');
    if (i > 0 && line + 1 + Buffer.byteLength(piece) > FOLD_AT) {
      out += eol;
      line = 0;
    }
    out += ' ' + piece;
    line += 1 + Buffer.byteLength(piece);
  });
  return out + eol;
}
