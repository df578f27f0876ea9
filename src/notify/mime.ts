/**
 * Small MIME helpers for the messages the relay writes itself (notices and alerts). Everything
 * that goes into a header is checked here: a value with CR, LF or another control character is
 * cleaned (text) or refused (addresses, ids), so nothing taken from a message or an error can
 * add a header line.
 */
import { randomBytes } from 'node:crypto';

export const CRLF = '\r\n';

/** RFC 5322 date-time in UTC: `Tue, 01 Sep 2026 10:00:00 +0000`. */
export function rfc5322Date(date: Date): string {
  return date.toUTCString().replace(/GMT$/, '+0000');
}

/** One line of text, safe for a header or a DSN field: controls become spaces, at most `max` characters. */
export function oneLine(text: string, max = 400): string {
  const clean = [...text.replace(/\p{Cc}+/gu, ' ').replace(/\s+/g, ' ').trim()];
  return clean.length > max ? `${clean.slice(0, max - 1).join('')}…` : clean.join('');
}

/** The same, reduced to printable ASCII (message/delivery-status fields are 7-bit, RFC 3464). */
export function asciiLine(text: string, max = 400): string {
  return oneLine(text, max).replace(/→/g, '->').replace(/…/g, '...').replace(/[^\x20-\x7e]/g, '?');
}

/** An address about to be written into a header: refused if it could break one (controls, `<`, `>`). */
export function headerAddress(value: string): string {
  if (!value || /[\p{Cc}<>]/u.test(value)) {
    throw new Error(`refusing to write address ${JSON.stringify(value)} into a header`);
  }
  return value;
}

/** A Message-ID (without <>) about to be written into a header: no spaces, controls, `<` or `>`. */
export function headerMessageId(value: string): string {
  if (!value || /[\p{Cc}\s<>]/u.test(value)) {
    throw new Error(`refusing to write message id ${JSON.stringify(value)} into a header`);
  }
  return value;
}

/** A multipart boundary that cannot occur in the text we write. */
export function newBoundary(): string {
  return `=_wr_${randomBytes(12).toString('hex')}`;
}

/** Body text with CRLF line endings, and the transfer encoding it needs (7bit, or base64 for UTF-8). */
export function encodeText(text: string): { encoding: '7bit' | 'base64'; body: string } {
  const normal = text.replace(/\r?\n/g, CRLF);
  if (isAscii(normal) && normal.split(CRLF).every((l) => l.length <= 998)) {
    return { encoding: '7bit', body: normal.endsWith(CRLF) ? normal : normal + CRLF };
  }
  const b64 = Buffer.from(normal, 'utf8').toString('base64');
  return { encoding: 'base64', body: (b64.match(/.{1,76}/g) ?? []).join(CRLF) + CRLF };
}

/** A header block (`Name: value` lines, CRLF) from pairs; values are made one line first. */
export function headerBlock(fields: readonly (readonly [string, string])[]): string {
  return fields.map(([name, value]) => `${name}: ${oneLine(value, 900)}${CRLF}`).join('');
}

/** Only 7-bit characters? */
export function isAscii(text: string): boolean {
  return /^\p{ASCII}*$/u.test(text);
}
