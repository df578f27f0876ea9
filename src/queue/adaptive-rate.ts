/**
 * Each user's pace adapts to Google's answers, the way TCP adapts to loss (AIMD): halved when
 * Google says "slow down" (429, 403 rateLimitExceeded / userRateLimitExceeded), raised a little
 * with each clean answer, never above its ceiling (queue.userRate when set, else Google's
 * documented rate: google-quota.ts). Other clients of the same user (a second relay, a sync tool,
 * GAM) share Google's per-user quota; this is how the relay finds the share left to it.
 */

/** A "slow down" multiplies the pace by this. */
export const DECREASE = 0.5;
/** Each clean answer adds this share of the ceiling: from half the ceiling back to it in 25 sends. */
export const INCREASE_SHARE = 0.02;
/** The pace never drops below this (sends/s), unless the ceiling is lower. */
export const MIN_RATE = 0.1;

export function slower(rate: number, ceiling: number): number {
  return Math.max(Math.min(MIN_RATE, ceiling), rate * DECREASE);
}

export function faster(rate: number, ceiling: number): number {
  return Math.min(ceiling, rate + ceiling * INCREASE_SHARE);
}
