/**
 * Google's answers, one per line, and the classification each gets (the rules exercised on
 * their own, like ZoneMTA's bounce rules), through `workspace-relay explain-error`'s reader and
 * the same classify() that delivery uses; then the command itself.
 */
import { describe, expect, it } from 'vitest';
import { explainAnswer, renderCodeTable, type ExplainOptions, type FailureCode } from '../src/failures/index.js';
import type { FailureKind } from '../src/errors.js';
import { runCli } from './support/daemon.js';

const NOW = Date.parse('2026-11-22T09:00:00.000Z');
const SEND = 'https://www.googleapis.com/auth/gmail.send';
const base: ExplainOptions = { user: 'alice@clinic.example', clientId: '112233', scopes: [SEND], now: () => NOW };

const gmail = (status: number, reason: string, message: string, canonical = '') =>
  `${status} ${JSON.stringify({ error: { code: status, message, errors: [{ message, domain: 'global', reason }], status: canonical } })}`;

interface Expected {
  code: FailureCode;
  kind: FailureKind;
  /** Failure and delay notice statuses. */
  notice?: [string, string];
  fix?: RegExp;
  retryAfter?: string;
  outcomeUnknown?: boolean;
}

const TABLE: Array<[answer: string, options: ExplainOptions, expected: Expected]> = [
  // The token endpoint
  ['unauthorized_client: Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.', { status: 401 }, { code: 'delivery.token.unauthorized_client', kind: 'held', notice: ['5.7.0', '4.7.0'], fix: /^authorise client ID 112233 for scope https:\/\/www\.googleapis\.com\/auth\/gmail\.send in Admin console/ }],
  ['access_denied: Requested client not authorized.', {}, { code: 'delivery.token.access_denied', kind: 'held', fix: /not restricted for alice@clinic\.example's organisational unit/ }],
  ['admin_policy_enforced: Admin policy enforced', {}, { code: 'delivery.token.admin_policy_enforced', kind: 'held', fix: /App access control.*client ID 112233/ }],
  ['disabled_client: The OAuth client was disabled.', { status: 401 }, { code: 'delivery.token.disabled_client', kind: 'held', fix: /enable the service account/ }],
  ['invalid_client: The OAuth client was not found.', { status: 401 }, { code: 'delivery.token.invalid_client', kind: 'held', fix: /create a new JSON key/ }],
  ['invalid_scope: Invalid OAuth scope', {}, { code: 'delivery.token.invalid_scope', kind: 'held', fix: /gmailApi\.scopes/ }],
  // No gmailApi.scopes: the relay asked for gmail.send, then https://mail.google.com/, and Google refused both
  ['unauthorized_client: Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.', { status: 401, automaticScopes: true }, { code: 'delivery.token.no_send_scope', kind: 'held', notice: ['5.7.0', '4.7.0'], fix: /^authorise client ID 112233 for scope https:\/\/www\.googleapis\.com\/auth\/gmail\.send in Admin console.*https:\/\/mail\.google\.com\/, which many set-up guides name, also works/ }],
  ['invalid_grant: Invalid email or User ID', {}, { code: 'delivery.no_such_user', kind: 'permanent', notice: ['5.1.8', '4.1.8'], fix: /alice@clinic\.example must be a real user/ }],
  ['invalid_grant: Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.', {}, { code: 'delivery.clock_skew', kind: 'held', notice: ['5.3.5', '4.3.5'], fix: /NTP/ }],
  ['invalid_grant: Invalid JWT Signature.', {}, { code: 'delivery.token.bad_signature', kind: 'held', fix: /new JSON key/ }],
  ['invalid_grant: User account is suspended', {}, { code: 'delivery.user_suspended', kind: 'held', fix: /restore alice@clinic\.example/ }],
  ['invalid_grant: Something new', {}, { code: 'delivery.token.invalid_grant', kind: 'held' }],
  ['503 {"error":"backend_error","error_description":"try later"}', {}, { code: 'delivery.token.unavailable', kind: 'temporary', notice: ['5.7.0', '4.7.0'] }],
  ['502', { as: 'token', retryAfterHeader: '30' }, { code: 'delivery.token.unavailable', kind: 'temporary', retryAfter: '2026-11-22T09:00:30.000Z' }],
  ['some_new_error: never seen', {}, { code: 'delivery.token.unknown', kind: 'temporary' }],
  // The Gmail API
  [gmail(500, 'backendError', 'Backend Error'), {}, { code: 'delivery.gmail_5xx', kind: 'temporary', notice: ['5.0.0', '4.4.0'], outcomeUnknown: false }],
  ['{"error":{"code":503,"message":"The service is currently unavailable.","status":"UNAVAILABLE"}}', {}, { code: 'delivery.gmail_5xx', kind: 'temporary' }],
  [gmail(401, 'authError', 'Request had invalid authentication credentials.'), {}, { code: 'delivery.gmail_unauthenticated', kind: 'temporary' }],
  [gmail(429, 'rateLimitExceeded', 'User-rate limit exceeded.  Retry after 2026-11-22T10:00:00.000Z', 'RESOURCE_EXHAUSTED'), {}, { code: 'delivery.rate_limited', kind: 'temporary', notice: ['5.7.0', '4.7.0'], retryAfter: '2026-11-22T10:00:00.000Z' }],
  [gmail(429, 'rateLimitExceeded', 'Too many concurrent requests for user'), { retryAfterHeader: '120' }, { code: 'delivery.rate_limited', kind: 'temporary', retryAfter: '2026-11-22T09:02:00.000Z' }],
  [gmail(403, 'userRateLimitExceeded', 'User-rate limit exceeded'), {}, { code: 'delivery.rate_limited', kind: 'temporary' }],
  [gmail(403, 'dailyLimitExceeded', 'Daily Limit Exceeded'), {}, { code: 'delivery.daily_limit', kind: 'temporary', retryAfter: '2026-11-22T10:00:00.000Z' }],
  [gmail(403, 'insufficientPermissions', 'Request had insufficient authentication scopes.', 'PERMISSION_DENIED'), {}, { code: 'delivery.insufficient_scope', kind: 'held', fix: /include https:\/\/www\.googleapis\.com\/auth\/gmail\.send in gmailApi\.scopes and authorise it for client ID 112233/ }],
  [gmail(403, 'forbidden', 'Delegation denied for alice@clinic.example'), {}, { code: 'delivery.delegation_denied', kind: 'held', fix: /alice@clinic\.example is a user/ }],
  [gmail(403, 'accessNotConfigured', 'Gmail API has not been used in project 123 before or it is disabled.'), {}, { code: 'delivery.api_disabled', kind: 'held', notice: ['5.3.5', '4.3.5'], fix: /Gmail API → Enable/ }],
  [gmail(403, 'forbidden', 'Something else'), {}, { code: 'delivery.gmail_4xx', kind: 'temporary' }],
  [gmail(400, 'failedPrecondition', 'Mail service not enabled', 'FAILED_PRECONDITION'), {}, { code: 'delivery.mail_disabled', kind: 'held', notice: ['5.7.0', '4.7.0'], fix: /turn Gmail on for alice@clinic\.example/ }],
  [gmail(400, 'invalidArgument', 'Invalid To header: "Jane Roe, DOB 1970-01-01" <jane@clinic.example>', 'INVALID_ARGUMENT'), {}, { code: 'delivery.message_rejected', kind: 'permanent', notice: ['5.6.0', '4.6.0'] }],
  [gmail(413, 'uploadTooLarge', 'Request Entity Too Large'), {}, { code: 'delivery.message_too_large', kind: 'permanent', notice: ['5.3.4', '4.3.4'] }],
  [gmail(404, 'notFound', 'Not Found'), {}, { code: 'delivery.gmail_4xx', kind: 'temporary' }],
  ['408', {}, { code: 'delivery.timeout', kind: 'temporary' }],
  // Gmail SMTP
  ['535-5.7.8 Username and Password not accepted. For more information, go to https://support.google.com/mail/?p=BadCredentials', {}, { code: 'delivery.smtp.auth', kind: 'held', notice: ['5.7.0', '4.7.0'], fix: /new app password for alice@clinic\.example/ }],
  ['534-5.7.9 Application-specific password required.', {}, { code: 'delivery.smtp.auth', kind: 'held' }],
  ['550 5.4.5 Daily user sending limit exceeded.', {}, { code: 'delivery.daily_limit', kind: 'temporary', retryAfter: '2026-11-22T10:00:00.000Z' }],
  ['421 4.7.0 Try again later, closing connection.', {}, { code: 'delivery.rate_limited', kind: 'temporary' }],
  ['454 4.7.0 Too many login attempts, please try again later.', {}, { code: 'delivery.rate_limited', kind: 'temporary' }],
  ['452 4.5.3 Your message has too many recipients.', {}, { code: 'delivery.smtp.temporary', kind: 'temporary' }],
  ['421', { as: 'smtp' }, { code: 'delivery.smtp.temporary', kind: 'temporary' }],
  ['503 5.5.1 Bad sequence of commands', {}, { code: 'delivery.smtp.temporary', kind: 'temporary' }],
  ['550 5.1.1 The email account that you tried to reach does not exist.', {}, { code: 'delivery.smtp.rejected', kind: 'permanent', notice: ['5.0.0', '4.4.0'] }],
  ['552 5.3.4 Message size exceeds fixed limit', {}, { code: 'delivery.message_too_large', kind: 'permanent' }],
  ['EAUTH', {}, { code: 'delivery.smtp.auth', kind: 'held' }],
  // Gmail SMTP with XOAUTH2: the login refused even with a new token
  ['535-5.7.8 Username and Password not accepted. For more information, go to https://support.google.com/mail/?p=BadCredentials', { as: 'gmail-xoauth2' }, { code: 'delivery.xoauth2.refused', kind: 'held', notice: ['5.7.0', '4.7.0'], fix: /^authorise client ID 112233 for scope https:\/\/mail\.google\.com\/ .*Gmail is on for alice@clinic\.example/ }],
  ['EAUTH', { as: 'gmail-xoauth2' }, { code: 'delivery.xoauth2.refused', kind: 'held' }],
  ['421 4.7.0 Try again later, closing connection.', { as: 'gmail-xoauth2' }, { code: 'delivery.rate_limited', kind: 'temporary' }],
  // Google's SMTP relay service
  ['550 5.4.5 Daily SMTP relay limit exceeded for user. For more information on SMTP relay sending limits please visit https://support.google.com/a/answer/166852', { as: 'smtp-relay' }, { code: 'delivery.relay.daily_limit', kind: 'temporary', notice: ['5.7.0', '4.7.0'], retryAfter: '2026-11-23T00:00:00.000Z' }],
  ['450 4.2.1 Peak SMTP relay limit exceeded for customer. For more information on SMTP relay sending limits please visit https://support.google.com/a/answer/166852', { as: 'smtp-relay' }, { code: 'delivery.relay.peak_limit', kind: 'temporary' }],
  ["550 5.7.0 Mail relay denied [203.0.113.9]. Invalid credentials for relay for one of the domains in: clinic.example (as obtained from HELO and MAIL FROM).", { as: 'smtp-relay' }, { code: 'delivery.relay.denied', kind: 'held', fix: /Admin console → Apps → Google Workspace → Gmail → Routing → SMTP relay service, allow this relay's public IP address/ }],
  ["550 5.7.1 Invalid credentials for relay [203.0.113.9]. The IP address you've registered in your G Suite SMTP Relay service doesn't match domain of the account this email is being sent from.", { as: 'smtp-relay' }, { code: 'delivery.relay.denied', kind: 'held' }],
  ['550 5.1.1 The email account that you tried to reach does not exist.', { as: 'smtp-relay' }, { code: 'delivery.smtp.rejected', kind: 'permanent' }],
  ['535 5.7.8 Username and Password not accepted.', { as: 'smtp-relay' }, { code: 'delivery.smtp.auth', kind: 'held' }],
  // The network: did the request carry the message?
  ['ECONNREFUSED', {}, { code: 'delivery.network.refused', kind: 'temporary', outcomeUnknown: false, fix: /^allow outgoing TCP to .* in the firewall/ }],
  ['ENOTFOUND', {}, { code: 'delivery.network.dns', kind: 'temporary', outcomeUnknown: false, fix: /cannot resolve .*DNS servers/ }],
  ['ECONNRESET', {}, { code: 'delivery.network', kind: 'temporary', outcomeUnknown: true }],
  ['ETIMEDOUT', {}, { code: 'delivery.timeout', kind: 'temporary', outcomeUnknown: true }],
  // The settings calls
  [gmail(403, 'insufficientPermissions', 'Request had insufficient authentication scopes.'), { purpose: 'send-as' }, { code: 'sendas.insufficient_scope', kind: 'held', fix: /gmail\.settings\.basic.*verifySendAs/ }],
  ['unauthorized_client: Client is unauthorized', { purpose: 'smime', scopes: ['s1', 's2'] }, { code: 'smime.delegation', kind: 'held', fix: /^authorise client ID 112233 for s1,s2 in Admin console.*; changes can take up to 24 h$/ }],
  ['access_denied: Requested client not authorized.', { purpose: 'smime', clientId: undefined }, { code: 'smime.delegation', kind: 'held', fix: /^authorise the S\/MIME service account for / }],
  ['invalid_grant: Invalid email or User ID', { purpose: 'smime' }, { code: 'smime.no_such_user', kind: 'permanent' }],
  ['invalid_grant: Invalid JWT Signature.', { purpose: 'smime' }, { code: 'smime.key', kind: 'held', fix: /key was refused/ }],
  ['disabled_client: The OAuth client was disabled.', { purpose: 'smime' }, { code: 'smime.google', kind: 'temporary' }],
  [gmail(403, 'insufficientPermissions', 'Request had insufficient authentication scopes.'), { purpose: 'smime' }, { code: 'smime.scope', kind: 'held', fix: /gmail\.settings\.sharing for other aliases/ }],
  [gmail(404, 'notFound', 'Requested entity was not found.'), { purpose: 'smime' }, { code: 'smime.not_found', kind: 'permanent' }],
  [gmail(400, 'invalidArgument', 'Certificate has expired.'), { purpose: 'smime' }, { code: 'smime.google_expired', kind: 'permanent', fix: /renew it with the CA/ }],
  [gmail(400, 'invalidArgument', 'Certificate is not issued by a trusted root certificate authority.'), { purpose: 'smime' }, { code: 'smime.google_untrusted', kind: 'permanent' }],
  [gmail(400, 'invalidArgument', "Certificate's subject does not match the send-as address."), { purpose: 'smime' }, { code: 'smime.google_mismatch', kind: 'permanent' }],
  [gmail(400, 'invalidArgument', 'Wrong password: cannot decrypt the PKCS#12.'), { purpose: 'smime' }, { code: 'smime.google_password', kind: 'permanent' }],
  [gmail(400, 'failedPrecondition', 'S/MIME is not enabled for this user.'), { purpose: 'smime' }, { code: 'smime.disabled', kind: 'held', fix: /turn on hosted S\/MIME/ }],
  [gmail(503, 'backendError', 'The service is currently unavailable.'), { purpose: 'smime' }, { code: 'smime.google', kind: 'temporary' }],
  // a "slow down" to an S/MIME call keeps Google's time: the command waits for it and tries again
  [gmail(429, 'rateLimitExceeded', 'User-rate limit exceeded.  Retry after 2026-11-22T10:00:00.000Z', 'RESOURCE_EXHAUSTED'), { purpose: 'smime' }, { code: 'smime.rate_limited', kind: 'temporary', retryAfter: '2026-11-22T10:00:00.000Z' }],
  [gmail(403, 'userRateLimitExceeded', 'User Rate Limit Exceeded'), { purpose: 'smime', retryAfterHeader: '120' }, { code: 'smime.rate_limited', kind: 'temporary', retryAfter: '2026-11-22T09:02:00.000Z' }],
  // The Directory API (recipientCheck: directory, smime report --workspace) and its key's tokens
  ['unauthorized_client: Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.', { purpose: 'directory', scopes: ['d1', 'd2'] }, { code: 'directory.delegation', kind: 'held', fix: /^authorise client ID 112233 for d1,d2 in Admin console/ }],
  ['invalid_grant: Invalid email or User ID', { purpose: 'directory', user: 'admin@clinic.example' }, { code: 'directory.admin_user', kind: 'held', fix: /admin@clinic\.example must be an active admin/ }],
  ['invalid_grant: Invalid JWT Signature.', { purpose: 'directory' }, { code: 'directory.key', kind: 'held', fix: /directory\.serviceAccountKeyFile/ }],
  ['503 {"error":"backend_error","error_description":"try later"}', { purpose: 'directory' }, { code: 'directory.unavailable', kind: 'temporary' }],
  [gmail(403, 'forbidden', 'Not Authorized to access this resource/api'), { purpose: 'directory', user: 'admin@clinic.example' }, { code: 'directory.not_authorized', kind: 'held', fix: /give admin@clinic\.example an admin role with the Admin API privileges Users → Read and Groups → Read/ }],
  [gmail(403, 'insufficientPermissions', 'Request had insufficient authentication scopes.'), { purpose: 'directory' }, { code: 'directory.scope', kind: 'held' }],
  [gmail(403, 'accessNotConfigured', 'Admin SDK API has not been used in project 123 before or it is disabled.'), { purpose: 'directory' }, { code: 'directory.api_disabled', kind: 'held', fix: /Admin SDK API → Enable/ }],
  [gmail(500, 'backendError', 'Backend Error'), { purpose: 'directory' }, { code: 'directory.unavailable', kind: 'temporary' }],
];

/** The free text Google wrote (after the error name, in the JSON message, after the SMTP codes). */
function googleWords(answer: string): string {
  const json = /\{[\s\S]*\}$/.exec(answer)?.[0];
  if (json) {
    const e = (JSON.parse(json) as { error: string | { message?: string }; error_description?: string });
    return typeof e.error === 'string' ? (e.error_description ?? '') : (e.error.message ?? '');
  }
  return /^[a-z_]+: (.*)$/.exec(answer)?.[1] ?? /^\d{3}[ -]\d\.\d\.\d+ (.*)$/.exec(answer)?.[1] ?? '';
}

describe('explain-error: each Google answer and its classification', () => {
  it.each(TABLE)('%s %o', (answer, options, want) => {
    const e = explainAnswer(answer, { ...base, ...options });
    expect({ code: e.code, kind: e.kind }).toEqual({ code: want.code, kind: want.kind });
    if (want.notice) expect([e.notice.failure, e.notice.delay]).toEqual(want.notice);
    if (want.fix) expect(e.fix).toMatch(want.fix);
    if (e.kind === 'held') expect(e.fix).toBeTruthy();
    if (want.retryAfter) expect(e.retryAfter).toBe(want.retryAfter);
    if (e.kind !== 'temporary') expect(e.retryAfter).toBeUndefined();
    expect(e.outcomeUnknown).toBe(want.outcomeUnknown ?? false);
    // our words, never Google's (they can echo header contents)
    const words = googleWords(answer);
    if (words.length > 12) expect(e.message).not.toContain(words);
  });

  it('says which forms it reads when it cannot tell what an answer is', () => {
    expect(() => explainAnswer('what is this?')).toThrow(/an HTTP status and JSON body .* a token error .* an SMTP reply line .* an error code/);
    expect(() => explainAnswer('403 {"error": ')).toThrow(/not valid JSON/);
    expect(() => explainAnswer('  ')).toThrow(/no answer given/);
  });
});

describe('workspace-relay explain-error', () => {
  const insufficient = gmail(403, 'insufficientPermissions', 'Request had insufficient authentication scopes.', 'PERMISSION_DENIED');

  it('prints the code, kind, notice statuses and fix of an answer, exit 0', async () => {
    const r = await runCli(['explain-error', insufficient, '--user', 'alice@clinic.example', '--client-id', '112233']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toContain('answer:      Gmail API 403 PERMISSION_DENIED insufficientPermissions');
    expect(lines).toContain('code:        delivery.insufficient_scope');
    expect(lines.find((l) => l.startsWith('kind:'))).toMatch(/^kind: +held \(an admin must fix something/);
    expect(lines).toContain('notices:     failure 5.7.0, delay 4.7.0');
    expect(lines.find((l) => l.startsWith('fix:'))).toMatch(/authorise it for client ID 112233 in Admin console/);
    expect(lines).toContain('outcome:     not sent');
  }, 30_000);

  it('--json: the whole classification, as explainAnswer gives it', async () => {
    const r = await runCli(['explain-error', '--json', '--for', 'smime', 'invalid_grant:', 'Invalid', 'email', 'or', 'User', 'ID']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(JSON.parse(JSON.stringify(explainAnswer('invalid_grant: Invalid email or User ID', { purpose: 'smime' }))));
    expect(JSON.parse(r.stdout)).toMatchObject({ code: 'smime.no_such_user', kind: 'permanent', source: 'token endpoint' });
  }, 30_000);

  it('an answer it cannot read: exit 64 (EX_USAGE) and the forms it reads', async () => {
    const r = await runCli(['explain-error', 'no idea']);
    expect(r.code).toBe(64);
    expect(r.stderr).toMatch(/^explain-error: cannot tell what this answer is: give an HTTP status and JSON body/);
  }, 30_000);

  it('--codes: the code table (as in docs/google-errors.md)', async () => {
    const r = await runCli(['explain-error', '--codes']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(renderCodeTable());
  }, 30_000);
});
