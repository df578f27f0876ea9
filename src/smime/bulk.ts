/**
 * The bulk S/MIME commands' way of working (import, report, rotate over many users): bounded
 * parallelism, not Gmail batch requests. A batch carries one access token, so one impersonated
 * user, while a bulk command makes one to three calls per user, each user with a token of its
 * own: batching would save nothing. Calls for different users run side by side instead, at most
 * `--concurrency` at once (DEFAULT_CONCURRENCY, at most MAX_CONCURRENCY); a "slow down" from
 * Google pauses them all (slow-down.ts).
 *
 * Each item's output and audit lines are handed on in input order (ordered-pool.ts): the audit
 * lines an item's changes make are held, and written when its turn comes, just before its output.
 * Interrupted (Ctrl-C), a command starts nothing new, lets the items in flight finish, and writes
 * everything done: a rerun skips what is done (import) or finds nothing to change (rotate).
 */
import { runOrdered, type OrderedRun } from './ordered-pool.js';
import { HeldAudit, type SmimeService } from './service.js';

export const DEFAULT_CONCURRENCY = 20;
/** Google's own batch limit for Gmail is 50 calls; more at once only invites "slow down". */
export const MAX_CONCURRENCY = 50;

export interface BulkOptions {
  concurrency: number;
  /** Aborted on Ctrl-C: nothing new starts. */
  signal?: AbortSignal | undefined;
}

export interface BulkRun extends OrderedRun {
  /** An audit line could not be written: the run stopped there (the item's own error says more). */
  auditFailed: boolean;
}

/**
 * Run `work` for every item with `service` holding its audit lines; in input order, write each
 * item's audit lines, then `emit` its result (with the audit error, if its lines could not be
 * written: then nothing new starts).
 */
export async function runBulk<T, R>(
  service: SmimeService,
  items: readonly T[],
  options: BulkOptions,
  work: (item: T, service: SmimeService) => Promise<R>,
  emit: (result: R, item: T, auditError: Error | undefined) => void,
): Promise<BulkRun> {
  // Stopped by Ctrl-C (options.signal) or by an audit line that cannot be written.
  const stop = new AbortController();
  if (options.signal?.aborted) stop.abort();
  options.signal?.addEventListener('abort', () => stop.abort(), { once: true });
  let auditFailed = false;
  const run = await runOrdered(
    items,
    { concurrency: options.concurrency, signal: stop.signal },
    async (item) => {
      const held = new HeldAudit();
      return { held, result: await work(item, service.holding(held)) };
    },
    async ({ held, result }, i) => {
      let auditError: Error | undefined;
      try {
        await service.writeHeld(held);
      } catch (err) {
        auditError = err as Error;
        auditFailed = true;
        stop.abort();
      }
      emit(result, items[i]!, auditError);
    },
  );
  return { ...run, interrupted: run.interrupted && !auditFailed && options.signal?.aborted === true, auditFailed };
}
