/**
 * The one place that turns a failure on the way out into a DeliveryError: temporary (retry on
 * the schedule), held (an admin must fix something; keep the mail) or permanent (to dead/).
 * Unknown means temporary. Google's own error text is read but not copied into our messages
 * (it can echo header contents such as display names): messages carry the status, the reason
 * code and our own wording. The original error is not kept as `cause` either: a GaxiosError
 * holds the request (the message bytes and the bearer token).
 *
 * Sources: the token endpoint (google-auth-library: message "<error>: <error_description>",
 * response.data {error, error_description}), the Gmail API (GaxiosError, response.data.error
 * {code, message, errors[].reason, status}), network errors (node-fetch / node:net codes,
 * AbortError, TimeoutError) and nodemailer errors from the SMTP upstream (see classify-smtp.ts).
 */
import { DeliveryError } from '../errors.js';
import { DAILY_LIMIT_WAIT_MS, DELEGATION_PAGE, type ClassifyContext } from './classify-context.js';
import { classifyNetwork } from './classify-network.js';
import { classifySmtp, isSmtpError } from './classify-smtp.js';
import { headerValue, retryAfterFromHeader, retryAfterFromText } from './retry-after.js';

export { DAILY_LIMIT_WAIT_MS, DELEGATION_PAGE, type ClassifyContext } from './classify-context.js';

export function classify(err: unknown, ctx: ClassifyContext = {}): DeliveryError {
  if (err instanceof DeliveryError) return err;
  const http = httpFailure(err);
  if (http?.endpoint === 'token') return classifyToken(http, ctx);
  if (http) return classifyGmail(http, ctx);
  if (isSmtpError(err) || (ctx.transport === 'smtp' && err && typeof err === 'object')) return classifySmtp(err, ctx);
  const net = classifyNetwork(err, ctx, requestEndpoint(err) !== 'token');
  if (net) return net;
  return new DeliveryError('delivery.unknown', 'temporary', `unrecognised failure (${describeUnknown(err)}): will retry`);
}

interface HttpFailure {
  endpoint: 'token' | 'gmail';
  status: number;
  data: unknown;
  headers: unknown;
}

function httpFailure(err: unknown): HttpFailure | undefined {
  if (!err || typeof err !== 'object') return undefined;
  const res = (err as { response?: unknown }).response;
  if (!res || typeof res !== 'object') return undefined;
  const { status, data, headers } = res as { status?: unknown; data?: unknown; headers?: unknown };
  if (typeof status !== 'number') return undefined;
  const oauthBody = !!data && typeof data === 'object' && typeof (data as { error?: unknown }).error === 'string';
  const endpoint = requestEndpoint(err) ?? (oauthBody ? 'token' : 'gmail');
  return { endpoint, status, data, headers };
}

/** Which Google endpoint a gaxios error came from, by the request URL. */
function requestEndpoint(err: unknown): 'token' | 'gmail' | undefined {
  const url = (err as { config?: { url?: unknown } } | undefined)?.config?.url;
  let parsed: URL;
  if (url instanceof URL) parsed = url;
  else if (typeof url === 'string' && URL.canParse(url)) parsed = new URL(url);
  else return undefined;
  if (parsed.pathname.includes('/gmail/v1/')) return 'gmail';
  if (parsed.hostname === 'oauth2.googleapis.com' || /\/token$/.test(parsed.pathname)) return 'token';
  return undefined;
}

