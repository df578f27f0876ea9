/**
 * One bare address (envelope or addr-spec from a header), parsed strictly. Fails closed: any
 * form that another mail system could route differently is refused rather than guessed at.
 */
import { normalizeDomain } from './domain.js';

export type Mailbox = { local: string; domain: string; address: string };
export type MailboxResult = ({ ok: true } & Mailbox) | { ok: false; reason: string };

export const MAX_LOCAL_PART = 64;
export const MAX_ADDRESS = 254;

/** RFC 5322 atext without `%` and `!` (the old percent and bang routing hacks). */
const LOCAL_ATOM = /^[A-Za-z0-9#$&'*+\-/=?^_`{|}~]+$/;
/** Does the text hold an RFC 2047 encoded-word (`=?` ... `?=`)? Linear, unlike /=\?.*\?=/. */
export function hasEncodedWord(text: string): boolean {
  const open = text.indexOf('=?');
  return open >= 0 && text.indexOf('?=', open + 2) >= 0;
}

/**
 * Parse one address and say why it is refused. The local part must be a dot-atom of atext
 * without `%` and `!`; quoted local parts, source routes, bang paths, whitespace, control and
 * non-ASCII characters in the local part are refused. The domain goes through normalizeDomain.
 * The normalized address is all lowercase (Gmail local parts are case-insensitive) with the
 * domain as A-labels.
 */
export function checkMailbox(input: string): MailboxResult {
  if (input === '') return { ok: false, reason: 'the address is empty' };
  if (input.startsWith('@')) return { ok: false, reason: 'source routes (@host:user@domain) are not accepted' };
  if (input.startsWith('"') || input.includes('"')) return { ok: false, reason: 'quoted local parts are not accepted' };
  const at = input.indexOf('@');
  if (at < 0) return { ok: false, reason: 'the address has no @domain' };
  if (input.indexOf('@', at + 1) >= 0) return { ok: false, reason: 'the address has more than one @' };
  const local = input.slice(0, at);
  const rawDomain = input.slice(at + 1);
  if (local === '') return { ok: false, reason: 'the local part (before the @) is empty' };
  if (local.includes('%')) return { ok: false, reason: 'a % in the local part (percent-hack routing) is not accepted' };
  if (local.includes('!')) return { ok: false, reason: 'a ! in the local part (bang-path routing) is not accepted' };
  if (hasEncodedWord(local)) return { ok: false, reason: 'an encoded-word (=?...?=) cannot be an address' };
  for (const atom of local.split('.')) {
    if (atom === '') return { ok: false, reason: 'the local part has an empty dot-separated part (leading, trailing or double dot)' };
    if (!LOCAL_ATOM.test(atom)) {
      return { ok: false, reason: 'the local part has a character that is not allowed (only ASCII letters, digits and #$&\'*+-/=?^_`{|}~ between dots)' };
    }
  }
  if (local.length > MAX_LOCAL_PART) return { ok: false, reason: `the local part is longer than ${MAX_LOCAL_PART} characters` };
  const domain = normalizeDomain(rawDomain);
  if (!domain.ok) return domain;
  const address = `${local.toLowerCase()}@${domain.domain}`;
  if (address.length > MAX_ADDRESS) return { ok: false, reason: `the address is longer than ${MAX_ADDRESS} characters` };
  return { ok: true, local: local.toLowerCase(), domain: domain.domain, address };
}

/** Parse one bare address strictly; null when it is refused (see checkMailbox for why). */
export function parseMailbox(address: string): Mailbox | null {
  const r = checkMailbox(address);
  return r.ok ? { local: r.local, domain: r.domain, address: r.address } : null;
}

/** A source route before an envelope address: `@relay1,@relay2:` (RFC 5321 4.1.2, appendix C). */
const SOURCE_ROUTE = /^@[^\s,:@]+(?:,@[^\s,:@]+)*:/;

/**
 * An envelope address (MAIL FROM / RCPT TO, as written between < and >) without its source
 * route: RFC 5321 says a server must accept one and should ignore it, so the mail goes to (and is
 * checked as) the address after the colon. In headers source routes are refused (checkMailbox).
 */
export function withoutSourceRoute(written: string): { address: string; route: boolean } {
  const m = SOURCE_ROUTE.exec(written);
  return m ? { address: written.slice(m[0].length), route: true } : { address: written, route: false };
}
