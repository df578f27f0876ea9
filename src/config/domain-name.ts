/**
 * A domain name's one canonical form (lowercase A-labels, no trailing dot), or why it has none.
 * In config (a leaf) because both the config's domains and policy's addresses are read with it.
 */
import { domainToASCII, domainToUnicode } from 'node:url';

export type DomainResult = { ok: true; domain: string } | { ok: false; reason: string };

const MAX_DOMAIN = 253;
const LDH_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/** What may be handed to domainToASCII: it is a URL host parser and would otherwise percent-
 * decode (`a%41` → `aa`), cut at `/` or `?`, and read `[::1]` as an IP literal. */
const DOMAIN_CHARS = /^[A-Za-z0-9.\-\u0080-\uFFFF]+$/u;
const NUMERIC_LABEL = /^(?:[0-9]+|0x[0-9a-f]*)$/i;

/**
 * Normalize a domain to lowercase A-labels, or say why it cannot be used. Fails closed: the
 * input must already be the canonical spelling of the domain, either as A-labels or as
 * U-labels (any mix, any case). Spellings that IDNA would silently map to another domain
 * (full-width letters or dots, soft hyphens, decomposed accents) are refused, because another
 * mail system could read them differently. No trailing dot, no IP addresses or literals.
 */
export function normalizeDomain(input: string): DomainResult {
  if (input === '') return { ok: false, reason: 'the domain is empty' };
  if (input.startsWith('[')) return { ok: false, reason: 'IP address literals are not accepted' };
  if (input.endsWith('.')) return { ok: false, reason: 'the domain ends with a dot' };
  if (!DOMAIN_CHARS.test(input)) {
    return { ok: false, reason: 'the domain has characters other than letters, digits, hyphens and dots' };
  }
  const lower = input.toLowerCase();
  const ascii = domainToASCII(lower);
  if (!ascii) return { ok: false, reason: 'the domain is not a valid (internationalized) domain name' };
  const asciiLabels = ascii.split('.');
  const inputLabels = lower.split('.');
  if (asciiLabels.length !== inputLabels.length) {
    return { ok: false, reason: 'the domain is not written in its canonical form' };
  }
  for (let i = 0; i < asciiLabels.length; i++) {
    const a = asciiLabels[i]!;
    const given = inputLabels[i]!;
    if (!LDH_LABEL.test(a)) {
      return { ok: false, reason: 'each label of the domain must be letters, digits and inner hyphens (1-63 characters)' };
    }
    if (given !== a && given !== domainToUnicode(a)) {
      return { ok: false, reason: 'the domain is not written in its canonical form' };
    }
    // An A-label must be valid punycode that round-trips. Node's URL parser (ada) refuses a bad
    // one in Node 20 but passes it through unchanged in Node 24: check it ourselves.
    if (a.startsWith('xn--')) {
      const unicode = domainToUnicode(a);
      if (unicode === a || domainToASCII(unicode) !== a) {
        return { ok: false, reason: 'the domain is not a valid (internationalized) domain name' };
      }
    }
  }
  if (NUMERIC_LABEL.test(asciiLabels[asciiLabels.length - 1]!)) {
    return { ok: false, reason: 'IP addresses are not accepted as domains' };
  }
  if (ascii.length > MAX_DOMAIN) return { ok: false, reason: `the domain is longer than ${MAX_DOMAIN} characters` };
  return { ok: true, domain: ascii };
}
