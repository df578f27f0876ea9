/**
 * Per-sending-user pacing under Gmail's limits (docs/pacing.md):
 * - a token bucket per user whose pace adapts (adaptive-rate.ts): near Google's documented
 *   per-user rate by default, never above an explicit queue.userRate, halved when Google says
 *   "slow down" and raised again by clean answers;
 * - a token bucket per service account ("pool"), shared by all its users: Google's per-project
 *   rate (google-quota.ts);
 * - a "blocked until" time when Google says slow down (429 / rateLimitExceeded, with or without a
 *   usable "Retry after");
 * - rolling 24 h counts of messages and recipients, persisted across restarts, that hold a user's
 *   mail before Google blocks the account.
 */
import { errorText } from '../errors.js';
import type { Logger } from '../log.js';
import { faster, slower } from './adaptive-rate.js';
import { readPaceFile, writePaceFile, type PaceDoc } from './pace-file.js';
import { PROJECT_SENDS_PER_MINUTE, PROJECT_TARGET_RATE, USER_SENDS_PER_MINUTE, USER_TARGET_RATE, burstFor } from './google-quota.js';
import { newBucket, takeToken, tokenAt, type Bucket } from './token-bucket.js';
import type { DailyCheck, PacerLimits, SlowDown } from './pacer-types.js';

export type { DailyCheck, PacerLimits, SlowDown } from './pacer-types.js';

const DAY = 86_400_000;
const BUCKET = 60_000;
const BACKOFF_MAX = 1_800_000;
/**
 * The latest "Retry after" believed: Google's per-user limits roll over within a day, so a later
 * stated time (a malformed date read as the year 99999, say) would only strand the user's mail.
 */
export const STATED_WAIT_MAX = DAY;

interface UserState {
  /** The send pace's token bucket, refilled at `rate`. */
  pace: Bucket;
  /** Sends per second now: between MIN_RATE and the ceiling (adaptive-rate.ts). */
  rate: number;
  /** Google said slow down: nothing before this. */
  blockedUntil: number;
  /** Held at the daily limit until this (recomputed when the limits change). */
  dailyUntil: number;
  rateLimitStreak: number;
  /** minute bucket start → [messages, recipients] */
  buckets: Map<number, [number, number]>;
  dailyWarned: boolean;
}

const userBurst = (rate: number) => burstFor(rate, USER_SENDS_PER_MINUTE);
const POOL_BURST = burstFor(PROJECT_TARGET_RATE, PROJECT_SENDS_PER_MINUTE);

export class Pacer {
  private readonly users = new Map<string, UserState>();
  /** Service account → its users' shared bucket (Google's per-project quota). */
  private readonly pools = new Map<string, Bucket>();
  private dirty = false;
  /** Saves run one at a time (the interval's and the one at stop may overlap). */
  private saving: Promise<void> = Promise.resolve();
  private saveFailing = false;

  constructor(
    private limits: PacerLimits,
    private readonly file?: string,
    private readonly logger?: Logger,
  ) {}

  setLimits(limits: PacerLimits): void {
    const dailyChanged = limits.dailyMessages !== this.limits.dailyMessages || limits.dailyRecipients !== this.limits.dailyRecipients;
    const ceilingChanged = limits.userRate !== this.limits.userRate;
    this.limits = limits;
    // Raised (or lowered) daily limits: every daily hold is decided again at the next check.
    if (dailyChanged) for (const s of this.users.values()) s.dailyUntil = 0;
    // A new ceiling: every user starts again from it (the next "slow down" adapts it again).
    if (ceilingChanged) for (const s of this.users.values()) s.rate = this.ceiling();
  }

  /** The highest pace of a user: queue.userRate when set, else Google's documented rate. */
  ceiling(): number {
    return this.limits.userRate ?? USER_TARGET_RATE;
  }

  private state(user: string, now: number): UserState {
    let s = this.users.get(user);
    if (!s) {
      const rate = this.ceiling();
      s = { pace: newBucket(userBurst(rate), now), rate, blockedUntil: 0, dailyUntil: 0, rateLimitStreak: 0, buckets: new Map(), dailyWarned: false };
      this.users.set(user, s);
    }
    return s;
  }

