/** What the Pacer (pacer.ts) is given and what it answers. */
export interface PacerLimits {
  /**
   * Ceiling of each user's pace, sends per second. Unset: Google's documented per-user rate
   * (USER_TARGET_RATE); either way the pace adapts below it on "slow down" answers.
   */
  userRate?: number | undefined;
  dailyMessages: number;
  dailyRecipients: number;
  /** First pause after a rate-limit answer that stated no usable time; doubles, at most 30 min. */
  rateLimitBackoff: number;
}

/** What a "slow down" answer was about: the pace (halve it) or a daily limit (only wait). */
export type SlowDown = 'rate' | 'daily';

/** May this user send now under the rolling 24 h limits, or until when is it held. */
export type DailyCheck = { ok: true } | { ok: false; until: number; messages: number; recipients: number };
