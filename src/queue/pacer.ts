/**
 * Per-sending-user pacing under Gmail's limits: a token bucket for the send rate, a "blocked
 * until" time when Google says slow down (429 / rateLimitExceeded, with or without a usable
 * "Retry after"), and rolling 24 h counts of messages and recipients, persisted across restarts,
 * that hold a user's mail before Google blocks the account.
 */
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { errorText } from '../errors.js';
import type { Logger } from '../log.js';
import { nodeSpoolFs } from '../spool/spool-fs.js';

export interface PacerLimits {
  /** Sends per second per user. */
  userRate: number;
  dailyMessages: number;
  dailyRecipients: number;
  /** First pause after a rate-limit answer that stated no usable time; doubles, at most 30 min. */
  rateLimitBackoff: number;
}

const DAY = 86_400_000;
const BUCKET = 60_000;
const BACKOFF_MAX = 1_800_000;
/**
 * The latest "Retry after" believed: Google's per-user limits roll over within a day, so a later
 * stated time (a malformed date read as the year 99999, say) would only strand the user's mail.
 */
export const STATED_WAIT_MAX = DAY;

interface UserState {
  tokens: number;
  refilledAt: number;
  /** Google said slow down: nothing before this. */
  blockedUntil: number;
  /** Held at the daily limit until this (recomputed when the limits change). */
  dailyUntil: number;
  rateLimitStreak: number;
  /** minute bucket start → [messages, recipients] */
  buckets: Map<number, [number, number]>;
  dailyWarned: boolean;
}

export type DailyCheck = { ok: true } | { ok: false; until: number; messages: number; recipients: number };

export class Pacer {
  private readonly users = new Map<string, UserState>();
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
    this.limits = limits;
    // Raised (or lowered) daily limits: every daily hold is decided again at the next check.
    if (dailyChanged) for (const s of this.users.values()) s.dailyUntil = 0;
  }

  private state(user: string, now: number): UserState {
    let s = this.users.get(user);
    if (!s) {
      s = { tokens: this.burst(), refilledAt: now, blockedUntil: 0, dailyUntil: 0, rateLimitStreak: 0, buckets: new Map(), dailyWarned: false };
      this.users.set(user, s);
    }
    return s;
  }

  private burst(): number {
    return Math.max(1, this.limits.userRate);
  }

  /** Earliest time this user may send again (now or later). */
  readyAt(user: string, now: number): number {
    const s = this.users.get(user);
    if (!s) return now;
    this.refill(s, now);
    const tokenAt = s.tokens >= 1 ? now : now + Math.ceil(((1 - s.tokens) / this.limits.userRate) * 1000);
    return Math.max(tokenAt, s.blockedUntil, s.dailyUntil);
  }

  /** Use one send of this user's rate (call when a delivery starts). */
  take(user: string, now: number): void {
    const s = this.state(user, now);
    this.refill(s, now);
    s.tokens -= 1;
  }

  /**
   * Google said slow down: block the user until its stated time when that is usable (in the
   * future; at most STATED_WAIT_MAX ahead), else back off. Returns the time the user may send
   * again.
   */
  rateLimited(user: string, now: number, retryAfter: Date | undefined): number {
    const s = this.state(user, now);
    const stated = retryAfter?.getTime();
    const usable = stated !== undefined && Number.isFinite(stated) && stated > now;
    // Sends already in flight when the pause began come back refused too: they are part of that
    // pause (one backoff step each pause, not one per refusal).
    const paused = now < s.blockedUntil;
    if (paused && !usable) return s.blockedUntil;
    if (!paused) s.rateLimitStreak += 1;
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

  /** A send went through: end any rate-limit backoff. */
  succeeded(user: string): void {
    const s = this.users.get(user);
    if (s) s.rateLimitStreak = 0;
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

  /** True once per stretch of being over the daily limit (to warn once, not per message). */
  firstDailyWarning(user: string): boolean {
    const s = this.users.get(user);
    if (!s || s.dailyWarned) return false;
    s.dailyWarned = true;
    return true;
  }

  private refill(s: UserState, now: number): void {
    const elapsed = Math.max(0, now - s.refilledAt) / 1000;
    s.tokens = Math.min(this.burst(), s.tokens + elapsed * this.limits.userRate);
    s.refilledAt = now;
  }

  private expire(s: UserState, now: number): void {
    for (const start of s.buckets.keys()) if (start + BUCKET + DAY <= now) s.buckets.delete(start);
  }

  /** Load the rolling counts saved by the last run (none on a first start). */
  async load(now: number): Promise<void> {
    if (!this.file) return;
    let doc: Record<string, [number, number, number][]>;
    try {
      doc = JSON.parse(await readFile(this.file, 'utf8')) as typeof doc;
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'ENOENT') {
        this.logger?.warn(
          { event: 'pace.state_unreadable', file: this.file, err: errorText(err) },
          "the saved daily counts cannot be read: each user's rolling 24 h count starts from zero",
        );
      }
      return;
    }
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
    const doc: Record<string, [number, number, number][]> = {};
    for (const [user, s] of this.users) {
      this.expire(s, now);
      if (s.buckets.size) doc[user] = [...s.buckets.entries()].map(([start, [m, r]]) => [start, m, r]);
    }
    const dir = path.dirname(this.file);
    const tmp = `${this.file}.tmp`;
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const handle = await open(tmp, 'w', 0o600);
      try {
        await handle.writeFile(JSON.stringify(doc));
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, this.file);
      await nodeSpoolFs.syncDir(dir);
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