  private pool(key: string, now: number): Bucket {
    let b = this.pools.get(key);
    if (!b) this.pools.set(key, (b = newBucket(POOL_BURST, now)));
    return b;
  }

  /**
   * Earliest time this user may send again (now or later): its own pace, a pause Google asked
   * for, the daily limit, and the pace of its pool (the service account it sends through), if any.
   */
  readyAt(user: string, now: number, pool?: string): number {
    const s = this.users.get(user);
    let at = now;
    if (s) at = Math.max(tokenAt(s.pace, now, s.rate, userBurst(s.rate)), s.blockedUntil, s.dailyUntil);
    const p = pool === undefined ? undefined : this.pools.get(pool);
    if (p) at = Math.max(at, tokenAt(p, now, PROJECT_TARGET_RATE, POOL_BURST));
    return at;
  }

  /** Use one send of this user's pace and of its pool's (call when a delivery starts). */
  take(user: string, now: number, pool?: string): void {
    const s = this.state(user, now);
    takeToken(s.pace, now, s.rate, userBurst(s.rate));
    if (pool !== undefined) takeToken(this.pool(pool, now), now, PROJECT_TARGET_RATE, POOL_BURST);
  }

  /** This user's pace now, sends per second. */
  rateOf(user: string): number {
    return this.users.get(user)?.rate ?? this.ceiling();
  }

  /**
   * Google said slow down: block the user until its stated time when that is usable (in the
   * future; at most STATED_WAIT_MAX ahead), else back off; and, for its pace (not a daily
   * limit), halve the user's pace. Returns the time the user may send again.
   */
  rateLimited(user: string, now: number, retryAfter: Date | undefined, about: SlowDown = 'rate'): number {
    const s = this.state(user, now);
    const stated = retryAfter?.getTime();
    const usable = stated !== undefined && Number.isFinite(stated) && stated > now;
    // Sends already in flight when the pause began come back refused too: they are part of that
    // pause (one backoff step each pause, not one per refusal).
    const paused = now < s.blockedUntil;
    if (paused && !usable) return s.blockedUntil;
    if (!paused) {
      s.rateLimitStreak += 1;
      if (about === 'rate') s.rate = slower(s.rate, this.ceiling());
    }
    const until = usable
      ? Math.min(stated, now + STATED_WAIT_MAX)
      : now + Math.min(this.limits.rateLimitBackoff * 2 ** Math.min(s.rateLimitStreak - 1, 20), Math.max(BACKOFF_MAX, this.limits.rateLimitBackoff));
    s.blockedUntil = Math.max(s.blockedUntil, until);
    return s.blockedUntil;
  }

  /**
   * Count a send for the rolling day when it starts (so sends in flight count too); `uncount`
   * it if it turns out nothing was sent.
   */
  count(user: string, recipients: number, now: number, sign: 1 | -1 = 1): void {
    const s = this.state(user, now);
    const b = Math.floor(now / BUCKET) * BUCKET;
    const cur = s.buckets.get(b) ?? [0, 0];
    cur[0] = Math.max(0, cur[0] + sign);
    cur[1] = Math.max(0, cur[1] + sign * recipients);
    s.buckets.set(b, cur);
    this.dirty = true;
  }

  uncount(user: string, recipients: number, startedAt: number): void {
    this.count(user, recipients, startedAt, -1);
  }

  /** A send went through: end any rate-limit backoff, and raise the pace a step towards its ceiling. */
  succeeded(user: string): void {
    const s = this.users.get(user);
    if (!s) return;
    s.rateLimitStreak = 0;
    s.rate = faster(s.rate, this.ceiling());
  }

  /** Users whose pace is below its ceiling after Google asked them to slow down (metrics). */
  *slowed(): Generator<string> {
    const ceiling = this.ceiling();
    for (const [user, s] of this.users) if (s.rate < ceiling) yield user;
  }


  /** Count and succeed at once (tests, and sends counted after the fact). */
  sent(user: string, recipients: number, now: number): void {
    this.count(user, recipients, now);
    this.succeeded(user);
  }

