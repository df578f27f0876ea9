/**
 * Is domain-wide delegation working, and does the user have Gmail? Used by `workspace-relay
 * check`; no mail is sent.
 *
 * 1. A token: ask Google's token endpoint for a token as the user (a real request, not a cached
 *    token). It proves the client ID is authorised for the scopes and that the user exists and is
 *    not suspended (Google refuses a token for anyone else).
 * 2. Gmail (with `apiRootUrl`): a token does not say whether Gmail is on for the user, and with
 *    gmail.send alone no Gmail call reads anything (users.getProfile needs a read scope). So the
 *    check calls users.messages.send with a message that has no recipients: Gmail refuses it (400
 *    "Recipient address required") once it has accepted the token, found the Gmail API enabled
 *    in the project and the mail service on for the user; it answers 400 failedPrecondition for a
 *    user without Gmail, 403 for an API not enabled or a scope that does not send. Nothing can
 *    go out: a message without recipients has nowhere to go.
 */
import type { DeliveryError } from '../errors.js';
import { FULL_MAIL_SCOPE, GMAIL_SEND_SCOPE } from '../config/index.js';
import { classify, codeRow, type FailureCode } from '../failures/index.js';
import type { GoogleCredentials } from './credentials.js';
import { SEND_SCOPE_LADDER, narrowingAdvice } from './scope-ladder.js';

export interface DelegationCheck {
  user: string;
  ok: boolean;
  /** The failure's code (e.g. delivery.token.unauthorized_client), when it failed. */
  code?: FailureCode;
  message: string;
  fix?: string;
}

export interface DiagnoseOptions {
  now?: () => number;
  /** Also ask Gmail (users.messages.send without recipients) whether it serves the user. */
  apiRootUrl?: string;
  /** Time limit of the Gmail request (default 30 s). */
  timeoutMs?: number;
}

/** Offsets below this are within the Date header's one-second resolution and the request time. */
const CLOCK_TOLERANCE_S = 5;

export async function diagnoseDelegation(credentials: GoogleCredentials, users: string[], options: DiagnoseOptions = {}): Promise<DelegationCheck[]> {
  const out: DelegationCheck[] = [];
  for (const user of users) out.push(await diagnoseUser(credentials, user, options));
  return out;
}

export async function diagnoseUser(credentials: GoogleCredentials, user: string, options: DiagnoseOptions = {}): Promise<DelegationCheck> {
  const context = { clientId: credentials.clientId, scopes: credentials.scopes, automaticScopes: credentials.automaticScopes, user, now: options.now };
  credentials.forget(user);
  try {
    try {
      await credentials.fetchToken(user);
    } catch (err) {
      const failure = classify(err, context);
      return { user, ok: false, code: failure.code, message: checkLine(failure, user, credentials), fix: failure.fix };
    }
    const token = `Google issues tokens as ${user} for ${credentials.scopes.join(' ')}`;
    if (options.apiRootUrl === undefined) return { user, ok: true, message: token };
    try {
      // (A 200 would mean Gmail took a message with no recipient, which goes nowhere.)
      await probeGmail(credentials, user, options.apiRootUrl, options.timeoutMs ?? 30_000);
    } catch (err) {
      const failure = classify(err, context);
      // Refused for the message itself: Gmail got as far as reading it, so it serves the user.
      if (failure.code !== 'delivery.message_rejected' || failure.status !== 400) {
        return { user, ok: false, code: failure.code, message: `a token, but Gmail refuses ${user}: ${failure.summary}`, fix: failure.fix };
      }
    }
    return { user, ok: true, message: `${token}; Gmail serves ${user}` };
  } finally {
    // The next real send starts from a fresh client either way.
    credentials.forget(user);
  }
}

/** users.messages.send with a message that has no recipients (see above): throws Gmail's answer. */
async function probeGmail(credentials: GoogleCredentials, user: string, apiRootUrl: string, timeout: number): Promise<void> {
  const root = apiRootUrl.endsWith('/') ? apiRootUrl : `${apiRootUrl}/`;
  const raw = Buffer.from(
    `From: ${user}\r\nSubject: workspace-relay check (no recipients: never delivered)\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nworkspace-relay check\r\n`,
  ).toString('base64url');
  await credentials.clientFor(user).request({ url: `${root}gmail/v1/users/me/messages/send`, method: 'POST', data: { raw }, timeout, retry: false });
}

/** What `check` says about a failed token request: the failure's own summary, or a closer line. */
function checkLine(f: DeliveryError, user: string, credentials: GoogleCredentials): string {
  switch (f.code) {
    case 'delivery.token.unauthorized_client':
      return `client ID ${credentials.clientId} is not authorised for ${credentials.scopes.join(',')} (unauthorized_client)`;
    case 'delivery.token.no_send_scope':
      return `client ID ${credentials.clientId} is authorised neither for ${SEND_SCOPE_LADDER.map((r) => r.join(',')).join(' nor for ')} (unauthorized_client)`;
    case 'delivery.no_such_user':
      return `no such user ${user} in the Workspace`;
    case 'delivery.clock_skew': {
      const offset = f.clockOffsetSeconds;
      if (offset === undefined || Math.abs(offset) < CLOCK_TOLERANCE_S) return "Google finds the token request's time wrong: check the system clock (NTP)";
      return `the clock is ${Math.abs(offset)} s ${offset > 0 ? 'behind' : 'ahead of'} Google's: Google refuses the token request`;
    }
    default:
      if (codeRow(f.code).from.includes('network')) return `cannot reach Google's token endpoint${f.detail ? ` (${f.detail})` : ''}`;
      return f.summary;
  }
}

/**
 * What `check` says about the scope after the token requests: the scope in use, why, and how to
 * narrow it when it is https://mail.google.com/. Empty when no token was issued.
 */
export function scopeReport(credentials: GoogleCredentials): string[] {
  const s = credentials.scopeState();
  if (!s.known) return [];
  const inUse = s.inUse.join(' ');
  const full = s.inUse.includes(FULL_MAIL_SCOPE);
  const lines: string[] = [];
  if (s.automatic) {
    lines.push(
      s.fellBack
        ? `scope in use: ${inUse} (the client ID is not authorised for ${GMAIL_SEND_SCOPE}; this scope also lets the key read and delete every mailbox)`
        : `scope in use: ${inUse} (sending only: the narrowest)`,
    );
  } else lines.push(`scope in use: ${inUse} (gmailApi.scopes)`);
  if (full) lines.push(`${narrowingAdvice(credentials.clientId)}${s.automatic ? ' (the relay asks for it again at each reload and every hour)' : ', and remove gmailApi.scopes (or set it to gmail.send)'}`);
  return lines;
}
