/** When to try again: the configured schedule, with jitter, never before a stated Retry-After. */

/** Delay before the attempt after `attempts` failed ones (1-based); the last entry repeats. */
export function scheduleDelay(schedule: readonly number[], attempts: number): number {
  const i = Math.min(Math.max(attempts, 1), schedule.length) - 1;
  return schedule[i]!;
}

/** ±10% jitter, so messages deferred together do not all come back in the same second. */
export function withJitter(ms: number, random: () => number): number {
  return Math.round(ms * (0.9 + 0.2 * random()));
}

export interface NextAttemptInput {
  now: number;
  receivedAt: number;
  maxAge: number;
  delay: number;
  retryAfter?: Date | undefined;
}

/**
 * The time of the next attempt, or null when the message has no time left (past max age).
 * The schedule's last attempt is made at max age itself; a Retry-After that Google stated is
 * never anticipated, even when it lies past max age (then that is the last attempt).
 */
export function nextAttemptAt(input: NextAttemptInput): number | null {
  const deadline = input.receivedAt + input.maxAge;
  if (input.now >= deadline) return null;
  const scheduled = Math.min(input.now + input.delay, deadline);
  const stated = input.retryAfter?.getTime();
  if (stated !== undefined && Number.isFinite(stated) && stated > scheduled) return stated;
  return scheduled;
}
