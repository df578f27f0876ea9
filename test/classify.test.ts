import { describe, expect, it } from 'vitest';
import { DeliveryError, type FailureKind } from '../src/errors.js';
import { classify, DAILY_LIMIT_WAIT_MS, DELEGATION_PAGE, retryAfterFromHeader, retryAfterFromText } from '../src/failures/index.js';

const NOW = Date.parse('2026-11-22T09:00:00.000Z');
const ctx = {
  clientId: '112233445566778899001',
  scopes: ['https://www.googleapis.com/auth/gmail.send'],
  user: 'alice@clinic.example',
  now: () => NOW,
};
const TOKEN_URL = 'https://oauth2.googleapis.com/token';
const SEND_URL = 'https://gmail.googleapis.com/upload/gmail/v1/users/me/messages/send?uploadType=media';

/** Shaped like google-auth-library's token error (gtoken rewrites the message). */
function tokenError(status: number, error: string, description: string): Error {
  return Object.assign(new Error(`${error}: ${description}`), {
    status,
    config: { url: new URL(TOKEN_URL) },
    response: { status, data: { error, error_description: description }, headers: new Headers({ date: new Date(NOW).toUTCString() }) },
  });
}
/** Shaped like a GaxiosError from the Gmail API. */
function gmailError(status: number, reason: string, message: string, statusText = '', headers: Record<string, string> = {}): Error {
  return Object.assign(new Error(message), {
    status,
    code: status,
    config: { url: SEND_URL },
    response: {
      status,
      headers: new Headers(headers),
      data: { error: { code: status, message, errors: [{ message, domain: 'global', reason }], status: statusText } },
    },
  });
}
/** Shaped like a GaxiosError wrapping node-fetch's FetchError wrapping a socket error. */
function networkError(code: string, url = SEND_URL, message = `request to ${url} failed, reason: ${code}`, syscall?: string): Error {
  const sys = Object.assign(new Error(code), { code, ...(syscall ? { syscall } : {}) });
  const fetchErr = Object.assign(new Error(message), { name: 'FetchError', code, errno: code, type: 'system', ...(syscall ? { erroredSysCall: syscall } : {}), cause: sys });
  return Object.assign(new Error(message, { cause: fetchErr }), { name: 'GaxiosError', code, config: { url } });
}
/** Shaped like nodemailer's SMTP errors. */
function smtpError(code: string, response?: string, extra: Record<string, unknown> = {}): Error {
  const responseCode = response ? Number(/^\d+/.exec(response)?.[0]) : undefined;
  return Object.assign(new Error(`failed${response ? `: ${response}` : ''}`), { code, response, responseCode, ...extra });
}

function expectKind(err: DeliveryError, code: string, kind: FailureKind): void {
  expect(err).toBeInstanceOf(DeliveryError);
  expect({ code: err.code, kind: err.kind }).toEqual({ code, kind });
}