  /**
   * May this user send a message with this many recipients within the rolling 24 h limits? A
   * message with more recipients than the whole daily limit goes once the user's window is empty
   * (else it, and the user's mail queued behind it, would wait forever).
   */
  checkDaily(user: string, recipients: number, now: number): DailyCheck {
    const s = this.users.get(user);
    if (!s) return { ok: true };
    const need = Math.min(recipients, this.limits.dailyRecipients);
    this.expire(s, now);
    let messages = 0;
    let rcpts = 0;
    for (const [m, r] of s.buckets.values()) {
      messages += m;
      rcpts += r;
    }
    if (messages + 1 <= this.limits.dailyMessages && rcpts + need <= this.limits.dailyRecipients) {
      s.dailyWarned = false;
      return { ok: true };
    }
    // When enough of the oldest sends leave the window.
    let m = messages;
    let r = rcpts;
    let until = now + DAY;
    for (const [start, [bm, br]] of [...s.buckets.entries()].sort((a, b) => a[0] - b[0])) {
      m -= bm;
      r -= br;
      if (m + 1 <= this.limits.dailyMessages && r + need <= this.limits.dailyRecipients) {
        until = start + BUCKET + DAY;
        break;
      }
    }
    return { ok: false, until, messages, recipients: rcpts };
  }

  /** Keep this user's mail back until `until` (daily limit reached). */
  holdUntil(user: string, until: number, now: number): void {
    const s = this.state(user, now);
    s.dailyUntil = Math.max(s.dailyUntil, until);
  }

  /**
   * Users whose mail waits now (metrics): Google asked them to slow down (rate_limited), or their
   * rolling 24 h count is at the limit (daily_limit).
   */
  *paused(now: number): Generator<{ user: string; reason: 'rate_limited' | 'daily_limit' }> {
    for (const [user, s] of this.users) {
      if (s.blockedUntil > now) yield { user, reason: 'rate_limited' };
      else if (s.dailyUntil > now) yield { user, reason: 'daily_limit' };
    }
  }

  /** True once per stretch of being over the daily limit (to warn once, not per message). */
  firstDailyWarning(user: string): boolean {
    const s = this.users.get(user);
    if (!s || s.dailyWarned) return false;
    s.dailyWarned = true;
    return true;
  }

  private expire(s: UserState, now: number): void {
    for (const start of s.buckets.keys()) if (start + BUCKET + DAY <= now) s.buckets.delete(start);
  }

  /** Load the rolling counts saved by the last run (none on a first start). */
  async load(now: number): Promise<void> {
    if (!this.file) return;
    let doc: PaceDoc | null;
    try {
      doc = await readPaceFile(this.file);
    } catch (err) {
      this.logger?.warn(
        { event: 'pace.state_unreadable', file: this.file, err: errorText(err) },
        "the saved daily counts cannot be read: each user's rolling 24 h count starts from zero",
      );
      return;
    }
    if (!doc) return;
    for (const [user, rows] of Object.entries(doc)) {
      const s = this.state(user, now);
      for (const [start, m, r] of rows) if (start + BUCKET + DAY > now) s.buckets.set(start, [m, r]);
    }
  }

  /**
   * Save the rolling counts durably (temp file, fsync, rename, directory fsync), one save at a
   * time; called every few seconds and at stop. A failed save is tried again at the next call
   * and logged once until one succeeds.
   */
  save(now: number): Promise<void> {
    const run = this.saving.then(() => this.saveNow(now));
    this.saving = run.catch(() => undefined);
    return run;
  }

  private async saveNow(now: number): Promise<void> {
    if (!this.file || !this.dirty) return;
    this.dirty = false;
    const doc: PaceDoc = {};
    for (const [user, s] of this.users) {
      this.expire(s, now);
      if (s.buckets.size) doc[user] = [...s.buckets.entries()].map(([start, [m, r]]) => [start, m, r]);
    }
    try {
      await writePaceFile(this.file, doc);
    } catch (err) {
      this.dirty = true;
      if (!this.saveFailing) {
        this.saveFailing = true;
        this.logger?.warn({ event: 'pace.save_failed', file: this.file, err: errorText(err) }, 'could not save the daily counts; trying again');
      }
      throw err;
    }
    this.saveFailing = false;
  }
}
