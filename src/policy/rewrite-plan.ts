/**
 * The header changes a message gets on the way out, decided once at accept time and stored in
 * meta.rewrite: the From decision, plus Date and Message-ID when the message has none (devices
 * often omit them). Decided once so that every delivery attempt sends the same bytes: a retry
 * sends the same Message-ID, and the Date is the time the relay accepted the message.
 */
import type { MessageRewrite } from '../spool/index.js';
import type { FromAccepted } from './from-policy.js';
import type { HeaderFacts } from './header-facts.js';

export type { MessageRewrite } from '../spool/index.js';

export interface PlanRewriteInput {
  /** An accepted From decision (decideFrom). */
  from: FromAccepted;
  facts: Pick<HeaderFacts, 'hasDate' | 'hasMessageId'>;
  /** Accept time: the Date to add. */
  now: Date;
  /** Unique left part of an added Message-ID (policy does no I/O: the caller brings the randomness). */
  randomId: () => string;
}

/** The changes to store as meta.rewrite; undefined when the message goes out as received. */
export function planRewrite(input: PlanRewriteInput): MessageRewrite | undefined {
  const out: MessageRewrite = {};
  if (input.from.rewriteFrom) out.from = input.from.rewriteFrom.address;
  if (input.from.replyTo) out.replyTo = input.from.replyTo;
  if (!input.facts.hasDate) out.addDate = rfc5322Date(input.now);
  if (!input.facts.hasMessageId) {
    const left = input.randomId();
    out.addMessageId = `${left}@${domainOf(input.from.sendAs)}`;
  }
  return Object.keys(out).length ? out : undefined;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number) => String(n).padStart(2, '0');

/** RFC 5322 date-time in UTC, e.g. `Mon, 2 Nov 2026 10:00:00 +0000`. */
export function rfc5322Date(d: Date): string {
  const time = `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
  return `${DAYS[d.getUTCDay()]}, ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${time} +0000`;
}

function domainOf(address: string): string {
  const at = address.lastIndexOf('@');
  return at >= 0 ? address.slice(at + 1) : address;
}