describe('classify: token endpoint', () => {
  it.each([
    [401, 'unauthorized_client', 'Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.', 'delivery.token.unauthorized_client', 'held'],
    [400, 'access_denied', 'Requested client not authorized.', 'delivery.token.access_denied', 'held'],
    [400, 'admin_policy_enforced', 'Admin policy enforced', 'delivery.token.admin_policy_enforced', 'held'],
    [401, 'disabled_client', 'The OAuth client was disabled.', 'delivery.token.disabled_client', 'held'],
    [401, 'invalid_client', 'The OAuth client was not found.', 'delivery.token.invalid_client', 'held'],
    [400, 'invalid_scope', 'Invalid OAuth scope', 'delivery.token.invalid_scope', 'held'],
    [400, 'invalid_grant', 'Invalid email or User ID', 'delivery.no_such_user', 'permanent'],
    [400, 'invalid_grant', 'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.', 'delivery.clock_skew', 'held'],
    [400, 'invalid_grant', 'Invalid JWT Signature.', 'delivery.token.bad_signature', 'held'],
    [400, 'invalid_grant', 'User account is suspended', 'delivery.user_suspended', 'held'],
    [400, 'invalid_grant', 'Something new', 'delivery.token.invalid_grant', 'held'],
    [503, 'backend_error', 'try later', 'delivery.token.unavailable', 'temporary'],
    [400, 'some_new_error', 'never seen', 'delivery.token.unknown', 'temporary'],
  ] as const)('%i %s (%s) → %s %s', (status, error, description, code, kind) => {
    const d = classify(tokenError(status, error, description), ctx);
    expectKind(d, code, kind);
    expect(d.status).toBe(status);
    if (kind === 'held') expect(d.fix).toBeTruthy();
    expect(d.message).not.toContain(description); // our wording, not Google's
  });

  it('names the client ID, the scope and the Admin console page in the unauthorized_client fix', () => {
    const d = classify(tokenError(401, 'unauthorized_client', 'Client is unauthorized'), ctx);
    expect(d.fix).toBe(
      `authorise client ID 112233445566778899001 for scope https://www.googleapis.com/auth/gmail.send in ${DELEGATION_PAGE} (changes can take up to 24 h to propagate)`,
    );
    expect(DELEGATION_PAGE).toBe('Admin console → Security → Access and data control → API controls → Domain-wide delegation');
  });

  it('names the user that does not exist', () => {
    expect(classify(tokenError(400, 'invalid_grant', 'Invalid email or User ID'), ctx).message).toContain('no such user alice@clinic.example');
  });

  it('treats a token answer without an OAuth body as the token endpoint by its URL', () => {
    const err = Object.assign(new Error('bad gateway'), { config: { url: TOKEN_URL }, response: { status: 502, data: '<html>', headers: {} } });
    expectKind(classify(err, ctx), 'delivery.token.unavailable', 'temporary');
  });
});

