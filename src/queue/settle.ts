/**
 * The two guards around the scheduler's side effects: `settle` retries a spool state change out
 * of active/ until it succeeds, and `observe` keeps a failed notice step from failing the delivery.
 */
import { sleep, type Clock } from '../clock.js';
import { errorText } from '../errors.js';
import type { Logger } from '../log.js';

export interface SettleContext {
  clock: Clock;
  /** Stopping: give up (a stop leaves the message in active/; the next start puts it back). */
  stopped(): boolean;
}

/**
 * A state change out of active/ (release, kill, split, complete) that fails (disk full, EIO) is
 * retried with backoff, so the message is never stranded in active/ while the relay runs.
 */
export async function settle(ctx: SettleContext, what: string, id: string, log: Logger, op: () => Promise<void>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await op();
      return;
    } catch (err) {
      log.error({ event: 'queue.state_change_failed', what, queueId: id, attempt, err: errorText(err), alert: attempt >= 3 }, `could not ${what} the message; retrying`);
      if (ctx.stopped()) return;
      await sleep(ctx.clock, Math.min(500 * 2 ** attempt, 60_000));
    }
  }
}

/** Run a notice step (observer call); its errors are logged, never fatal to the delivery. */
export async function observe(log: Logger, fn: () => void | Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    log.error({ event: 'notify.error', err: errorText(err) }, 'notification step failed');
  }
}
