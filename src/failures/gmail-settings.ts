/**
 * Google's answers to the S/MIME calls (settings.sendAs.smimeInfo list/get/insert/delete/
 * setDefault): delegation, scopes, no such user, and the certificate Gmail refused (expired,
 * untrusted issuer, wrong address, wrong password, S/MIME off). Gmail says which in its message
 * text only, so these read it; the S/MIME commands show Google's words next to the fix. A "slow
 * down" (429, or 403 with a rate reason) keeps Google's stated time: the commands wait and retry.
 */
import type { DeliveryError } from '../errors.js';
import { gmailErrorBody, tokenBody, type HttpAnswer } from './answer.js';
import type { FailureCode } from './codes.js';
import type { ClassifyContext } from './context.js';
import { failure } from './failure.js';
import { RATE_REASONS } from './gmail-api.js';
import { statedRetryAfter } from './retry-after.js';

export function classifySmime(http: HttpAnswer | undefined, ctx: ClassifyContext): DeliveryError {
  if (!http) return failure('smime.google', 'the S/MIME call failed', ctx);
  if (http.endpoint === 'token') {
    const { error, description } = tokenBody(http.data);
    const said = (code: FailureCode) => failure(code, `Google refused a token for the S/MIME call (${error || http.status})`, ctx, { status: http.status, detail: [http.status, error].filter(Boolean).join(' ') });
    if (error === 'unauthorized_client' || error === 'access_denied') return said('smime.delegation');
    if (error === 'invalid_grant') return said(/invalid email or user id/i.test(description) ? 'smime.no_such_user' : 'smime.key');
    return said('smime.google');
  }
  const body = gmailErrorBody(http.data);
  const detail = [http.status, body.status, ...new Set(body.reasons)].filter(Boolean).join(' ');
  const said = (code: FailureCode) => failure(code, `Gmail refused the S/MIME call (Gmail: ${detail})`, ctx, { status: http.status, detail });
  const text = body.message;
  if (http.status === 429 || (http.status === 403 && body.reasons.some((r) => RATE_REASONS.includes(r)))) {
    const retryAfter = statedRetryAfter(http.headers, text, (ctx.now ?? Date.now)());
    return failure('smime.rate_limited', `Gmail asks to slow down (Gmail: ${detail})`, ctx, { status: http.status, detail, retryAfter });
  }
  if (http.status === 403 && (body.reasons.includes('insufficientPermissions') || /insufficient authentication scopes/i.test(text))) return said('smime.scope');
  if (http.status === 404) return said('smime.not_found');
  if (http.status === 400 || http.status === 403) {
    if (/expir/i.test(text)) return said('smime.google_expired');
    if (/trust|root|chain|issuer|\bCA\b/i.test(text)) return said('smime.google_untrusted');
    if (/subject|match|address|alias/i.test(text)) return said('smime.google_mismatch');
    if (/password|decrypt/i.test(text)) return said('smime.google_password');
    if (/s\/mime|smime|not enabled|disabled/i.test(text)) return said('smime.disabled');
  }
  return said('smime.google');
}
