/**
 * Google's "slow down" to the S/MIME calls (429, 403 rateLimitExceeded: smime.rate_limited),
 * shared by every call of one command: when one call is told to slow down, all of them wait
 * (the bulk commands run many at once, and it is the service account's rate Google counts),
 * then the refused call is tried again. A refused call was not done, so trying an insert again
 * cannot upload twice.
 *
 * The wait is Google's stated time when it is usable (later than now; "Retry after" can be late
 * or wrong, it is a hint), else a doubling backoff with jitter; a stated time too far ahead
 * (SLOW_DOWN_MAX_WAIT_MS) ends the call with Google's answer, and a rerun does the rest.
 */
import { sleep, systemClock, type Clock } from '../clock.js';
import { SmimeError } from './errors.js';

/** Tries of one call, the first included. */
export const SLOW_DOWN_TRIES = 8;
/** First backoff without a usable stated time; doubles each time, at most SLOW_DOWN_BACKOFF_MAX_MS. */
export const SLOW_DOWN_BACKOFF_MS = 1_000;
export const SLOW_DOWN_BACKOFF_MAX_MS = 64_000;
/** A command waits at most this long for a stated time: an admin is watching. */
export const SLOW_DOWN_MAX_WAIT_MS = 300_000;

export const isSlowDown = (err: unknown): err is SmimeError => err instanceof SmimeError && err.code === 'smime.rate_limited';

export class SlowDownGate {
  /** Nothing is sent before this (the clock's ms). */
  private until = 0;
  /** Slow-downs seen (a bulk command reports them). */
  slowDowns = 0;
  private readonly clock: Clock;
  private readonly random: () => number;

  constructor(options: { clock?: Clock; random?: () => number } = {}) {
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
  }

  /** Run `call`, waiting first for any pause, and again after each "slow down" answer. */
  async run<T>(call: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const wait = this.until - this.clock.now();
      if (wait > 0) await sleep(this.clock, wait);
      try {
        return await call();
      } catch (err) {
        if (!isSlowDown(err) || attempt >= SLOW_DOWN_TRIES) throw err;
        this.slowDowns++;
        const now = this.clock.now();
        const stated = err.retryAfter?.getTime();
        if (stated !== undefined && Number.isFinite(stated) && stated > now + SLOW_DOWN_MAX_WAIT_MS) throw err;
        const backoff = Math.min(SLOW_DOWN_BACKOFF_MS * 2 ** (attempt - 1), SLOW_DOWN_BACKOFF_MAX_MS) * (0.75 + this.random() / 2);
        const at = stated !== undefined && Number.isFinite(stated) && stated > now ? stated : now + backoff;
        this.until = Math.max(this.until, at);
      }
    }
  }
}
