/**
 * A user's verified send-as addresses (Gmail API `users.settings.sendAs.list`), for listeners with
 * `verifySendAs: true`: Gmail silently replaces a From that is neither the user nor one of these,
 * so the From policy lets them through unchanged and treats every other From per `fromPolicy`.
 *
 * Verified means `isPrimary` (the user's own address) or `verificationStatus: accepted`; pending
 * aliases do not count (Gmail would replace them too).
 *
 * Scope: sendAs.list accepts gmail.settings.basic, gmail.readonly, gmail.modify or
 * https://mail.google.com/. Use gmail.settings.basic: the others read (or delete) every mailbox.
 * Give the verifier its own GoogleCredentials with only that scope, so the token that sends mail
 * stays gmail.send only; the admin adds gmail.settings.basic to the client ID's domain-wide
 * delegation (the token request must ask for a subset of what was authorised).
 *
 * Answers are cached per user for `ttlMs` (default 1 h); failures for `failureTtlMs` (default
 * 1 min), so a Google outage costs one slow request a minute per user, not one per message.
 * Concurrent lookups for one user share one request.
 */
import { gmail } from '@googleapis/gmail';
import { GMAIL_SETTINGS_BASIC_SCOPE } from '../config/index.js';
import { ConfigError, DeliveryError } from '../errors.js';
import { DELEGATION_PAGE, classify } from '../failures/index.js';
import type { Logger } from '../log.js';
import type { GoogleCredentials } from './credentials.js';

export { GMAIL_SETTINGS_BASIC_SCOPE };
/** Scopes with which Google answers sendAs.list (the first is the least privilege). */
export const SEND_AS_LIST_SCOPES: readonly string[] = [
  GMAIL_SETTINGS_BASIC_SCOPE,
  'https://www.googleapis.com/auth/gmail.readonly',
  'https://www.googleapis.com/auth/gmail.modify',
  'https://mail.google.com/',
];

export const DEFAULT_SEND_AS_TTL_MS = 60 * 60 * 1000;
export const DEFAULT_SEND_AS_FAILURE_TTL_MS = 60 * 1000;
export const DEFAULT_SEND_AS_TIMEOUT_MS = 10 * 1000;

export interface SendAsVerifierOptions {
  /** Credentials whose scopes include one of SEND_AS_LIST_SCOPES (best: gmail.settings.basic alone). */
  credentials: GoogleCredentials;
  /** e.g. https://gmail.googleapis.com/ (tests: the fake's loopback URL). */
  apiRootUrl: string;
  ttlMs?: number;
  failureTtlMs?: number;
  /** Longest wait for one lookup (token and list), since a client waits on it at DATA. */
  timeoutMs?: number;
  now?: () => number;
  logger?: Logger;
}

export interface SendAsVerifier {
  /** Verified send-as addresses of `user`, lowercase, the primary included. Rejects with a classified DeliveryError. */
  aliases(user: string): Promise<ReadonlySet<string>>;
  /** The same, or undefined when they cannot be listed now (logged as sendas.lookup_failed). Never rejects. */
  aliasesOrUnknown(user: string): Promise<ReadonlySet<string> | undefined>;
  /** Drop the cached answer of `user` (or of everyone). */
  forget(user?: string): void;
}

type Entry = { aliases: ReadonlySet<string>; expiresAt: number } | { error: DeliveryError; expiresAt: number };

export function createSendAsVerifier(options: SendAsVerifierOptions): SendAsVerifier {
  const { credentials, logger } = options;
  if (!credentials.scopes.some((s) => SEND_AS_LIST_SCOPES.includes(s))) {
    throw new ConfigError(
      'verifySendAs',
      `checking send-as addresses needs the ${GMAIL_SETTINGS_BASIC_SCOPE} scope (the credentials have ${credentials.scopes.join(', ')}): authorise client ID ${credentials.clientId} for it in ${DELEGATION_PAGE}`,
    );
  }
  const rootUrl = options.apiRootUrl.endsWith('/') ? options.apiRootUrl : `${options.apiRootUrl}/`;
  const ttl = options.ttlMs ?? DEFAULT_SEND_AS_TTL_MS;
  const failureTtl = options.failureTtlMs ?? DEFAULT_SEND_AS_FAILURE_TTL_MS;
  const timeout = options.timeoutMs ?? DEFAULT_SEND_AS_TIMEOUT_MS;
  const now = options.now ?? Date.now;
  const cache = new Map<string, Entry>();
  const inflight = new Map<string, Promise<ReadonlySet<string>>>();

  async function list(user: string): Promise<ReadonlySet<string>> {
    const api = gmail({ version: 'v1', auth: credentials.clientFor(user), rootUrl });
    const res = await api.users.settings.sendAs.list({ userId: 'me' }, { rootUrl, timeout, retry: false });
    const out = new Set<string>();
    for (const a of res.data.sendAs ?? []) {
      if (a.sendAsEmail && (a.isPrimary === true || a.verificationStatus === 'accepted')) out.add(a.sendAsEmail.trim().toLowerCase());
    }
    return out;
  }

  function lookup(user: string): Promise<ReadonlySet<string>> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new DeliveryError('sendas.timeout', 'temporary', `listing the send-as addresses of ${user} took longer than ${timeout} ms`)),
        timeout,
      );
      timer.unref();
    });
    return Promise.race([list(user), timedOut])
      .catch((err: unknown) => {
        throw classify(err, { clientId: credentials.clientId, scopes: credentials.scopes, user, now, transport: 'gmail-api', purpose: 'send-as' });
      })
      .finally(() => clearTimeout(timer));
  }

  function aliases(user: string): Promise<ReadonlySet<string>> {
    const key = user.toLowerCase();
    const hit = cache.get(key);
    if (hit && hit.expiresAt > now()) return 'aliases' in hit ? Promise.resolve(hit.aliases) : Promise.reject(hit.error);
    let pending = inflight.get(key);
    if (!pending) {
      pending = lookup(key).then(
        (set) => {
          cache.set(key, { aliases: set, expiresAt: now() + ttl });
          return set;
        },
        (error: DeliveryError) => {
          cache.set(key, { error, expiresAt: now() + failureTtl });
          if (error.kind === 'held') credentials.forget(key);
          const fields = { event: 'sendas.lookup_failed', user: key, code: error.code, kind: error.kind, reason: error.message, fix: error.fix };
          if (error.kind === 'temporary') logger?.warn(fields, 'cannot list send-as addresses: deciding From without them');
          else logger?.error(fields, 'cannot list send-as addresses: deciding From without them until this is fixed');
          throw error;
        },
      );
      pending.finally(() => inflight.delete(key)).catch(() => undefined);
      inflight.set(key, pending);
    }
    return pending;
  }

  return {
    aliases,
    async aliasesOrUnknown(user) {
      try {
        return await aliases(user);
      } catch {
        return undefined;
      }
    },
    forget(user) {
      if (user === undefined) cache.clear();
      else cache.delete(user.toLowerCase());
    },
  };
}