function classifyToken(h: HttpFailure, ctx: ClassifyContext): DeliveryError {
  const data = (h.data ?? {}) as { error?: unknown; error_description?: unknown };
  const error = typeof data.error === 'string' ? data.error : '';
  const description = typeof data.error_description === 'string' ? data.error_description : '';
  const who = ctx.user ? ` as ${ctx.user}` : '';
  const clientId = ctx.clientId ?? '<client ID>';
  const scopes = (ctx.scopes ?? []).join(',') || '<scopes>';
  const delegationFix = `authorise client ID ${clientId} for scope ${scopes} in ${DELEGATION_PAGE} (changes can take up to 24 h to propagate)`;
  const held = (code: string, message: string, fix: string) =>
    new DeliveryError(code, 'held', message, { fix, status: h.status });
  const base = `Google refused a token${who}`;
  if (h.status >= 500 || h.status === 429 || !error) {
    const retryAfter = retryAfterFromHeader(headerValue(h.headers, 'retry-after'), (ctx.now ?? Date.now)());
    return new DeliveryError('delivery.token.unavailable', 'temporary', `the token endpoint answered ${h.status}: will retry`, {
      status: h.status,
      retryAfter,
    });
  }
  switch (error) {
    case 'unauthorized_client':
      return held(
        'delivery.token.unauthorized_client',
        `${base} (unauthorized_client): client ID ${clientId} is not authorised for ${scopes} by domain-wide delegation`,
        delegationFix,
      );
    case 'access_denied':
      return held(
        'delivery.token.access_denied',
        `${base} (access_denied)`,
        `${delegationFix}; and check that API access is not restricted for ${ctx.user ?? 'the user'}'s organisational unit (Admin console → Security → Access and data control → API controls)`,
      );
    case 'admin_policy_enforced':
      return held(
        'delivery.token.admin_policy_enforced',
        `${base} (admin_policy_enforced): a Workspace policy blocks this service account for the user`,
        `in Admin console → Security → Access and data control → API controls → App access control, mark the service account (client ID ${clientId}) as trusted or allow the Gmail API for ${ctx.user ?? 'the user'}'s organisational unit`,
      );
    case 'disabled_client':
      return held(
        'delivery.token.disabled_client',
        `${base} (disabled_client): the service account or its key is disabled`,
        'enable the service account (Google Cloud console → IAM & Admin → Service accounts) or create a new JSON key',
      );
    case 'invalid_client':
      return held(
        'delivery.token.invalid_client',
        `${base} (invalid_client): Google does not know this service account or key`,
        'the service account or key was deleted: create a new JSON key (IAM & Admin → Service accounts → Keys → Add key → JSON) and point gmailApi.serviceAccountKeyFile at it',
      );
    case 'invalid_scope':
      return held('delivery.token.invalid_scope', `${base} (invalid_scope): a configured scope is not valid`, `set gmailApi.scopes to https://www.googleapis.com/auth/gmail.send`);
    case 'invalid_grant':
      return classifyInvalidGrant(description, h.status, ctx, base);
    default:
      return new DeliveryError('delivery.token.unknown', 'temporary', `${base} (${error}): will retry`, { status: h.status });
  }
}

function classifyInvalidGrant(description: string, status: number, ctx: ClassifyContext, base: string): DeliveryError {
  const user = ctx.user ?? 'the sending user';
  if (/invalid email or user id|not a valid email/i.test(description)) {
    return new DeliveryError('delivery.no_such_user', 'permanent', `no such user ${user} in the Workspace (invalid_grant)`, {
      status,
      fix: `check the sending user (senders.map / senders.default): ${user} must be a real user with Gmail, not a group or an alias`,
    });
  }
  if (/suspend/i.test(description)) {
    return new DeliveryError('delivery.user_suspended', 'held', `${user} is suspended (invalid_grant)`, {
      status,
      fix: `restore ${user} in Admin console → Directory → Users, or send as another user (senders.map)`,
    });
  }
  if (/timeframe|\biat\b|\bexp\b|clock/i.test(description)) {
    return new DeliveryError('delivery.clock_skew', 'held', `${base} (invalid_grant): the JWT's time is off: the system clock is wrong`, {
      status,
      fix: 'check the system clock (enable NTP, e.g. `timedatectl set-ntp true`)',
    });
  }
  if (/signature/i.test(description)) {
    return new DeliveryError('delivery.token.bad_signature', 'held', `${base} (invalid_grant): Google does not accept the key's signature`, {
      status,
      fix: 'the key was deleted or belongs to another service account: create a new JSON key (IAM & Admin → Service accounts → Keys) and point gmailApi.serviceAccountKeyFile at it',
    });
  }
  return new DeliveryError('delivery.token.invalid_grant', 'held', `${base} (invalid_grant)`, {
    status,
    fix: 'check the service-account key file (create a new JSON key) and the system clock (NTP)',
  });
}

interface GmailErrorBody {
  message: string;
  status: string;
  reasons: string[];
}

function gmailErrorBody(data: unknown): GmailErrorBody {
  const e = (data as { error?: unknown } | undefined)?.error;
  if (!e || typeof e !== 'object') return { message: typeof data === 'string' ? data : '', status: '', reasons: [] };
  const o = e as { message?: unknown; status?: unknown; errors?: unknown; details?: unknown };
  const reasons: string[] = [];
  for (const list of [o.errors, o.details]) {
    if (!Array.isArray(list)) continue;
    for (const item of list) {
      const r = (item as { reason?: unknown } | null)?.reason;
      if (typeof r === 'string') reasons.push(r);
    }
  }
  return { message: typeof o.message === 'string' ? o.message : '', status: typeof o.status === 'string' ? o.status : '', reasons };
}

