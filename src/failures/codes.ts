/**
 * The code table: every code an outbound failure can have, each with its kind, the RFC 3463
 * statuses of the notices about it, what it means and the fix the relay writes (a template over
 * the user, client ID, scopes). A code not in this table does not compile (FailureCode), so a
 * switch on a code string that nothing defines is a type error, not a branch that never runs.
 *
 * Which Google answer gets which code is decided by the matchers next to this file
 * (token-endpoint.ts, gmail-api.ts, gmail-smtp.ts, gmail-settings.ts, network.ts); the relay's
 * own codes (the last section) are raised where the relay decides them. docs/google-errors.md is
 * this table rendered (`workspace-relay explain-error --codes`), and a test keeps the two equal.
 */
import { FULL_MAIL_SCOPE, GMAIL_SEND_SCOPE, GMAIL_SETTINGS_BASIC_SCOPE } from '../config/index.js';
import { MISCONFIGURED, OTHER, POLICY, both, clientIdOf, type CodeRow } from './code-row.js';
import { DIRECTORY_CODES } from './codes-directory.js';
import { DELEGATION_PAGE, type FixFacts } from './context.js';

export type { CodeRow, NoticeStatus, Source } from './code-row.js';

const delegationFix = (f: FixFacts) =>
  `authorise client ID ${clientIdOf(f)} for scope ${(f.scopes ?? []).join(',') || '<scopes>'} in ${DELEGATION_PAGE} (changes can take up to 24 h to propagate)`;
/** The host of a network failure, for its fix (check and the classifier name it; else where to look). */
const hostPort = (f: FixFacts) => f.host ?? "Google's hosts (port 443; Gmail SMTP 465/587)";
const hostName = (f: FixFacts) => (f.host ? f.host.replace(/:\d+$/, '') : "Google's hosts");
const RELAY_PAGE = 'Admin console → Apps → Google Workspace → Gmail → Routing → SMTP relay service';
const smimeClient = (f: FixFacts) => (f.clientId ? `client ID ${f.clientId}` : 'the S/MIME service account');

