/**
 * `recipientCheck: directory`: what the Directory's answer about an envelope recipient means.
 * The lookup itself happens in the listener (src/smtp, through src/google/recipient-directory.ts);
 * this decides. An address Google says does not exist is refused at RCPT (550 5.1.1) instead of
 * bouncing later; when Google could not be asked the recipient is accepted (the workspace
 * boundary, checked before, still applies).
 */
import { type Refusal, refuse } from './decision.js';

/** exists: a user, an alias or a group; missing: none of them; unknown: Google could not be asked. */
export type DirectoryAnswer = 'exists' | 'missing' | 'unknown';

export function decideRecipientExistence(address: string, answer: DirectoryAnswer): { ok: true } | Refusal {
  if (answer === 'missing') return refuse('recipientUnknown', { rcpt: address });
  return { ok: true };
}