describe('classify: Gmail API', () => {
  it.each([
    [500, 'backendError', 'Backend Error', 'delivery.gmail_5xx', 'temporary'],
    [502, '', 'Bad Gateway', 'delivery.gmail_5xx', 'temporary'],
    [503, 'backendError', 'The service is currently unavailable.', 'delivery.gmail_5xx', 'temporary'],
    [401, 'authError', 'Request had invalid authentication credentials.', 'delivery.gmail_unauthenticated', 'temporary'],
    [429, 'rateLimitExceeded', 'Too many concurrent requests for user', 'delivery.rate_limited', 'temporary'],
    [403, 'userRateLimitExceeded', 'User-rate limit exceeded', 'delivery.rate_limited', 'temporary'],
    [403, 'insufficientPermissions', 'Request had insufficient authentication scopes.', 'delivery.insufficient_scope', 'held'],
    [403, 'forbidden', 'Delegation denied for alice@clinic.example', 'delivery.delegation_denied', 'held'],
    [403, 'accessNotConfigured', 'Gmail API has not been used in project 123 before or it is disabled.', 'delivery.api_disabled', 'held'],
    [403, 'forbidden', 'Something else', 'delivery.gmail_4xx', 'temporary'],
    [400, 'failedPrecondition', 'Mail service not enabled', 'delivery.mail_disabled', 'held'],
    [400, 'invalidArgument', 'Invalid To header', 'delivery.message_rejected', 'permanent'],
    [413, 'uploadTooLarge', 'Request Entity Too Large', 'delivery.message_too_large', 'permanent'],
    [404, 'notFound', 'Not Found', 'delivery.gmail_4xx', 'temporary'],
    [408, '', 'Request Timeout', 'delivery.timeout', 'temporary'],
  ] as const)('%i %s → %s %s', (status, reason, message, code, kind) => {
    const d = classify(gmailError(status, reason, message), ctx);
    expectKind(d, code, kind);
    expect(d.status).toBe(status);
    expect(d.outcomeUnknown).toBe(false);
    if (kind === 'held') expect(d.fix).toBeTruthy();
  });

  it('does not copy Google text that can echo header contents', () => {
    const d = classify(gmailError(400, 'invalidArgument', 'Invalid To header: "Jane Roe, DOB 1970-01-01" <jane@clinic.example>'), ctx);
    expect(d.message).not.toMatch(/Jane|DOB/);
    expect(d.message).toContain('400');
    expect(d.message).toContain('invalidArgument');
  });

  it('reads "Retry after <ISO time>" from the message text', () => {
    const d = classify(gmailError(429, 'rateLimitExceeded', 'User-rate limit exceeded.  Retry after 2026-11-22T10:00:00.000Z', 'RESOURCE_EXHAUSTED'), ctx);
    expectKind(d, 'delivery.rate_limited', 'temporary');
    expect(d.retryAfter?.toISOString()).toBe('2026-11-22T10:00:00.000Z');
  });

  it('reads "Retry after <RFC 1123 date>" and a Retry-After header (seconds or date)', () => {
    expect(classify(gmailError(403, 'userRateLimitExceeded', 'Retry after Sun, 22 Nov 2026 10:30:00 GMT'), ctx).retryAfter?.toISOString()).toBe(
      '2026-11-22T10:30:00.000Z',
    );
    expect(classify(gmailError(429, 'rateLimitExceeded', 'slow down', '', { 'retry-after': '120' }), ctx).retryAfter?.getTime()).toBe(NOW + 120_000);
    expect(classify(gmailError(503, 'backendError', 'x', '', { 'retry-after': 'Sun, 22 Nov 2026 09:05:00 GMT' }), ctx).retryAfter?.toISOString()).toBe(
      '2026-11-22T09:05:00.000Z',
    );
  });

  it('ignores a malformed retry time', () => {
    expect(classify(gmailError(429, 'rateLimitExceeded', 'Retry after tomorrow', '', { 'retry-after': 'soon-ish' }), ctx).retryAfter).toBeUndefined();
    expect(retryAfterFromText('Retry after 2026-13-45T99:00:00Z')).toBeUndefined();
    expect(retryAfterFromHeader('-5', NOW)).toBeUndefined();
    expect(retryAfterFromHeader('', NOW)).toBeUndefined();
  });

  it('waits long on a daily limit, at least an hour when Google names no time', () => {
    const d = classify(gmailError(403, 'dailyLimitExceeded', 'Daily Limit Exceeded'), ctx);
    expectKind(d, 'delivery.daily_limit', 'temporary');
    expect(d.retryAfter?.getTime()).toBe(NOW + DAILY_LIMIT_WAIT_MS);
    const stated = classify(gmailError(429, 'rateLimitExceeded', 'Daily user sending limit exceeded. Retry after 2026-11-23T08:00:00Z'), ctx);
    expectKind(stated, 'delivery.daily_limit', 'temporary');
    expect(stated.retryAfter?.toISOString()).toBe('2026-11-23T08:00:00.000Z');
    // a daily limit whose stated time is already past (clock skew) still waits the hour
    const past = classify(gmailError(429, 'rateLimitExceeded', 'Daily user sending limit exceeded. Retry after 2026-11-22T08:00:00Z'), ctx);
    expect(past.retryAfter?.getTime()).toBe(NOW + DAILY_LIMIT_WAIT_MS);
  });

  it('takes the later of a Retry-After header and a time in the text', () => {
    const text = 'User-rate limit exceeded.  Retry after 2026-11-22T10:00:00.000Z';
    expect(classify(gmailError(429, 'rateLimitExceeded', text, '', { 'retry-after': '60' }), ctx).retryAfter?.toISOString()).toBe('2026-11-22T10:00:00.000Z');
    expect(classify(gmailError(429, 'rateLimitExceeded', text, '', { 'retry-after': '7200' }), ctx).retryAfter?.getTime()).toBe(NOW + 7_200_000);
  });

  it('reads a stated time without a zone as UTC, whatever the local time zone', () => {
    expect(retryAfterFromText('Retry after 2026-11-22T10:00')?.toISOString()).toBe('2026-11-22T10:00:00.000Z');
    expect(retryAfterFromText('Retry after 2026-11-22T10:00:00+01:00')?.toISOString()).toBe('2026-11-22T09:00:00.000Z');
  });
});

