/**
 * Replace the address of a From field, keeping its display name (and every other byte) as
 * received: `"Dr. Müller" <front@clinic.example>` becomes `"Dr. Müller" <scans@clinic.example>`,
 * `front@clinic.example (Front desk)` becomes `scans@clinic.example (Front desk)`. Quoted strings,
 * comments and encoded-words in the display name are skipped over, never decoded or re-encoded,
 * so 8-bit bytes and folding stay byte-exact.
 *
 * A From this cannot read as exactly one mailbox (several mailboxes, a group, an unclosed quote,
 * comment or bracket, text after the address, no @) is replaced whole by `From: <address>`:
 * which display name belongs to the address Google sends as would be a guess.
 */
import addressparser from 'nodemailer/lib/addressparser';
import { parseAddressList, parseMailbox } from '../policy/index.js';

/**
 * The field (name, value and line endings, continuation lines included; latin1 so one char is
 * one octet) with its address replaced, or null when it has not exactly one readable mailbox.
 * The result is checked the way the listener checks header recipients: the strict reader and
 * nodemailer's lenient one must both find exactly `address` in it, else null (replace whole).
 */
export function replaceFromAddress(field: string, address: string): string | null {
  const colon = field.indexOf(':');
  if (colon < 0) return null;
  const span = addressSpan(field, colon + 1);
  if (!span) return null;
  const out = field.slice(0, span.start) + address + field.slice(span.end);
  return readsAsOnly(out.slice(colon + 1), address) ? out : null;
}

function readsAsOnly(rawValue: string, address: string): boolean {
  const value = rawValue.replace(/\r?\n(?=[ \t])/g, '').replace(/\r?\n$/, '');
  const want = parseMailbox(address)?.address;
  const strict = parseAddressList(value);
  if (!want || !strict.ok || strict.mailboxes.length !== 1 || strict.mailboxes[0]!.address !== want) return false;
  try {
    const lenient = addressparser(value);
    const one = lenient[0];
    return lenient.length === 1 && one !== undefined && !('group' in one) && parseMailbox(one.address)?.address === want;
  } catch {
    return false;
  }
}

type Span = { start: number; end: number };

const isBlank = (c: string) => c === ' ' || c === '\t' || c === '\r' || c === '\n';

/** End of the quoted string or (nested) comment opening at `i`; -1 when it is not closed. */
function skipDelimited(s: string, i: number): number {
  const open = s[i];
  const close = open === '"' ? '"' : ')';
  let depth = 0;
  for (let j = i; j < s.length; j++) {
    const c = s[j];
    if (c === '\\') {
      j++;
      continue;
    }
    if (j > i && c === close && open === '"') return j + 1;
    if (open === '(' && c === '(') depth++;
    else if (open === '(' && c === ')' && --depth === 0) return j + 1;
  }
  return -1;
}

/** Where the one address of the field value starting at `from` is. */
function addressSpan(s: string, from: number): Span | null {
  let angle: Span | null = null;
  const runs: Span[] = []; // top-level text outside <...>, comments and blanks
  let run: Span | null = null;
  let i = from;
  while (i < s.length) {
    const c = s[i]!;
    if (c === '(') {
      run = null;
      i = skipDelimited(s, i);
      if (i < 0) return null;
      continue;
    }
    if (isBlank(c)) {
      run = null;
      i++;
      continue;
    }
    if (c === ',' || c === ';' || c === ':' || c === '>') return null;
    if (c === '<') {
      if (angle) return null;
      const close = angleEnd(s, i + 1);
      if (close < 0) return null;
      angle = { start: i + 1, end: close };
      run = null;
      runs.push({ start: -1, end: -1 }); // marks where the angle address sits among the words
      i = close + 1;
      continue;
    }
    if (!run) {
      run = { start: i, end: i };
      runs.push(run);
    }
    if (c === '"') {
      i = skipDelimited(s, i);
      if (i < 0) return null;
    } else {
      i++;
    }
    run.end = i;
  }
  if (angle) {
    // Display-name words may come before <...>, nothing but comments after it.
    if (runs[runs.length - 1]!.start !== -1) return null;
    return angle.end > angle.start ? angle : null;
  }
  if (runs.length !== 1) return null;
  const only = runs[0]!;
  return s.slice(only.start, only.end).includes('@') ? only : null;
}

/** Index of the `>` closing an angle address whose content starts at `i`; -1 when none. */
function angleEnd(s: string, i: number): number {
  for (let j = i; j < s.length; j++) {
    const c = s[j];
    if (c === '"') {
      j = skipDelimited(s, j) - 1;
      if (j < 0) return -1;
    } else if (c === '>') return j;
    else if (c === '<' || c === ',' || c === '\r' || c === '\n') return -1;
  }
  return -1;
}
