/**
 * The Gmail API's answers (users.messages.send, users.settings.sendAs.list): HTTP status, the
 * canonical status and errors[].reason. Google's message text is read (it names the daily limit,
 * delegation denied, "Retry after <time>") but never copied: it can echo header contents.
 */
import type { DeliveryError } from '../errors.js';
import { gmailErrorBody, type HttpAnswer } from './answer.js';
import type { FailureCode } from './codes.js';
import { DAILY_LIMIT_WAIT_MS, type ClassifyContext } from './context.js';
import { failure } from './failure.js';
import { statedRetryAfter } from './retry-after.js';

/** errors[].reason values of Gmail's "slow down" answers (with a 429, or a 403). */
export const RATE_REASONS = ['rateLimitExceeded', 'userRateLimitExceeded', 'dailyLimitExceeded', 'quotaExceeded', 'RATE_LIMIT_EXCEEDED'];

export function classifyGmail(h: HttpAnswer, ctx: ClassifyContext): DeliveryError {
  const body = gmailErrorBody(h.data);
  const has = (...r: string[]) => body.reasons.some((x) => r.includes(x));
  const now = (ctx.now ?? Date.now)();
  const retryAfter = statedRetryAfter(h.headers, body.message, now);
  const detail = [h.status, body.status, ...new Set(body.reasons)].filter(Boolean).join(' ');
  const as = ctx.user ? ` as ${ctx.user}` : '';
  const mk = (code: FailureCode, statement: string, after = retryAfter) =>
    failure(code, statement, ctx, { status: h.status, detail, retryAfter: after, trailer: ` (Gmail: ${detail})` });

  const daily = has('dailyLimitExceeded', 'quotaExceeded') || /daily|sending limit|sending quota/i.test(body.message);
  if (h.status === 429 || (h.status === 403 && has(...RATE_REASONS))) {
    if (daily) {
      // A daily limit stated as already over (clock skew) still waits the hour, not the short backoff.
      const until = retryAfter && retryAfter.getTime() > now ? retryAfter : new Date(now + DAILY_LIMIT_WAIT_MS);
      return mk('delivery.daily_limit', `Gmail's sending limit${as} is reached`, until);
    }
    return mk('delivery.rate_limited', `Gmail asks to slow down${as}`);
  }
  if (h.status === 401) return mk('delivery.gmail_unauthenticated', `Gmail did not accept the access token${as}, even a new one`);
  if (h.status === 403) {
    if (has('insufficientPermissions', 'ACCESS_TOKEN_SCOPE_INSUFFICIENT') || /insufficient authentication scopes/i.test(body.message)) {
      if (ctx.purpose === 'send-as') {
        return failure('sendas.insufficient_scope', `the token${as} may not list send-as addresses`, ctx, { status: h.status, detail });
      }
      return mk('delivery.insufficient_scope', `the token${as} does not allow sending mail`);
    }
    if (/delegation denied/i.test(body.message)) return mk('delivery.delegation_denied', `Gmail denied sending${as} (delegation denied)`);
    if (has('accessNotConfigured', 'SERVICE_DISABLED') || /has not been used in project|api .*is disabled/i.test(body.message)) {
      return mk('delivery.api_disabled', "the Gmail API is not enabled in the service account's Google Cloud project");
    }
    return mk('delivery.gmail_4xx', `Gmail refused the request${as}`);
  }
  if (h.status === 400) {
    if (has('failedPrecondition') || body.status === 'FAILED_PRECONDITION') {
      return mk('delivery.mail_disabled', `Gmail is not enabled for ${ctx.user ?? 'the sending user'}`);
    }
    return mk('delivery.message_rejected', 'Gmail refused the message itself');
  }
  if (h.status === 413 || has('uploadTooLarge')) return mk('delivery.message_too_large', 'the message is larger than Gmail accepts (35 MB)');
  if (h.status === 408) return mk('delivery.timeout', 'Gmail timed out reading the request');
  if (h.status >= 500) return mk('delivery.gmail_5xx', 'Gmail had a server error');
  return mk('delivery.gmail_4xx', `Gmail answered ${h.status}`);
}
