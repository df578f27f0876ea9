/**
 * Google's answers to S/MIME calls turned into one plain line: what failed, what Google said, and
 * the fix when we recognise the problem (delegation, scopes, no such user, certificate refused).
 */
import { errorText } from '../errors.js';
import { SmimeError } from './errors.js';

interface GoogleErrorShape {
  status?: number;
  code?: string | number;
  message?: string;
  response?: { status?: number; data?: unknown };
}

const DELEGATION_PATH = 'Admin console → Security → Access and data control → API controls → Domain-wide delegation';

/** The one-line SmimeError for a failed Google call. `what` says which call, e.g. "insert for a@x (alias a@x)". */
export function googleError(err: unknown, what: string, context: { clientId?: string; scopes?: readonly string[] } = {}): SmimeError {
  if (err instanceof SmimeError) return err;
  const e = (err && typeof err === 'object' ? err : {}) as GoogleErrorShape;
  const status = e.response?.status ?? e.status;
  const data = e.response?.data as
    | { error?: string | { message?: string; errors?: { reason?: string }[] }; error_description?: string }
    | undefined;
  let message = errorText(err);
  let reason: string | undefined;
  if (data && typeof data.error === 'object') {
    message = data.error.message ?? message;
    reason = data.error.errors?.[0]?.reason;
  } else if (data && typeof data.error === 'string') {
    message = `${data.error}: ${data.error_description ?? ''}`.trim();
  }
  message = message.replace(/\s+/g, ' ').trim();
  const line = (hint?: string) => `${what} failed: ${message}${hint ? ` (${hint})` : ''}`;
  const scopes = context.scopes?.join(',') ?? 'the gmail.settings scopes';
  const client = context.clientId ? `client ID ${context.clientId}` : 'the S/MIME service account';

  if (/unauthorized_client|access_denied/.test(message)) {
    return new SmimeError('smime.delegation', line(`authorise ${client} for ${scopes} in ${DELEGATION_PATH}; changes can take up to 24 h`), { cause: err });
  }
  if (/invalid_grant/.test(message) && /Invalid email or User ID/i.test(message)) {
    return new SmimeError('smime.no_such_user', line('no such user in the workspace: check the address'), { cause: err });
  }
  if (/invalid_grant/.test(message)) {
    return new SmimeError('smime.key', line("the service account's key was refused: check the key file is current and this machine's clock"), { cause: err });
  }
  if (status === 403 && (reason === 'insufficientPermissions' || /insufficient authentication scopes/i.test(message))) {
    return new SmimeError('smime.scope', line(`the token lacks a needed scope: gmail.settings.basic for the primary address, gmail.settings.sharing for other aliases; authorise ${client} for them in ${DELEGATION_PATH}`), { cause: err });
  }
  if (status === 404) {
    return new SmimeError('smime.not_found', line('check the alias is one of the user\'s send-as addresses and the certificate id (smime list)'), { cause: err });
  }
  if (status === 400 || status === 403) {
    if (/expir/i.test(message)) return new SmimeError('smime.google_expired', line('the certificate has expired: renew it with the CA'), { cause: err });
    if (/trust|root|chain|issuer|\bCA\b/i.test(message)) {
      return new SmimeError(
        'smime.google_untrusted',
        line("Gmail does not trust the certificate's issuer: include the full chain, use a CA on Google's trusted list, or have the admin add the root under Gmail → User settings → S/MIME"),
        { cause: err },
      );
    }
    if (/subject|match|address|alias/i.test(message)) {
      return new SmimeError('smime.google_mismatch', line("the certificate's email address must equal the send-as alias it is uploaded to"), { cause: err });
    }
    if (/password|decrypt/i.test(message)) return new SmimeError('smime.google_password', line('check the .p12 password'), { cause: err });
    if (/s\/mime|smime|not enabled|disabled/i.test(message)) {
      return new SmimeError('smime.disabled', line('turn on hosted S/MIME: Admin console → Apps → Google Workspace → Gmail → User settings → S/MIME'), { cause: err });
    }
  }
  return new SmimeError('smime.google', line(), { cause: err });
}
