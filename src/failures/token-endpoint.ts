/**
 * The token endpoint's answers (google-auth-library: message "<error>: <error_description>",
 * response.data {error, error_description}). Read the description, not only the code:
 * `invalid_grant` means no such user, a suspended user, a wrong clock or a bad key.
 */
import type { DeliveryError } from '../errors.js';
import type { HttpAnswer } from './answer.js';
import { tokenBody } from './answer.js';
import type { ClassifyContext } from './context.js';
import { failure } from './failure.js';
import { headerValue, retryAfterFromHeader } from './retry-after.js';

export function classifyToken(h: HttpAnswer, ctx: ClassifyContext): DeliveryError {
  const { error, description } = tokenBody(h.data);
  const who = ctx.user ? ` as ${ctx.user}` : '';
  const base = `Google refused a token${who}`;
  const detail = [h.status, error].filter(Boolean).join(' ');
  const held = (code: Parameters<typeof failure>[0], statement: string) => failure(code, statement, ctx, { status: h.status, detail });
  if (h.status >= 500 || h.status === 429 || !error) {
    const retryAfter = retryAfterFromHeader(headerValue(h.headers, 'retry-after'), (ctx.now ?? Date.now)());
    return failure('delivery.token.unavailable', `the token endpoint answered ${h.status}`, ctx, { status: h.status, detail, retryAfter });
  }
  switch (error) {
    case 'unauthorized_client':
      if (ctx.automaticScopes) {
        return held('delivery.token.no_send_scope', `${base} (unauthorized_client): client ID ${ctx.clientId ?? '<client ID>'} is authorised neither for gmail.send nor for https://mail.google.com/`);
      }
      return held(
        'delivery.token.unauthorized_client',
        `${base} (unauthorized_client): client ID ${ctx.clientId ?? '<client ID>'} is not authorised for ${(ctx.scopes ?? []).join(',') || '<scopes>'} by domain-wide delegation`,
      );
    case 'access_denied':
      return held('delivery.token.access_denied', `${base} (access_denied)`);
    case 'admin_policy_enforced':
      return held('delivery.token.admin_policy_enforced', `${base} (admin_policy_enforced): a Workspace policy blocks this service account for the user`);
    case 'disabled_client':
      return held('delivery.token.disabled_client', `${base} (disabled_client): the service account or its key is disabled`);
    case 'invalid_client':
      return held('delivery.token.invalid_client', `${base} (invalid_client): Google does not know this service account or key`);
    case 'invalid_scope':
      return held('delivery.token.invalid_scope', `${base} (invalid_scope): a configured scope is not valid`);
    case 'invalid_grant':
      return invalidGrant(h, description, ctx, base, detail);
    default:
      return failure('delivery.token.unknown', `${base} (${error})`, ctx, { status: h.status, detail });
  }
}

function invalidGrant(h: HttpAnswer, description: string, ctx: ClassifyContext, base: string, detail: string): DeliveryError {
  const user = ctx.user ?? 'the sending user';
  const facts = { status: h.status, detail };
  if (/invalid email or user id|not a valid email/i.test(description)) {
    return failure('delivery.no_such_user', `no such user ${user} in the Workspace (invalid_grant)`, ctx, facts);
  }
  if (/suspend/i.test(description)) {
    return failure('delivery.user_suspended', `${user} is suspended (invalid_grant)`, ctx, facts);
  }
  if (/timeframe|\biat\b|\bexp\b|clock/i.test(description)) {
    const clockOffsetSeconds = clockOffset(h.headers, (ctx.now ?? Date.now)());
    return failure('delivery.clock_skew', `${base} (invalid_grant): the JWT's time is off: the system clock is wrong`, ctx, { ...facts, clockOffsetSeconds });
  }
  if (/signature/i.test(description)) {
    return failure('delivery.token.bad_signature', `${base} (invalid_grant): Google does not accept the key's signature`, ctx, facts);
  }
  return failure('delivery.token.invalid_grant', `${base} (invalid_grant)`, ctx, facts);
}

/** Google's clock minus ours, in whole seconds, from the answer's Date header. Positive: we are behind. */
function clockOffset(headers: unknown, now: number): number | undefined {
  const date = headerValue(headers, 'date');
  if (!date) return undefined;
  const google = Date.parse(date);
  if (!Number.isFinite(google)) return undefined;
  return Math.round((google - now) / 1000);
}