describe('classify: network', () => {
  it.each([
    ['ECONNREFUSED', SEND_URL, 'delivery.network.refused', false],
    ['ENOTFOUND', SEND_URL, 'delivery.network.dns', false],
    ['EAI_AGAIN', TOKEN_URL, 'delivery.network.dns', false],
    ['EHOSTUNREACH', SEND_URL, 'delivery.network.unreachable', false],
    ['UNABLE_TO_GET_ISSUER_CERT_LOCALLY', SEND_URL, 'delivery.network.tls', false],
    ['ECONNRESET', SEND_URL, 'delivery.network', true],
    ['EPIPE', SEND_URL, 'delivery.network', true],
    ['ECONNRESET', TOKEN_URL, 'delivery.network', false],
    ['ETIMEDOUT', SEND_URL, 'delivery.timeout', true],
  ] as const)('%s on %s → %s, outcome unknown: %s', (code, url, expected, unknown) => {
    const d = classify(networkError(code, url), ctx);
    expectKind(d, expected, 'temporary');
    expect(d.outcomeUnknown).toBe(unknown);
  });

  it.each([
    ['ENOTFOUND', /^this machine cannot resolve gmail\.googleapis\.com: check its DNS servers \(\/etc\/resolv\.conf.*port 53.*HTTPS_PROXY/],
    ['ECONNREFUSED', /^allow outgoing TCP to gmail\.googleapis\.com:443 in the firewall .*HTTPS_PROXY/],
    ['EHOSTUNREACH', /default route.*outgoing TCP to gmail\.googleapis\.com:443/],
    ['SELF_SIGNED_CERT_IN_CHAIN', /exempt gmail\.googleapis\.com from inspection or trust its CA \(NODE_EXTRA_CA_CERTS=/],
    ['ETIMEDOUT', /dropping the connections silently: allow outgoing TCP to gmail\.googleapis\.com:443/],
  ] as const)('%s: the fix names the host of the request and what to change', (code, fix) => {
    const d = classify(networkError(code, SEND_URL), ctx);
    expect(d.fix).toMatch(fix);
  });

  it('names the host the error names when there is no request URL (a name that does not resolve, an address that refuses)', () => {
    const dns = Object.assign(new Error('getaddrinfo ENOTFOUND smtp.gmail.com'), { code: 'ENOTFOUND', syscall: 'getaddrinfo', hostname: 'smtp.gmail.com' });
    expect(classify(dns, {})).toMatchObject({ code: 'delivery.network.dns', message: 'cannot resolve smtp.gmail.com (ENOTFOUND): will retry' });
    const refused = Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:465'), { code: 'ECONNREFUSED', syscall: 'connect', address: '10.0.0.1', port: 465 });
    expect(classify(refused, {}).fix).toMatch(/^allow outgoing TCP to 10\.0\.0\.1:465 in the firewall/);
  });

  it("a proxy's 407 is the proxy's failure, with its fix", () => {
    const err = Object.assign(new Error('Request failed with status code 407'), { name: 'GaxiosError', status: 407, response: { status: 407, data: '', headers: {} }, config: { url: SEND_URL } });
    const d = classify(err, { ...ctx, proxy: 'http://proxy.clinic.example:3128' });
    expectKind(d, 'delivery.network.proxy', 'temporary');
    expect(d.fix).toMatch(/^check HTTPS_PROXY \(http:\/\/proxy\.clinic\.example:3128\): .*allow CONNECT to/);
  });

  it('a connect timeout never carried the message', () => {
    expect(classify(networkError('ETIMEDOUT', SEND_URL, 'connect ETIMEDOUT', 'connect'), ctx).outcomeUnknown).toBe(false);
  });

  it('"socket hang up" without a code is a dropped connection', () => {
    const err = Object.assign(new Error('request failed, reason: socket hang up'), { config: { url: SEND_URL } });
    const d = classify(err, ctx);
    expectKind(d, 'delivery.network', 'temporary');
    expect(d.outcomeUnknown).toBe(true);
  });

  it('tells our own abort from a timeout', () => {
    const abortErr = Object.assign(new Error('The operation was aborted.', { cause: Object.assign(new Error('aborted'), { name: 'AbortError' }) }), {
      config: { url: SEND_URL },
    });
    const controller = new AbortController();
    controller.abort();
    const aborted = classify(abortErr, { ...ctx, signal: controller.signal });
    expectKind(aborted, 'delivery.aborted', 'temporary');
    expect(aborted.outcomeUnknown).toBe(true);
    expectKind(classify(abortErr, { ...ctx, signal: new AbortController().signal }), 'delivery.timeout', 'temporary');
    expectKind(classify(new DOMException('The operation timed out.', 'TimeoutError'), ctx), 'delivery.timeout', 'temporary');
  });
});

describe('classify: SMTP upstream', () => {
  it.each([
    ['EAUTH', '535-5.7.8 Username and Password not accepted.', 'delivery.smtp.auth', 'held'],
    ['EAUTH', '534-5.7.9 Application-specific password required.', 'delivery.smtp.auth', 'held'],
    ['EAUTH', undefined, 'delivery.smtp.auth', 'held'],
    // Gmail's "slow down" for an account: the account is paused, not just the message retried
    ['EAUTH', '454 4.7.0 Too many login attempts, please try again later.', 'delivery.rate_limited', 'temporary'],
    ['ECONNECTION', '421 4.7.0 Try again later, closing connection.', 'delivery.rate_limited', 'temporary'],
    ['ECONNECTION', '421 Service not available', 'delivery.smtp.temporary', 'temporary'],
    ['EENVELOPE', '452 4.5.3 Your message has too many recipients.', 'delivery.smtp.temporary', 'temporary'],
    ['EMESSAGE', '451 4.3.0 Mail server temporarily rejected message.', 'delivery.smtp.temporary', 'temporary'],
    ['EENVELOPE', '550 5.1.1 The email account that you tried to reach does not exist.', 'delivery.smtp.rejected', 'permanent'],
    ['EMESSAGE', '554 5.7.0 Message rejected', 'delivery.smtp.rejected', 'permanent'],
    ['EMESSAGE', '552 5.3.4 Message size exceeds fixed limit', 'delivery.message_too_large', 'permanent'],
    ['EMESSAGE', '550 5.4.5 Daily user sending limit exceeded.', 'delivery.daily_limit', 'temporary'],
    ['EPROTOCOL', '503 5.5.1 Bad sequence of commands', 'delivery.smtp.temporary', 'temporary'],
    ['ETIMEDOUT', undefined, 'delivery.timeout', 'temporary'],
    ['EPROTOCOL', undefined, 'delivery.unknown', 'temporary'],
  ] as const)('%s %s → %s %s', (code, response, expected, kind) => {
    const d = classify(smtpError(code, response), { user: 'front@clinic.example', transport: 'smtp', now: () => NOW });
    expectKind(d, expected, kind);
    if (response) {
      expect(d.status).toBe(Number(response.slice(0, 3)));
      expect(d.message).not.toContain(response.slice(10)); // the server's text is not copied
    }
  });

  it('names the app password in the fix for a refused login', () => {
    expect(classify(smtpError('EAUTH', '535-5.7.8 Username and Password not accepted.'), { user: 'front@clinic.example' }).fix).toMatch(
      /app password for front@clinic\.example/,
    );
  });

  it('a refused connection never carried the message; a drop during DATA may have', () => {
    const refused = classify(smtpError('ESOCKET', undefined, { originalCode: 'ECONNREFUSED', command: 'CONN' }), { transport: 'smtp' });
    expectKind(refused, 'delivery.network.refused', 'temporary');
    expect(refused.outcomeUnknown).toBe(false);
    const dropped = classify(smtpError('ECONNECTION', undefined, { command: 'DATA', originalCode: 'ECONNRESET' }), { transport: 'smtp' });
    expectKind(dropped, 'delivery.network', 'temporary');
    expect(dropped.outcomeUnknown).toBe(true);
  });
});

describe('classify: anything else', () => {
  it('is temporary, and a DeliveryError passes through as it is', () => {
    expectKind(classify(new TypeError('something odd')), 'delivery.unknown', 'temporary');
    expectKind(classify('a string'), 'delivery.unknown', 'temporary');
    expectKind(classify(undefined), 'delivery.unknown', 'temporary');
    const held = new DeliveryError('delivery.no_workspace', 'held', 'x');
    expect(classify(held)).toBe(held);
  });
});
