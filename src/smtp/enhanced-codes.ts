/**
 * smtp-server picks an RFC 3463 enhanced status code per reply code (550 → 5.1.1, 451 → 4.3.0…)
 * and prepends it to every error text, so an application cannot say "550 5.7.1" (policy) rather
 * than its guess. Our replies carry their own enhanced code as the first word (SmtpReply), so for
 * those, and only those, its guess is switched off. The integration tests assert the codes on
 * the wire, so a change in smtp-server that breaks this fails loudly.
 */
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';

const ENHANCED = /^[245]\.\d{1,3}\.\d{1,3} /;
let installed = false;

export function useOwnEnhancedCodes(): void {
  if (installed) return;
  installed = true;
  const proto = SMTPConnection.prototype as unknown as {
    send: (this: unknown, code: number, data?: unknown, context?: unknown) => unknown;
  };
  const original = proto.send;
  proto.send = function send(this: unknown, code: number, data?: unknown, context?: unknown) {
    if (typeof data === 'string' && ENHANCED.test(data)) return original.call(this, code, data, false);
    return original.call(this, code, data, context);
  };
}
