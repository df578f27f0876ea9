/**
 * Header lines longer than RFC 5322's 998 octets (scanners write long subjects) are folded on the
 * way out rather than refused, as Postfix does when it sends:
 *
 * - at whitespace: a line ending is inserted before a space or tab, as late as the limit allows,
 *   so the whitespace starts the continuation line and unfolding (removing the line ending) gives
 *   back exactly the original line;
 * - where a stretch of 998 octets has no whitespace at all, the line is split hard by inserting a
 *   line ending and a space (Postfix's smtp_line_length_limit does the same): unfolding then
 *   shows one extra space at that point. A hard split never cuts a UTF-8 character in two.
 *
 * Inserted line endings copy the folded line's own (CRLF or LF). Lines within the limit, and
 * every other byte, are left exactly as they are.
 */
import { ADDRESS_FIELDS } from '../policy/index.js';

export const MAX_LINE = 998;

/**
 * Fields never split hard (policy's ADDRESS_FIELDS): a split inside an address changes the
 * address (the policy refuses such long lines at DATA, so this is the backstop). They are folded
 * at whitespace only.
 */

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const HTAB = 0x09;
const isWsp = (b: number | undefined) => b === SP || b === HTAB;

/** The header with every line over `limit` octets (line ending excluded) folded. Same buffer when none is. */
export function foldLongLines(header: Buffer, defaultEol = '\r\n', limit = MAX_LINE): Buffer {
  if (!hasLongLine(header, limit)) return header;
  const out: Buffer[] = [];
  let start = 0;
  let field = '';
  while (start < header.length) {
    const nl = header.indexOf(LF, start);
    const end = nl < 0 ? header.length : nl + 1;
    let contentEnd = nl < 0 ? header.length : nl;
    if (nl > start && header[nl - 1] === CR) contentEnd--;
    const line = header.subarray(start, contentEnd);
    const eolBytes = header.subarray(contentEnd, end);
    if (!isWsp(line[0])) {
      const colon = line.indexOf(0x3a);
      field = colon > 0 ? line.subarray(0, colon).toString('latin1').trim().toLowerCase() : '';
    }
    if (line.length > limit) {
      const eol = eolBytes.length ? eolBytes.toString('latin1') : defaultEol;
      out.push(foldLine(line, eol, limit, !ADDRESS_FIELDS.has(field)), eolBytes);
    } else {
      out.push(header.subarray(start, end));
    }
    start = end;
  }
  return Buffer.concat(out);
}

export function hasLongLine(header: Buffer, limit = MAX_LINE): boolean {
  let start = 0;
  while (start < header.length) {
    const nl = header.indexOf(LF, start);
    const end = nl < 0 ? header.length : nl;
    const len = end - start - (nl > start && header[nl - 1] === CR ? 1 : 0);
    if (len > limit) return true;
    start = end + 1;
  }
  return false;
}

/** One line (no line ending) cut into pieces of at most `limit` octets each. */
function foldLine(line: Buffer, eol: string, limit: number, allowHard: boolean): Buffer {
  const pieces: Buffer[] = [];
  const eolBuf = Buffer.from(eol, 'latin1');
  const space = Buffer.from(' ');
  let start = 0;
  let prefix = 0; // octets already on the current output line (an inserted space)
  while (prefix + line.length - start > limit) {
    const budget = limit - prefix;
    const cut = wspCut(line, start, budget) ?? (allowHard ? hardCut(line, start, budget) : undefined);
    if (cut === undefined) break; // an address field with no whitespace to fold at: left as it is
    const hard = !isWsp(line[cut]);
    pieces.push(line.subarray(start, cut), eolBuf);
    if (hard) pieces.push(space);
    prefix = hard ? 1 : 0;
    start = cut;
  }
  pieces.push(line.subarray(start));
  return Buffer.concat(pieces);
}

/** The last whitespace at which to fold, keeping at least one non-blank octet before it. */
function wspCut(line: Buffer, start: number, budget: number): number | undefined {
  let firstText = start;
  while (firstText < line.length && isWsp(line[firstText])) firstText++;
  for (let i = Math.min(start + budget, line.length - 1); i > firstText; i--) {
    // never leave a continuation line of whitespace only (a reader could take it for the end of the header)
    if (isWsp(line[i]) && hasTextAfter(line, i)) return i;
  }
  return undefined;
}

/** Where to split a stretch without whitespace: at the limit, moved back off UTF-8 continuation bytes. */
function hardCut(line: Buffer, start: number, budget: number): number {
  let cut = start + budget;
  for (let back = 0; back < 3 && cut > start + 1 && (line[cut]! & 0xc0) === 0x80; back++) cut--;
  return cut;
}

/** Is there a non-whitespace octet on the continuation line that a cut at `i` would start? */
function hasTextAfter(line: Buffer, i: number): boolean {
  for (let j = i; j < line.length; j++) if (!isWsp(line[j])) return true;
  return false;
}