function classifyGmail(h: HttpFailure, ctx: ClassifyContext): DeliveryError {
  const body = gmailErrorBody(h.data);
  const has = (...r: string[]) => body.reasons.some((x) => r.includes(x));
  const now = (ctx.now ?? Date.now)();
  // Both may be there: the later one is the one that holds.
  const retryAfter = laterOf(retryAfterFromHeader(headerValue(h.headers, 'retry-after'), now), retryAfterFromText(body.message));
  const detail = [h.status, body.status, ...new Set(body.reasons)].filter(Boolean).join(' ');
  const as = ctx.user ? ` as ${ctx.user}` : '';
  const mk = (code: string, kind: 'temporary' | 'held' | 'permanent', text: string, fix?: string, after = retryAfter) =>
    new DeliveryError(code, kind, `${text} (Gmail: ${detail})`, { status: h.status, fix, retryAfter: kind === 'temporary' ? after : undefined });

  const daily = has('dailyLimitExceeded', 'quotaExceeded') || /daily|sending limit|sending quota/i.test(body.message);
  if (h.status === 429 || (h.status === 403 && has('rateLimitExceeded', 'userRateLimitExceeded', 'dailyLimitExceeded', 'quotaExceeded', 'RATE_LIMIT_EXCEEDED'))) {
    if (daily) {
      // A daily limit stated as already over (clock skew) still waits the hour, not the short backoff.
      const until = retryAfter && retryAfter.getTime() > now ? retryAfter : new Date(now + DAILY_LIMIT_WAIT_MS);
      return mk('delivery.daily_limit', 'temporary', `Gmail's sending limit${as} is reached: will retry later`, undefined, until);
    }
    return mk('delivery.rate_limited', 'temporary', `Gmail asks to slow down${as}: will retry`);
  }
  if (h.status === 401) {
    return mk('delivery.gmail_unauthenticated', 'temporary', `Gmail did not accept the access token${as}, even a new one: will retry`);
  }
  if (h.status === 403) {
    if (has('insufficientPermissions', 'ACCESS_TOKEN_SCOPE_INSUFFICIENT') || /insufficient authentication scopes/i.test(body.message)) {
      return mk('delivery.insufficient_scope', 'held', `the token${as} does not allow sending mail`, `include https://www.googleapis.com/auth/gmail.send in gmailApi.scopes and authorise it for client ID ${ctx.clientId ?? '<client ID>'} in ${DELEGATION_PAGE}`);
    }
    if (/delegation denied/i.test(body.message)) {
      return mk('delivery.delegation_denied', 'held', `Gmail denied sending${as} (delegation denied)`, `check that ${ctx.user ?? 'the sending user'} is a user (not a group or an alias) and that client ID ${ctx.clientId ?? '<client ID>'} is authorised in ${DELEGATION_PAGE}`);
    }
    if (has('accessNotConfigured', 'SERVICE_DISABLED') || /has not been used in project|api .*is disabled/i.test(body.message)) {
      return mk('delivery.api_disabled', 'held', 'the Gmail API is not enabled in the service account\'s Google Cloud project', 'enable it: Google Cloud console → APIs & Services → Library → Gmail API → Enable');
    }
    return mk('delivery.gmail_4xx', 'temporary', `Gmail refused the request${as}: will retry`);
  }
  if (h.status === 400) {
    if (has('failedPrecondition') || body.status === 'FAILED_PRECONDITION') {
      return mk('delivery.mail_disabled', 'held', `Gmail is not enabled for ${ctx.user ?? 'the sending user'}`, `turn Gmail on for ${ctx.user ?? 'the user'} (Admin console → Apps → Google Workspace → Gmail → Service status) and check the user has a licence with Gmail`);
    }
    return mk('delivery.message_rejected', 'permanent', 'Gmail refused the message itself');
  }
  if (h.status === 413 || has('uploadTooLarge')) {
    return mk('delivery.message_too_large', 'permanent', 'the message is larger than Gmail accepts (35 MB)');
  }
  if (h.status === 408) return mk('delivery.timeout', 'temporary', 'Gmail timed out reading the request: will retry');
  if (h.status >= 500) return mk('delivery.gmail_5xx', 'temporary', `Gmail had a server error: will retry`);
  return mk('delivery.gmail_4xx', 'temporary', `Gmail answered ${h.status}: will retry`);
}

function describeUnknown(err: unknown): string {
  if (!(err instanceof Error)) return typeof err;
  // Name and code only: an unrecognised error's text may quote what the upstream echoed (headers).
  const code = (err as { code?: unknown }).code;
  return [err.name, typeof code === 'string' || typeof code === 'number' ? code : ''].filter(Boolean).join(' ');
}

function laterOf(a: Date | undefined, b: Date | undefined): Date | undefined {
  if (!a) return b;
  if (!b) return a;
  return a.getTime() >= b.getTime() ? a : b;
}
