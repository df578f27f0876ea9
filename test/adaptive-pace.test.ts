/**
 * The adaptive pace on its own: the Pacer, with time as numbers the test moves, against Google's
 * per-user quota as a sliding window (15,000 units a minute = 150 sends).
 */
import { describe, expect, it } from 'vitest';
import { Pacer, type PacerLimits } from '../src/queue/pacer.js';
import { PROJECT_TARGET_RATE, USER_SENDS_PER_MINUTE, USER_TARGET_RATE } from '../src/queue/google-quota.js';
import { SlidingWindow } from './support/sliding-window.js';

const T0 = Date.parse('2026-11-22T08:00:00Z');
const limits = (over: Partial<PacerLimits> = {}): PacerLimits => ({ dailyMessages: 100_000, dailyRecipients: 1_000_000, rateLimitBackoff: 30_000, ...over });

interface Run {
  times: number[];
  refused: number;
  end: number;
}

/**
 * One user sends `n` messages as fast as the pacer lets it, against Google's window; `other` is
 * another client of the same user (sends per second) sharing the quota.
 */
function drain(p: Pacer, n: number, o: { window?: SlidingWindow; other?: number; user?: string } = {}): Run {
  const user = o.user ?? 'a';
  const google = o.window ?? new SlidingWindow(USER_SENDS_PER_MINUTE);
  const times: number[] = [];
  let refused = 0;
  let t = T0;
  let otherAt = T0;
  while (times.length < n) {
    t = p.readyAt(user, t);
    if (o.other) {
      for (; otherAt <= t; otherAt += 1000 / o.other) google.request(otherAt);
    }
    p.take(user, t);
    const answer = google.request(t);
    if (answer.ok) {
      times.push(t);
      p.succeeded(user);
    } else {
      refused++;
      p.rateLimited(user, t, new Date(answer.retryAt));
    }
  }
  return { times, refused, end: t };
}

