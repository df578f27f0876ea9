/**
 * The one clock of the relay: the time (ms since the epoch) and timers. Every part whose
 * behaviour depends on time (retry schedule, pacing, delay notices, receivedAt, login throttle,
 * device rate, backpressure polling, the sent log's retention) takes a `Clock`, so a test drives
 * it (test/support/test-clock.ts) instead of waiting. Socket timeouts inside smtp-server, the
 * control socket's waits and the delivery thread (a clock cannot cross to a thread: see
 * docs/lifecycle.md) keep the real one.
 *
 * A leaf module: anyone may import it.
 */

/** A pending timer: `cancel` is idempotent; `unref` lets the process exit while it waits. */
export interface Timer {
  cancel(): void;
  unref(): Timer;
}

export interface Clock {
  /** Milliseconds since the epoch (what Date.now() gives). */
  now(): number;
  /** Run `fn` once, `ms` from now. */
  setTimeout(fn: () => void, ms: number): Timer;
  /** Run `fn` every `ms`. */
  setInterval(fn: () => void, ms: number): Timer;
}

/** Node's timers are capped at 2^31-1 ms (about 24.8 days): later means at that point. */
const MAX_DELAY = 2 ** 31 - 1;

function wrap(t: NodeJS.Timeout, clear: (t: NodeJS.Timeout) => void): Timer {
  const timer: Timer = {
    cancel: () => clear(t),
    unref: () => {
      t.unref();
      return timer;
    },
  };
  return timer;
}

/** The real time and Node's timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => wrap(setTimeout(fn, Math.min(Math.max(ms, 0), MAX_DELAY)), clearTimeout),
  setInterval: (fn, ms) => wrap(setInterval(fn, Math.min(Math.max(ms, 1), MAX_DELAY)), clearInterval),
};

/** Resolves `ms` from now on `clock`. */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}

/** The clock's time as an ISO 8601 string (receivedAt, nextAttemptAt, lastError.at…). */
export function isoNow(clock: Clock): string {
  return new Date(clock.now()).toISOString();
}
