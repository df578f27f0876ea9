/**
 * Is domain-wide delegation working? For each user, ask Google's token endpoint for a token as
 * that user (a real request, not a cached token) and turn the answer into a line an admin can
 * act on. Used by `workspace-relay check`. No mail is sent.
 */
import { classify } from '../delivery/classify.js';
import { headerValue } from '../delivery/retry-after.js';
import type { GoogleCredentials } from './credentials.js';

export interface DelegationCheck {
  user: string;
  ok: boolean;
  /** The failure's code (e.g. delivery.token.unauthorized_client), when it failed. */
  code?: string;
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
  const now = options.now ?? Date.now;
  const out: DelegationCheck[] = [];
  for (const user of users) {
    credentials.forget(user);
    try {
      await credentials.fetchToken(user);
      out.push({ user, ok: true, message: `Google issues tokens as ${user} for ${credentials.scopes.join(' ')}` });
    } catch (err) {
      out.push(explain(err, user, credentials, now()));
    } finally {
      // The next real send starts from a fresh client either way.
      credentials.forget(user);
    }
  }
  return out;
}

function explain(err: unknown, user: string, credentials: GoogleCredentials, now: number): DelegationCheck {
  const failure = classify(err, { clientId: credentials.clientId, scopes: credentials.scopes, user });
  const line = { user, ok: false, code: failure.code, fix: failure.fix };
  switch (failure.code) {
    case 'delivery.token.unauthorized_client':
      return {
        ...line,
        message: `client ID ${credentials.clientId} is not authorised for ${credentials.scopes.join(',')} (unauthorized_client)`,
      };
    case 'delivery.no_such_user':
      return { ...line, message: `no such user ${user} in the Workspace` };
    case 'delivery.clock_skew': {
      const offset = clockOffsetSeconds(err, now);
      if (offset === undefined || Math.abs(offset) < CLOCK_TOLERANCE_S) {
        return { ...line, message: 'Google finds the token request\'s time wrong: check the system clock (NTP)' };
      }
      const way = offset > 0 ? 'behind' : 'ahead of';
      return {
        ...line,
        message: `the clock is ${Math.abs(offset)} s ${way} Google's: Google refuses the token request`,
        fix: 'set the system clock right and keep it right with NTP (e.g. `timedatectl set-ntp true`)',
      };
    }
    case 'delivery.network':
    case 'delivery.timeout': {
      const code = /\(([A-Z_]+)\)/.exec(failure.message)?.[1];
      return { ...line, message: `cannot reach Google's token endpoint${code ? ` (${code})` : ''}` };
    }
    default:
      return { ...line, message: failure.message.replace(/: will retry( later)?/, '') };
  }
}

/**
 * Google's clock minus ours, in whole seconds, from the Date header of the token endpoint's
 * answer (google-auth-library keeps it on the error's response). Positive: we are behind.
 */
export function clockOffsetSeconds(err: unknown, now: number): number | undefined {
  const headers = (err as { response?: { headers?: unknown } } | null)?.response?.headers;
  const date = headerValue(headers, 'date');
  if (!date) return undefined;
  const google = Date.parse(date);
  if (!Number.isFinite(google)) return undefined;
  return Math.round((google - now) / 1000);
}
