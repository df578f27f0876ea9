/**
 * Is domain-wide delegation working? For each user, ask Google's token endpoint for a token as
 * that user (a real request, not a cached token) and turn the classified failure into a line an
 * admin can act on. Used by `workspace-relay check`. No mail is sent.
 */
import type { DeliveryError } from '../errors.js';
import { classify, codeRow, type FailureCode } from '../failures/index.js';
import type { GoogleCredentials } from './credentials.js';

export interface DelegationCheck {
  user: string;
  ok: boolean;
  /** The failure's code (e.g. delivery.token.unauthorized_client), when it failed. */
  code?: FailureCode;
  message: string;
  fix?: string;
}

/** Offsets below this are within the Date header's one-second resolution and the request time. */
const CLOCK_TOLERANCE_S = 5;

export async function diagnoseDelegation(
  credentials: GoogleCredentials,
  users: string[],
  options: { now?: () => number } = {},
): Promise<DelegationCheck[]> {
  const out: DelegationCheck[] = [];
  for (const user of users) {
    credentials.forget(user);
    try {
      await credentials.fetchToken(user);
      out.push({ user, ok: true, message: `Google issues tokens as ${user} for ${credentials.scopes.join(' ')}` });
    } catch (err) {
      const failure = classify(err, { clientId: credentials.clientId, scopes: credentials.scopes, user, now: options.now });
      out.push({ user, ok: false, code: failure.code, message: checkLine(failure, user, credentials), fix: failure.fix });
    } finally {
      // The next real send starts from a fresh client either way.
      credentials.forget(user);
    }
  }
  return out;
}

/** What `check` says about a failed token request: the failure's own summary, or a closer line. */
function checkLine(f: DeliveryError, user: string, credentials: GoogleCredentials): string {
  switch (f.code) {
    case 'delivery.token.unauthorized_client':
      return `client ID ${credentials.clientId} is not authorised for ${credentials.scopes.join(',')} (unauthorized_client)`;
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
