/**
 * The bytes that go out: the exact stored bytes with only the header changes delivery needs.
 * The stored `.eml` is never rewritten; changes are applied to a copy in memory.
 *
 * The header section is everything before the first empty line (CRLF or LF). Each field starts
 * at a line that does not begin with a space or tab; the lines that do are its continuation.
 * Work is done on byte offsets, so 8-bit headers, header order and line endings stay exactly as
 * received. The body (from the empty line on) is never looked at.
 */
import { readFile } from 'node:fs/promises';
import { DeliveryError } from '../errors.js';

export interface OutgoingChanges {
  /** Addresses to add in one new `Bcc:` field (Gmail API: envelope-only recipients). */
  addBcc?: readonly string[];
  /** Remove every `Bcc:` and `Resent-Bcc:` field with its continuation lines (SMTP upstream). */
  stripBcc?: boolean;
}

/** Read the stored message at `path` and return the bytes to send, with `changes` applied. */
export async function readOutgoing(path: string, changes: OutgoingChanges = {}): Promise<Buffer> {
  return applyHeaderChanges(await readFile(path), changes);
}

/** The same on bytes already in memory. No changes → the very same buffer. */
export function applyHeaderChanges(raw: Buffer, changes: OutgoingChanges): Buffer {
  const addBcc = changes.addBcc ?? [];
  if (!addBcc.length && !changes.stripBcc) return raw;
  const headerEnd = findHeaderEnd(raw);
  let header = raw.subarray(0, headerEnd);
  const body = raw.subarray(headerEnd);
  const eol = detectEol(raw);
  if (changes.stripBcc) header = removeFields(header, BLIND_FIELDS);
  const parts: Buffer[] = [header];
  if (addBcc.length) {
    if (header.length && header[header.length - 1] !== LF) parts.push(Buffer.from(eol));
    parts.push(Buffer.from(bccField(addBcc, eol), 'utf8'));
  }
  parts.push(body);
  return Buffer.concat(parts);
}

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const HTAB = 0x09;
const BLIND_FIELDS = new Set(['bcc', 'resent-bcc']);
/** RFC 5322 asks lines to stay within 78 characters (998 is the hard limit). */
const FOLD_AT = 78;

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

/** The header without the fields named in `names` (lowercase), continuation lines included. */
function removeFields(header: Buffer, names: ReadonlySet<string>): Buffer {
  const keep: Buffer[] = [];
  let dropping = false;
  let lineStart = 0;
  while (lineStart < header.length) {
    const nl = header.indexOf(LF, lineStart);
    const lineEnd = nl < 0 ? header.length : nl + 1;
    const first = header[lineStart];
    const continuation = first === SP || first === HTAB;
    if (!continuation) dropping = names.has(fieldName(header, lineStart, lineEnd));
    if (!dropping) keep.push(header.subarray(lineStart, lineEnd));
    lineStart = lineEnd;
  }
  return Buffer.concat(keep);
}

function fieldName(header: Buffer, start: number, end: number): string {
  const colon = header.indexOf(':', start);
  if (colon < 0 || colon >= end) return '';
  return header.subarray(start, colon).toString('latin1').trimEnd().toLowerCase();
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
