/**
 * What every policy function returns: a decision, never a throw. A refusal carries the exact
 * SMTP reply the listener sends (code, enhanced status and a reason that names the fix).
 */
import { SmtpReply } from '../errors.js';

export type Refusal = { ok: false; reply: SmtpReply };

/** Stable codes of policy refusals (also the log `event`). */
export const POLICY_CODES = {
  senderRefused: 'policy.sender_refused',
  senderInvalid: 'policy.sender_invalid',
  recipientRefused: 'policy.recipient_refused',
  recipientInvalid: 'policy.recipient_invalid',
  tooManyRecipients: 'policy.too_many_recipients',
  headerRecipientRefused: 'policy.header_recipient_refused',
  headerTooManyRecipients: 'policy.header_too_many_recipients',
  headerMalformed: 'policy.header_malformed',
} as const;

export function refuse(code: string, responseCode: number, enhanced: string, reason: string): Refusal {
  return { ok: false, reply: new SmtpReply(code, responseCode, enhanced, reason) };
}

const MAX_SHOWN = 120;

/**
 * An address (or a piece of one) as it may appear in an SMTP reply: printable ASCII only, so a
 * hostile value cannot inject a line break or a second reply, and cut short when long.
 */
export function show(value: string): string {
  const printable = value.replace(/[^\x20-\x7e]/g, '?');
  return printable.length > MAX_SHOWN ? `${printable.slice(0, MAX_SHOWN)}...` : printable;
}
