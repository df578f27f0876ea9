/**
 * Google's documented Gmail API quotas for `users.messages.send`, and the pace the relay keeps
 * under them by default (docs/pacing.md says why these numbers).
 *
 * - per user: 15,000 quota units per minute (older pages: 250 units per second, moving
 *   average); a send costs 100 units, so 150 sends a minute, 2.5 a second;
 * - per project: 1,200,000 units per minute, 12,000 sends a minute, 200 a second, shared by
 *   every user a project's service accounts send as.
 *
 * Google counts a minute as a sliding window: a pace of `rate` per second with a token bucket of
 * `burst` puts at most `burst + 60 × rate` sends into any minute, so the burst is chosen to keep
 * that within the window's limit.
 */

export const SEND_UNITS = 100;
export const USER_UNITS_PER_MINUTE = 15_000;
export const PROJECT_UNITS_PER_MINUTE = 1_200_000;

export const USER_SENDS_PER_MINUTE = USER_UNITS_PER_MINUTE / SEND_UNITS;
export const PROJECT_SENDS_PER_MINUTE = PROJECT_UNITS_PER_MINUTE / SEND_UNITS;

/** The share of Google's rate the relay aims at: close to it, with room for clock drift and jitter. */
export const TARGET_SHARE = 0.96;

/** Default ceiling of each user's adaptive pace (queue.userRate unset): 2.4 sends/s. */
export const USER_TARGET_RATE = (USER_SENDS_PER_MINUTE / 60) * TARGET_SHARE;
/** The pace of all users of one service account together: 192 sends/s. */
export const PROJECT_TARGET_RATE = (PROJECT_SENDS_PER_MINUTE / 60) * TARGET_SHARE;

/**
 * The token bucket's size for a pace: at most one second's worth (`rate`), at most what keeps
 * `burst + 60 × rate` within `perMinute`, and at least one send.
 */
export function burstFor(rate: number, perMinute: number): number {
  return Math.max(1, Math.min(rate, perMinute - 60 * rate));
}