/** Most sends in any window of `ms`. */
function busiest(times: readonly number[], ms: number): number {
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < times.length; hi++) {
    while (times[hi]! - times[lo]! >= ms) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

const pace = (times: readonly number[]) => (times.length - 1) / ((times.at(-1)! - times[0]!) / 1000);

describe('adaptive pace', () => {
  it('unset userRate: 1,000 sends at no less than 90% of Google\'s per-user rate, none refused', () => {
    const p = new Pacer(limits());
    const run = drain(p, 1000);
    expect(run.refused).toBe(0);
    expect(pace(run.times)).toBeGreaterThanOrEqual(2.25);
    expect(pace(run.times)).toBeLessThanOrEqual(2.5);
    // the burst does not break the sliding minute either
    expect(busiest(run.times, 60_000)).toBeLessThanOrEqual(USER_SENDS_PER_MINUTE);
  });

  it('halves the pace when Google says slow down, and climbs back to the ceiling on clean answers', () => {
    const p = new Pacer(limits());
    expect(p.rateOf('a')).toBe(USER_TARGET_RATE);
    p.take('a', T0);
    const until = p.rateLimited('a', T0, new Date(T0 + 5_000));
    expect(until).toBe(T0 + 5_000);
    expect(p.rateOf('a')).toBeCloseTo(USER_TARGET_RATE / 2);
    // sends already in flight come back refused too: one pause, one halving
    p.rateLimited('a', T0 + 10, new Date(T0 + 5_000));
    expect(p.rateOf('a')).toBeCloseTo(USER_TARGET_RATE / 2);
    let t = until;
    const gaps: number[] = [];
    for (let i = 0; i < 40; i++) {
      const next = p.readyAt('a', t);
      expect(next).toBeGreaterThanOrEqual(until);
      if (i > 1) gaps.push(next - t);
      t = next;
      p.take('a', t);
      p.succeeded('a');
    }
    // right after the pause: well below the ceiling's pace (1.2/s, plus a step per clean answer)
    expect(gaps[0]).toBeGreaterThan(1000 / (USER_TARGET_RATE * 0.6));
    expect(p.rateOf('a')).toBe(USER_TARGET_RATE);
    // back at the ceiling's pace (a gap rounds to the millisecond either way)
    expect(Math.abs(gaps.at(-1)! - 1000 / USER_TARGET_RATE)).toBeLessThan(1);
    expect(gaps.every((g, i) => i === 0 || g <= gaps[i - 1]! + 1)).toBe(true); // it speeds up, never slows, on clean answers
  });

  it('a daily limit pauses the user without slowing its pace', () => {
    const p = new Pacer(limits());
    p.rateLimited('a', T0, new Date(T0 + 3_600_000), 'daily');
    expect(p.rateOf('a')).toBe(USER_TARGET_RATE);
    expect(p.readyAt('a', T0)).toBe(T0 + 3_600_000);
  });

  it('never goes above an explicit userRate, however clean the answers', () => {
    const p = new Pacer(limits({ userRate: 1 }));
    const run = drain(p, 300);
    const gaps = run.times.slice(1).map((x, i) => x - run.times[i]!);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(1000);
    expect(p.rateOf('a')).toBe(1);
    // after a slow-down it comes back to 1, not past it
    p.rateLimited('a', run.end, undefined);
    const after = drain(p, 100).times;
    expect(Math.min(...after.slice(1).map((x, i) => x - after[i]!))).toBeGreaterThanOrEqual(1000);
    expect(p.rateOf('a')).toBe(1);
  });

  it('a reload with a new userRate starts every user from the new ceiling', () => {
    const p = new Pacer(limits());
    p.take('a', T0);
    p.rateLimited('a', T0, undefined);
    expect([...p.slowed()]).toEqual(['a']);
    p.setLimits(limits({ userRate: 0.5 }));
    expect(p.rateOf('a')).toBe(0.5);
    // still paused by the 429, but no longer slowed: the new ceiling is its pace
    expect([...p.paused(T0)].map((u) => u.user)).toEqual(['a']);
    expect([...p.slowed()]).toEqual([]);
  });

  it("finds the share left by another client of the same user, with few refusals", () => {
    // another tool sends as this user at 1/s: 1.5 sends/s of Google's 2.5 are left
    const p = new Pacer(limits());
    const run = drain(p, 1000, { other: 1 });
    expect(run.refused / 1000).toBeLessThanOrEqual(0.05);
    expect(pace(run.times)).toBeGreaterThanOrEqual(1.5 * 0.75);
  });

  it("shares Google's per-project rate among all users of one service account", () => {
    const p = new Pacer(limits());
    const pool = 'gmail-api:/etc/workspace-relay/key.json';
    const users = Array.from({ length: 1000 }, (_, i) => `u${i}`);
    // every user's first send at T0: the pool lets its burst go, then the rest at its rate
    const started: number[] = [];
    let t = T0;
    for (const u of users) {
      t = p.readyAt(u, t, pool);
      started.push(t);
      p.take(u, t, pool);
    }
    const atOnce = started.filter((x) => x === T0).length;
    expect(atOnce).toBeLessThan(users.length);
    // the pool's sends across users: within Google's 200/s, above 90% of it
    const rest = started.slice(atOnce);
    expect(busiest(started, 60_000)).toBeLessThanOrEqual(12_000);
    expect(pace(rest)).toBeLessThanOrEqual(200);
    expect(pace(rest)).toBeGreaterThanOrEqual(PROJECT_TARGET_RATE * 0.99);
    // another service account's users do not wait for this one's
    expect(p.readyAt('other', T0, 'gmail-api:/etc/workspace-relay/other.json')).toBe(T0);
    // and a user without a pool (Gmail SMTP) waits only for its own pace
    expect(p.readyAt('smtp-user', T0)).toBe(T0);
  });
});