export const FAILURE_CODES = {
  // The token endpoint (domain-wide delegation, the key, the clock).
  'delivery.token.unauthorized_client': {
    kind: 'held', from: ['token'], notice: POLICY,
    means: "the client ID is not authorised (domain-wide delegation) for the scopes the relay asks for",
    fix: delegationFix,
  },
  'delivery.token.no_send_scope': {
    kind: 'held', from: ['token'], notice: POLICY,
    means: `neither scope the relay asks for on its own is authorised (it tried ${GMAIL_SEND_SCOPE}, then ${FULL_MAIL_SCOPE}): unauthorized_client for both`,
    fix: (f) =>
      `authorise client ID ${clientIdOf(f)} for scope ${GMAIL_SEND_SCOPE} in ${DELEGATION_PAGE} (least privilege; ${FULL_MAIL_SCOPE}, which many set-up guides name, also works but lets the key read every mailbox); changes can take up to 24 h to propagate`,
  },
  'delivery.token.access_denied': {
    kind: 'held', from: ['token'], notice: POLICY,
    means: 'Google denied a token for this user',
    fix: (f) => `${delegationFix(f)}; and check that API access is not restricted for ${f.user ?? 'the user'}'s organisational unit (Admin console → Security → Access and data control → API controls)`,
  },
  'delivery.token.admin_policy_enforced': {
    kind: 'held', from: ['token'], notice: POLICY,
    means: 'a Workspace policy blocks the service account for this user',
    fix: (f) => `in Admin console → Security → Access and data control → API controls → App access control, mark the service account (client ID ${clientIdOf(f)}) as trusted or allow the Gmail API for ${f.user ?? 'the user'}'s organisational unit`,
  },
  'delivery.token.disabled_client': {
    kind: 'held', from: ['token'], notice: POLICY,
    means: 'the service account or its key is disabled',
    fix: () => 'enable the service account (Google Cloud console → IAM & Admin → Service accounts) or create a new JSON key',
  },
  'delivery.token.invalid_client': {
    kind: 'held', from: ['token'], notice: POLICY,
    means: 'Google does not know the service account or key (deleted)',
    fix: () =>
      'the service account or key was deleted: create a new JSON key (IAM & Admin → Service accounts → Keys → Add key → JSON) and point gmailApi.serviceAccountKeyFile at it',
  },
  'delivery.token.invalid_scope': {
    kind: 'held', from: ['token'], notice: POLICY,
    means: 'a configured scope is not a valid scope',
    fix: () => `set gmailApi.scopes to ${GMAIL_SEND_SCOPE}`,
  },
  'delivery.token.bad_signature': {
    kind: 'held', from: ['token'], notice: POLICY,
    means: "Google refuses the key's signature (invalid_grant: the key was deleted or is another account's)",
    fix: () =>
      'the key was deleted or belongs to another service account: create a new JSON key (IAM & Admin → Service accounts → Keys) and point gmailApi.serviceAccountKeyFile at it',
  },
  'delivery.token.invalid_grant': {
    kind: 'held', from: ['token'], notice: POLICY,
    means: 'another problem with the signed token request (invalid_grant)',
    fix: () => 'check the service-account key file (create a new JSON key) and the system clock (NTP)',
  },
  'delivery.clock_skew': {
    kind: 'held', from: ['token'], notice: MISCONFIGURED,
    means: "the machine's clock is off, so Google rejects the token request's times (invalid_grant)",
    fix: () => 'check the system clock (enable NTP, e.g. `timedatectl set-ntp true`)',
  },
  'delivery.user_suspended': {
    kind: 'held', from: ['token'], notice: POLICY,
    means: 'the sending user is suspended (invalid_grant)',
    fix: (f) => `restore ${f.user ?? 'the sending user'} in Admin console → Directory → Users, or send as another user (senders.map)`,
  },
  'delivery.no_such_user': {
    kind: 'permanent', from: ['token'], notice: both('1.8'), // bad sender's system address: the sending user does not exist
    means: 'Google has no such user (invalid_grant: Invalid email or User ID), a deleted user included',
    fix: (f) => `check the sending user (senders.map / senders.default): ${f.user ?? 'the sending user'} must be a real user with Gmail, not a group or an alias`,
  },
  'delivery.token.unavailable': { kind: 'temporary', from: ['token'], notice: POLICY, means: 'the token endpoint answered 5xx or 429' },
  'delivery.token.unknown': { kind: 'temporary', from: ['token'], notice: POLICY, means: 'a token error the relay does not know' },

  // The Gmail API (users.messages.send) and the SMTP upstream.
  'delivery.rate_limited': {
    kind: 'temporary', from: ['gmail-api', 'gmail-smtp'], notice: POLICY, pausesUser: true,
    means: 'Google asks the user to slow down (429, 403 rate reasons, SMTP 4.7.x): the user is paused',
  },
  'delivery.daily_limit': {
    kind: 'temporary', from: ['gmail-api', 'gmail-smtp'], notice: POLICY, retryLater: true, pausesUser: true,
    means: "the user's daily sending limit is reached: retried at Google's time, or in an hour",
  },
  'delivery.gmail_unauthenticated': { kind: 'temporary', from: ['gmail-api'], notice: OTHER, means: 'Gmail refused the access token, even a new one (401)' },
  'delivery.insufficient_scope': {
    kind: 'held', from: ['gmail-api'], notice: POLICY,
    means: 'the token does not allow sending mail (403 insufficient scopes)',
    fix: (f) => `include ${GMAIL_SEND_SCOPE} in gmailApi.scopes and authorise it for client ID ${clientIdOf(f)} in ${DELEGATION_PAGE}`,
  },
  'delivery.delegation_denied': {
    kind: 'held', from: ['gmail-api'], notice: POLICY,
    means: 'Gmail denied acting as this user (403 delegation denied)',
    fix: (f) => `check that ${f.user ?? 'the sending user'} is a user (not a group or an alias) and that client ID ${clientIdOf(f)} is authorised in ${DELEGATION_PAGE}`,
  },
  'delivery.api_disabled': {
    kind: 'held', from: ['gmail-api'], notice: MISCONFIGURED,
    means: "the Gmail API is not enabled in the service account's Cloud project",
    fix: () => 'enable it: Google Cloud console → APIs & Services → Library → Gmail API → Enable',
  },
  'delivery.mail_disabled': {
    kind: 'held', from: ['gmail-api'], notice: POLICY,
    means: 'Gmail is not on for the sending user (400 failedPrecondition)',
    fix: (f) => `turn Gmail on for ${f.user ?? 'the user'} (Admin console → Apps → Google Workspace → Gmail → Service status) and check the user has a licence with Gmail`,
  },
  'delivery.message_rejected': {
    kind: 'permanent', from: ['gmail-api'], notice: both('6.0'), // other media error: the message itself
    means: 'Gmail refused the message itself (400)',
  },
  'delivery.message_too_large': {
    kind: 'permanent', from: ['gmail-api', 'gmail-smtp'], notice: both('3.4'), // message too big for system
    means: 'larger than Google takes (35 MB through the API; the SMTP upstream says its SIZE)',
  },
  'delivery.gmail_4xx': { kind: 'temporary', from: ['gmail-api'], notice: OTHER, means: 'another, unrecognised Gmail 4xx' },
  'delivery.gmail_5xx': { kind: 'temporary', from: ['gmail-api'], notice: OTHER, means: 'a Gmail server error' },
  'delivery.smtp.auth': {
    kind: 'held', from: ['gmail-smtp'], notice: POLICY,
    means: 'the SMTP upstream refused the login: the app password is wrong or revoked',
    fix: (f) => `create a new app password for ${f.user ?? 'the sending user'} (Google Account → Security → 2-Step Verification → App passwords; it needs 2-Step Verification and stops working when the password changes) and put it in ${f.passwordFile ?? "the workspace's SMTP password file"}`,
  },
  'delivery.xoauth2.refused': {
    kind: 'held', from: ['gmail-smtp'], notice: POLICY,
    means: 'Gmail SMTP refused the XOAUTH2 login (535 5.7.8, or a 334 challenge), even with a new token',
    fix: (f) =>
      `authorise client ID ${clientIdOf(f)} for scope ${FULL_MAIL_SCOPE} in ${DELEGATION_PAGE} (Gmail SMTP takes no narrower scope), and check that Gmail is on for ${f.user ?? 'the sending user'} (Admin console → Apps → Google Workspace → Gmail → Service status)`,
  },
  'delivery.smtp.temporary': { kind: 'temporary', from: ['gmail-smtp'], notice: OTHER, means: 'the SMTP upstream answered 4xx (or 503)' },
  'delivery.smtp.rejected': { kind: 'permanent', from: ['gmail-smtp'], notice: OTHER, means: 'the SMTP upstream answered 5xx' },
  'delivery.smtp.recipient_deferred': { kind: 'temporary', from: ['gmail-smtp'], notice: OTHER, means: 'the SMTP upstream deferred some recipients (4xx); a copy retries them' },
  'delivery.smtp.recipient_rejected': { kind: 'permanent', from: ['gmail-smtp'], notice: OTHER, means: 'the SMTP upstream refused some recipients (5xx); it reached the others' },

  // Google's SMTP relay service (smtp-relay.gmail.com).
  'delivery.relay.daily_limit': {
    kind: 'temporary', from: ['smtp-relay'], notice: POLICY, retryLater: true, pausesUser: true,
    means: "the user's daily SMTP relay limit is reached (550 5.4.5): the user's mail waits until the day rolls over (midnight UTC)",
  },
  'delivery.relay.peak_limit': {
    kind: 'temporary', from: ['smtp-relay'], notice: POLICY, pausesUser: true,
    means: "the workspace is over the SMTP relay service's peak rate (450 4.2.1): the user backs off (queue.rateLimitBackoff, doubling)",
  },
  'delivery.relay.denied': {
    kind: 'held', from: ['smtp-relay'], notice: POLICY,
    means: 'the SMTP relay service does not take mail from this relay (550 5.7.0 Mail relay denied, or 550 5.7.1 invalid credentials for relay)',
    fix: (f) =>
      `in ${RELAY_PAGE}, allow this relay's public IP address (or require SMTP authentication and set smtpRelay.user and smtpRelay.passwordFile), allow only addresses in your domains, and check that ${f.user ?? 'the sender'} is an address of the workspace`,
  },

  ...DIRECTORY_CODES,

  // The network, and anything else. The fixes name the host (the error's, or check's).
  'delivery.network.dns': {
    kind: 'temporary', from: ['network'], notice: OTHER,
    means: 'a host name does not resolve (ENOTFOUND, EAI_AGAIN): DNS on this machine',
    fix: (f) => `this machine cannot resolve ${hostName(f)}: check its DNS servers (/etc/resolv.conf, \`resolvectl status\`) and that the firewall lets it reach them (port 53); where the site reaches the internet only through a proxy, set HTTPS_PROXY in the relay's environment`,
  },
  'delivery.network.refused': {
    kind: 'temporary', from: ['network'], notice: OTHER,
    means: 'the connection was refused (ECONNREFUSED): a firewall rejects it, or nothing listens there',
    fix: (f) => `allow outgoing TCP to ${hostPort(f)} in the firewall (README "Firewall"), or set HTTPS_PROXY if the site reaches the internet through a proxy`,
  },
  'delivery.network.unreachable': {
    kind: 'temporary', from: ['network'], notice: OTHER,
    means: 'no route to the host (EHOSTUNREACH, ENETUNREACH): the network or a firewall',
    fix: (f) => `check this machine's network (its default route: \`ip route\`) and that the firewall allows outgoing TCP to ${hostPort(f)}; set HTTPS_PROXY if the site reaches the internet through a proxy`,
  },
  'delivery.network.tls': {
    kind: 'temporary', from: ['network', 'gmail-smtp'], notice: OTHER,
    means: "the TLS certificate presented is not one this machine trusts, or not valid now: often a firewall or proxy that inspects TLS",
    fix: (f) => `if a firewall or proxy inspects TLS, exempt ${hostName(f)} from inspection or trust its CA (NODE_EXTRA_CA_CERTS=/path/to/ca.pem in the relay's environment: \`systemctl edit workspace-relay\`; Gmail SMTP: smtp.caFile); check the system clock too (certificates have dates)`,
  },
  'delivery.network.proxy': {
    kind: 'temporary', from: ['network'], notice: OTHER,
    means: 'the HTTPS proxy refused, failed or asked for credentials (407)',
    fix: (f) => `check HTTPS_PROXY${f.proxy ? ` (${f.proxy})` : ''}: the proxy must be reachable, accept the relay (credentials in the URL: http://user:password@proxy:3128) and allow CONNECT to ${hostPort(f)}; add the host to NO_PROXY if this machine reaches it directly`,
  },
  'delivery.network': {
    kind: 'temporary', from: ['network'], notice: OTHER,
    means: 'the connection was reset or lost',
    fix: (f) => `if it keeps happening, a firewall or proxy may be cutting connections (idle ones, or long uploads) to ${hostPort(f)}: let them through (README "Firewall")`,
  },
  'delivery.timeout': {
    kind: 'temporary', from: ['network', 'gmail-api'], notice: OTHER,
    means: 'the request timed out',
    fix: (f) => `if attempts keep timing out, a firewall may be dropping the connections silently: allow outgoing TCP to ${hostPort(f)} in the firewall (README "Firewall"), or set HTTPS_PROXY if the site reaches the internet through a proxy`,
  },
  'delivery.aborted': { kind: 'temporary', from: ['network', 'relay'], notice: OTHER, means: 'delivery was stopped (shutdown or time limit)' },
  'delivery.unknown': { kind: 'temporary', from: ['network', 'gmail-smtp'], notice: OTHER, means: 'anything unrecognised: unknown means temporary' },

  // The settings calls: sendAs.list (verifySendAs) and S/MIME (smimeInfo).
  'sendas.insufficient_scope': {
    kind: 'held', from: ['send-as'], notice: OTHER,
    means: 'the token may not list send-as addresses (403 insufficient scopes)',
    fix: (f) => `authorise client ID ${clientIdOf(f)} for ${GMAIL_SETTINGS_BASIC_SCOPE} in ${DELEGATION_PAGE} (needed by verifySendAs), and ask for that scope`,
  },
  'sendas.timeout': { kind: 'temporary', from: ['send-as'], notice: OTHER, means: 'listing the send-as addresses took too long' },
  'smime.delegation': {
    kind: 'held', from: ['smime'], notice: OTHER,
    means: 'the S/MIME client ID is not authorised (unauthorized_client, access_denied)',
    fix: (f) => `authorise ${smimeClient(f)} for ${f.scopes?.join(',') ?? 'the gmail.settings scopes'} in ${DELEGATION_PAGE}; changes can take up to 24 h`,
  },
  'smime.no_such_user': { kind: 'permanent', from: ['smime'], notice: OTHER, means: 'no such user (invalid_grant)', fix: () => 'no such user in the workspace: check the address' },
  'smime.key': {
    kind: 'held', from: ['smime'], notice: OTHER,
    means: "Google refused the S/MIME service account's signed token request (invalid_grant)",
    fix: () => "the service account's key was refused: check the key file is current and this machine's clock",
  },
  'smime.scope': {
    kind: 'held', from: ['smime'], notice: OTHER,
    means: 'the token lacks a settings scope (403 insufficient scopes)',
    fix: (f) => `the token lacks a needed scope: gmail.settings.basic for the primary address, gmail.settings.sharing for other aliases; authorise ${smimeClient(f)} for them in ${DELEGATION_PAGE}`,
  },
  'smime.not_found': {
    kind: 'permanent', from: ['smime'], notice: OTHER,
    means: 'Gmail has no such send-as alias or certificate (404)',
    fix: () => "check the alias is one of the user's send-as addresses and the certificate id (smime list)",
  },
  'smime.google_expired': { kind: 'permanent', from: ['smime'], notice: OTHER, means: 'Gmail refused an expired certificate', fix: () => 'the certificate has expired: renew it with the CA' },
  'smime.google_untrusted': {
    kind: 'permanent', from: ['smime'], notice: OTHER,
    means: "Gmail does not trust the certificate's issuer",
    fix: () => "Gmail does not trust the certificate's issuer: include the full chain, use a CA on Google's trusted list, or have the admin add the root under Gmail → User settings → S/MIME",
  },
  'smime.google_mismatch': {
    kind: 'permanent', from: ['smime'], notice: OTHER,
    means: "the certificate's address is not the send-as alias",
    fix: () => "the certificate's email address must equal the send-as alias it is uploaded to",
  },
  'smime.google_password': { kind: 'permanent', from: ['smime'], notice: OTHER, means: 'Gmail could not open the .p12', fix: () => 'check the .p12 password' },
  'smime.disabled': {
    kind: 'held', from: ['smime'], notice: OTHER,
    means: 'hosted S/MIME is off for the user',
    fix: () => 'turn on hosted S/MIME: Admin console → Apps → Google Workspace → Gmail → User settings → S/MIME',
  },
  'smime.rate_limited': {
    kind: 'temporary', from: ['smime'], notice: OTHER,
    means: 'Gmail asks to slow down (429, 403 rate reasons): the S/MIME command pauses every call until Google\'s time (or a backoff) and tries again',
  },
  'smime.google': { kind: 'temporary', from: ['smime'], notice: OTHER, means: 'any other answer to an S/MIME call (Google\'s words are shown)' },

  // The relay's own: raised where it decides them, listed here for their notices.
  // X.4.7: delivery time expired; X.1.3: bad destination mailbox address syntax
  'delivery.expired': { kind: 'permanent', from: ['relay'], notice: both('4.7'), means: 'the message ran out of time (queue.maxAge) and was moved to dead/' },
  'delivery.bad_envelope': { kind: 'permanent', from: ['relay'], notice: both('1.3'), means: 'a recipient address that cannot be written into a header' },
  'delivery.bad_header_value': { kind: 'permanent', from: ['relay'], notice: OTHER, means: "a value from the message's metadata that cannot be written into a header" },
  'delivery.no_workspace': { kind: 'held', from: ['relay'], notice: MISCONFIGURED, means: "the message's workspace is no longer in the config" },
  'delivery.outside_workspace_now': { kind: 'held', from: ['relay'], notice: OTHER, means: 'a reload removed a domain the queued message is addressed to' },
  'delivery.spool_unreadable': { kind: 'held', from: ['relay'], notice: OTHER, means: 'the spooled message cannot be read' },
  'delivery.spool_damaged': { kind: 'held', from: ['relay'], notice: OTHER, means: 'the encrypted spool file fails authentication (changed or damaged on disk): nothing of it is sent' },
  'delivery.spool_key_missing': { kind: 'held', from: ['relay'], notice: MISCONFIGURED, means: 'the spooled message was encrypted with a key that is not in queue.encryption.keyFiles' },
  'delivery.thread_stopped': { kind: 'temporary', from: ['relay'], notice: OTHER, means: 'the delivery thread stopped during the attempt (the send may have reached Google)' },
  'delivery.unexpected': { kind: 'temporary', from: ['relay'], notice: OTHER, means: 'an unexpected error in the relay during an attempt' },
  'queue.waiting': { kind: 'temporary', from: ['relay'], notice: OTHER, means: "not tried yet: waiting its turn (the user's pace or limits)" },
} as const satisfies Record<string, CodeRow>;

export type FailureCode = keyof typeof FAILURE_CODES;

// A DeliveryError's code is one of these (src/errors.ts declares the empty table; this fills it).
declare module '../errors.js' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface FailureCodeTable extends Record<FailureCode, true> {}
}

export function isFailureCode(code: string): code is FailureCode {
  return Object.hasOwn(FAILURE_CODES, code);
}

export function codeRow(code: FailureCode): CodeRow {
  return FAILURE_CODES[code];
}
