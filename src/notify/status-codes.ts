/**
 * RFC 3463 enhanced status codes for notices, from our error codes (src/delivery/classify*.ts).
 * A failure notice says 5.x.x, a delay notice 4.x.x; codes not listed get the class's generic
 * "other" detail.
 */
const DETAIL: Record<string, string> = {
  'delivery.expired': '4.7', // delivery time expired (X.4.7)
  'delivery.no_such_user': '1.8', // bad sender's system address: the sending user does not exist
  'delivery.bad_envelope': '1.3', // bad destination mailbox address syntax
  'delivery.message_too_large': '3.4', // message too big for system
  'delivery.message_rejected': '6.0', // other or undefined media error: Gmail refused the message itself
  'delivery.no_workspace': '3.5', // system incorrectly configured
  'delivery.mail_disabled': '7.0', // an admin must enable Gmail for the sender
  'delivery.user_suspended': '7.0',
  'delivery.rate_limited': '7.0',
  'delivery.daily_limit': '7.0',
  'delivery.insufficient_scope': '7.0',
  'delivery.delegation_denied': '7.0',
  'delivery.api_disabled': '3.5',
  'delivery.clock_skew': '3.5',
  'delivery.smtp.auth': '7.0',
};

/** `5.x.x` for a failure notice about `code`. */
export function failureStatus(code: string): string {
  return `5.${DETAIL[code] ?? (code.startsWith('delivery.token.') ? '7.0' : '0.0')}`;
}

/** `4.x.x` for a delay notice whose last error was `code` (or none yet). */
export function delayStatus(code: string | undefined): string {
  if (!code) return '4.4.7';
  return `4.${DETAIL[code] ?? (code.startsWith('delivery.token.') ? '7.0' : '4.0')}`;
}
