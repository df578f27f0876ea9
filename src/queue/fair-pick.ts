/**
 * Which of one workspace's users goes next (the scheduler asks once per workspace per round, in
 * the due index's round-robin order): the first head that is due, under its user's concurrency
 * and daily limit, and whose pace allows a send now. What is not ready says when it will be.
 */
import type { Logger } from '../log.js';
import type { DueEntry } from './due-index.js';
import type { Pacer } from './pacer.js';

export interface PickContext {
  now: number;
  pacer: Pacer;
  perUser: ReadonlyMap<string, number>;
  perUserConcurrency: number;
  logger: Logger;
  /** A head not ready now will be at `at` (the scheduler's next wake-up). */
  later(at: number): void;
}

export function firstStartable(heads: readonly DueEntry[], c: PickContext): DueEntry | null {
  const { now, pacer } = c;
  for (const head of heads) {
    if (head.at > now) {
      c.later(head.at);
      continue;
    }
    if ((c.perUser.get(head.sender) ?? 0) >= c.perUserConcurrency) continue; // woken when one ends
    // The daily limit first: a user over it is held (and warned about) whatever its pace says.
    const daily = pacer.checkDaily(head.sender, head.recipients, now);
    if (!daily.ok) {
      pacer.holdUntil(head.sender, daily.until, now);
      if (pacer.firstDailyWarning(head.sender)) {
        c.logger.warn(
          { event: 'pace.daily_limit', sender: head.sender, messages: daily.messages, recipients: daily.recipients, until: new Date(daily.until).toISOString() },
          "holding this user's mail: its rolling 24 h count is at the configured limit (queue.dailyMessages / queue.dailyRecipients)",
        );
      }
      c.later(daily.until);
      continue;
    }
    const ready = pacer.readyAt(head.sender, now, head.pool);
    if (ready > now) {
      c.later(ready);
      continue;
    }
    return head;
  }
  return null;
}
