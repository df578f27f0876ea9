/**
 * The addresses of the URIs in a List-* header (RFC 2369: `<mailto:list@host?subject=help>,
 * <https://…>`). A mailto: URI (RFC 6068) is mail a client sends on one click (Gmail's
 * "Unsubscribe" sends it by itself), so every address in it counts: the ones before `?` and the
 * ones in to=, cc=, bcc= (and reply-to=). Read strictly: anything this cannot read with certainty
 * (text outside <...>, an unknown field, bad percent-encoding) is refused, never guessed at.
 * Other schemes (https:) carry no address and are left alone.
 */
import type { Mailbox } from './address.js';
import { readAddressField } from './address-field.js';

export type UriListResult = { ok: true; mailboxes: Mailbox[]; ambiguous: boolean } | { ok: false; reason: string };

/** mailto: fields that hold addresses. */
const ADDRESS_HFIELDS = new Set(['to', 'cc', 'bcc', 'reply-to']);
/** mailto: fields that hold none (others are refused: a client might act on them). */
const TEXT_HFIELDS = new Set(['subject', 'body', 'in-reply-to', 'references', 'keywords', 'comments']);

class UriError extends Error {}

/** `value`: the unfolded field value. `noAllowed`: the field may be `NO` (List-Post). */
export function readUriList(value: string, noAllowed = false): UriListResult {
  try {
    const uris = splitUris(value, noAllowed);
    const mailboxes: Mailbox[] = [];
    let ambiguous = false;
    for (const uri of uris) {
      const colon = uri.indexOf(':');
      if (colon <= 0) throw new UriError('a <...> without a URI scheme');
      if (uri.slice(0, colon).toLowerCase() !== 'mailto') continue;
      const r = mailtoAddresses(uri.slice(colon + 1));
      mailboxes.push(...r.mailboxes);
      ambiguous ||= r.ambiguous;
    }
    return { ok: true, mailboxes, ambiguous };
  } catch (err) {
    if (err instanceof UriError) return { ok: false, reason: err.message };
    throw err;
  }
}

/** The URIs of the field (whitespace inside <...> removed, as RFC 2369 allows folding there). */
function splitUris(value: string, noAllowed: boolean): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < value.length) {
    const c = value[i]!;
    if (c === ' ' || c === '\t' || c === ',') i++;
    else if (c === '(') i = skipComment(value, i);
    else if (c === '<') {
      const close = value.indexOf('>', i + 1);
      if (close < 0) throw new UriError('a < is not closed with >');
      const uri = value.slice(i + 1, close).replace(/[ \t]+/g, '');
      if (uri.includes('<')) throw new UriError('a < inside <...>');
      out.push(uri);
      i = close + 1;
    } else {
      // List-Post: NO (the list takes no posts), optionally with a comment
      if (noAllowed && out.length === 0 && /^NO[ \t]*(\([^()\\]*\)[ \t]*)?$/i.test(value.slice(i).trimEnd())) return [];
      throw new UriError('text outside <...> (write each URI in angle brackets)');
    }
  }
  return out;
}

function skipComment(s: string, start: number): number {
  let depth = 0;
  for (let i = start; i < s.length; i++) {
    if (s[i] === '\\') i++;
    else if (s[i] === '(') depth++;
    else if (s[i] === ')' && --depth === 0) return i + 1;
  }
  throw new UriError('a comment is not closed');
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new UriError('bad percent-encoding in a mailto: URI');
  }
}

function mailtoAddresses(rest: string): { mailboxes: Mailbox[]; ambiguous: boolean } {
  if (rest.includes('#')) throw new UriError('a fragment (#) in a mailto: URI');
  const q = rest.indexOf('?');
  const lists = [q < 0 ? rest : rest.slice(0, q)];
  if (q >= 0) {
    for (const pair of rest.slice(q + 1).split('&')) {
      if (pair === '') continue;
      const eq = pair.indexOf('=');
      const name = decode(eq < 0 ? pair : pair.slice(0, eq)).trim().toLowerCase();
      if (ADDRESS_HFIELDS.has(name)) lists.push(eq < 0 ? '' : pair.slice(eq + 1));
      else if (!TEXT_HFIELDS.has(name)) throw new UriError(`a mailto: field "${name.replace(/[^\x20-\x7e]/g, '?').slice(0, 40)}" that is not read here`);
    }
  }
  const mailboxes: Mailbox[] = [];
  let ambiguous = false;
  for (const list of lists) {
    const text = decode(list);
    if (/[\r\n\0]/.test(text)) throw new UriError('a line break in a mailto: URI');
    const r = readAddressField(text);
    if (!r.ok) throw new UriError(`a mailto: address cannot be read: ${r.reason}`);
    mailboxes.push(...r.mailboxes);
    ambiguous ||= r.ambiguous;
  }
  return { mailboxes, ambiguous };
}
