/**
 * Does a recipient exist? For `workspaces[].recipientCheck: directory`, asked at RCPT TO: the
 * Directory API (directory.ts) says whether the address is a user, an alias or a group of the
 * workspace. The listener waits on it, so:
 *
 * - answers are cached per address: "exists" for `foundTtlMs`, "no such address" for
 *   `missingTtlMs`; concurrent lookups of one address share one request;
 * - one lookup waits at most `timeoutMs`, then the recipient is accepted ("unknown"); the request
 *   goes on, and its answer is cached for the next RCPT;
 * - when Google cannot be asked (down, slow, or refusing the directory key), the answer is
 *   "unknown": the recipient is accepted (the workspace boundary still applies), the failure is
 *   logged (`recipient_check.unavailable`) and counted (`stats().unavailable`), and for
 *   `backoffMs` no lookup is tried (so an outage costs one timeout, not one per RCPT).
 *
 * Subaddresses are looked up without their tag (bob+scans@ is bob@'s mail); case does not matter.
 * It never rejects: what to reply is policy's decision (src/policy/recipient-existence.ts).
 */
import type { Config } from '../config/index.js';
import { DeliveryError } from '../errors.js';
import type { Logger } from '../log.js';
import { GoogleCredentials } from './credentials.js';
import { DEFAULT_DIRECTORY_TIMEOUT_MS, createDirectoryClient, type DirectoryClient } from './directory.js';
import { loadServiceAccountKey } from './service-account.js';

export type RecipientAnswer = 'exists' | 'missing' | 'unknown';

export interface RecipientCheckStats {
  /** Lookups asked of Google. */
  lookups: number;
  /** Answers served from the cache. */
  cached: number;
  exists: number;
  missing: number;
  /** Recipients accepted because Google could not be asked (the counter behind recipient_check.unavailable). */
  unavailable: number;
}

export interface RecipientDirectory {
  /** Never rejects; resolves within the timeout. */
  check(address: string): Promise<RecipientAnswer>;
  stats(): RecipientCheckStats;
}

export interface RecipientDirectoryOptions {
  client: DirectoryClient;
  foundTtlMs: number;
  missingTtlMs: number;
  timeoutMs: number;
  /** After a failed lookup, accept without asking for this long (default 30 s). */
  backoffMs?: number;
  now?: () => number;
  logger?: Logger;
}

/** The address the Directory knows: lowercase, without a +tag. */
export function lookupAddress(address: string): string {
  const a = address.trim().toLowerCase();
  const at = a.lastIndexOf('@');
  const local = a.slice(0, at);
  const plus = local.indexOf('+');
  return plus > 0 ? `${local.slice(0, plus)}${a.slice(at)}` : a;
}

export function createRecipientDirectory(options: RecipientDirectoryOptions): RecipientDirectory {
  const { client, logger } = options;
  const now = options.now ?? Date.now;
  const backoffMs = options.backoffMs ?? 30_000;
  const cache = new Map<string, { exists: boolean; until: number }>();
  const inflight = new Map<string, Promise<RecipientAnswer>>();
  const stats: RecipientCheckStats = { lookups: 0, cached: 0, exists: 0, missing: 0, unavailable: 0 };
  let downUntil = 0;

  const unavailable = (address: string, why: { code: string; kind?: string; reason: string; fix?: string | undefined }) => {
    stats.unavailable++;
    const alert = why.kind === 'held';
    const fields = { event: 'recipient_check.unavailable', rcpt: address, adminUser: client.adminUser, ...why, ...(alert ? { alert: true } : {}) };
    if (alert) logger?.error(fields, `cannot ask the Directory whether the recipient exists: accepted; ${why.fix ?? ''}`.trim());
    else logger?.warn(fields, 'cannot ask the Directory whether the recipient exists: accepted');
    return 'unknown' as const;
  };

  function ask(key: string): Promise<RecipientAnswer> {
    let pending = inflight.get(key);
    if (!pending) {
      stats.lookups++;
      pending = client.lookup(key).then(
        (kind) => {
          const exists = kind !== null;
          cache.set(key, { exists, until: now() + (exists ? options.foundTtlMs : options.missingTtlMs) });
          return exists ? ('exists' as const) : ('missing' as const);
        },
        (err: unknown) => {
          downUntil = now() + backoffMs;
          if (err instanceof DeliveryError) return unavailable(key, { code: err.code, kind: err.kind, reason: err.message, fix: err.fix });
          return unavailable(key, { code: 'directory.unavailable', reason: err instanceof Error ? err.message : String(err) });
        },
      );
      pending.finally(() => inflight.delete(key)).catch(() => undefined);
      inflight.set(key, pending);
    }
    return pending;
  }

  return {
    stats: () => ({ ...stats }),
    async check(address) {
      const key = lookupAddress(address);
      const hit = cache.get(key);
      if (hit && hit.until > now()) {
        stats.cached++;
        return count(hit.exists ? 'exists' : 'missing');
      }
      if (now() < downUntil) {
        stats.unavailable++;
        return 'unknown';
      }
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), options.timeoutMs);
        timer.unref();
      });
      const answer = await Promise.race([ask(key), timedOut]).finally(() => clearTimeout(timer));
      if (answer === 'timeout') {
        downUntil = now() + backoffMs;
        return unavailable(key, { code: 'directory.unavailable', reason: `the Directory API did not answer within ${options.timeoutMs} ms` });
      }
      return answer === 'unknown' ? answer : count(answer);
    },
  };

  function count(answer: 'exists' | 'missing'): RecipientAnswer {
    stats[answer]++;
    return answer;
  }
}

/**
 * The recipient directories of the workspaces with `recipientCheck: directory`, keyed by
 * workspace name. Throws a ConfigError (naming the key) when a directory key cannot be loaded;
 * `kept`: workspaces whose key may be as last read good (a practice kept on its running settings).
 */
export function buildRecipientDirectories(config: Pick<Config, 'workspaces' | 'google'>, logger: Logger, kept: ReadonlySet<string> = new Set()): Map<string, RecipientDirectory> {
  const out = new Map<string, RecipientDirectory>();
  config.workspaces.forEach((w, i) => {
    if (w.recipientCheck !== 'directory' || !w.directory) return;
    const d = w.directory;
    const key = loadServiceAccountKey(d.serviceAccountKeyFile, `workspaces[${i}].directory.serviceAccountKeyFile`, { lastGood: kept.has(w.name) });
    const credentials = new GoogleCredentials({ key, scopes: d.scopes, tokenUrl: config.google.tokenUrl });
    // The request itself may take longer than the wait at RCPT: its answer is cached for the next one.
    const client = createDirectoryClient({ credentials, adminUser: d.adminUser, rootUrl: config.google.directoryRootUrl, customer: d.customer, timeoutMs: Math.max(d.timeout, DEFAULT_DIRECTORY_TIMEOUT_MS) });
    out.set(w.name, createRecipientDirectory({ client, foundTtlMs: d.foundTtl, missingTtlMs: d.missingTtl, timeoutMs: d.timeout, logger: logger.child({ workspace: w.name }) }));
  });
  return out;
}
