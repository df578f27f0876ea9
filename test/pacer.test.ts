/** Per-user pacing: rate, Google's "slow down", and the rolling daily counts. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Pacer, type PacerLimits } from '../src/queue/pacer.js';
import { removeDir, tempDir } from './support/harness.js';

const limits = (over: Partial<PacerLimits> = {}): PacerLimits => ({
  userRate: 2,
  dailyMessages: 1800,
  dailyRecipients: 9000,
  rateLimitBackoff: 30_000,
  ...over,
});
const T0 = Date.parse('2026-11-22T08:00:00Z');

describe('Pacer', () => {
  let dir: string | undefined;
  afterEach(() => dir && removeDir(dir));

  it('lets a user send at its configured rate after a burst of that size, per user', () => {
    const p = new Pacer(limits({ userRate: 2 }));
    expect(p.readyAt('a', T0)).toBe(T0);
    p.take('a', T0);
    p.take('a', T0);
    expect(p.readyAt('a', T0)).toBe(T0 + 500);
    expect(p.readyAt('b', T0)).toBe(T0); // other users are not affected
    p.take('a', T0 + 500);
    expect(p.readyAt('a', T0 + 500)).toBe(T0 + 1000);
  });

  it('waits until the time Google stated, even hours away', () => {
    const p = new Pacer(limits());
    const until = p.rateLimited('a', T0, new Date(T0 + 3 * 3_600_000));
    expect(until).toBe(T0 + 3 * 3_600_000);
    expect(p.readyAt('a', T0 + 3_600_000)).toBe(T0 + 3 * 3_600_000);
    expect(p.readyAt('b', T0)).toBe(T0);
  });

  it('backs off (doubling, capped) when the stated time is in the past or missing, never spinning', () => {
    const p = new Pacer(limits({ rateLimitBackoff: 30_000 }));
    expect(p.rateLimited('a', T0, new Date(T0 - 60_000))).toBe(T0 + 30_000);
    expect(p.rateLimited('a', T0 + 30_000, undefined)).toBe(T0 + 30_000 + 60_000);
    expect(p.rateLimited('a', T0 + 90_000, new Date(Number.NaN))).toBe(T0 + 90_000 + 120_000);
    for (let i = 0; i < 30; i++) p.rateLimited('a', T0, undefined);
    expect(p.readyAt('a', T0)).toBeLessThanOrEqual(T0 + 30 * 60_000 + 210_000);
    p.sent('a', 1, T0 + 300_000); // a send that goes through ends the streak
    expect(p.rateLimited('a', T0 + 400_000, undefined)).toBeGreaterThanOrEqual(T0 + 400_000);
  });

  it('holds a user at the rolling daily message and recipient limits until the window frees up', () => {
    const p = new Pacer(limits({ dailyMessages: 3, dailyRecipients: 10 }));
    p.sent('a', 2, T0);
    p.sent('a', 2, T0 + 60_000);
    expect(p.checkDaily('a', 1, T0 + 120_000)).toEqual({ ok: true });
    p.sent('a', 2, T0 + 120_000);
    const over = p.checkDaily('a', 1, T0 + 180_000);
    expect(over).toMatchObject({ ok: false, messages: 3, recipients: 6 });
    // the oldest send leaves the window 24 h after its minute
    expect(!over.ok && over.until).toBe(T0 + 60_000 + 86_400_000);
    const r = new Pacer(limits({ dailyMessages: 100, dailyRecipients: 10 }));
    r.sent('a', 8, T0);
    expect(r.checkDaily('a', 2, T0)).toEqual({ ok: true });
    expect(r.checkDaily('a', 3, T0)).toMatchObject({ ok: false, recipients: 8 }); // recipients count too
    expect(p.checkDaily('a', 1, T0 + 60_000 + 86_400_000)).toEqual({ ok: true });
    expect(p.checkDaily('b', 1, T0)).toEqual({ ok: true });
  });

  it('keeps the rolling counts across a restart', async () => {
    dir = tempDir();
    const file = path.join(dir, 'pace.json');
    const p = new Pacer(limits({ dailyMessages: 2 }), file);
    p.sent('a@clinic.example', 1, T0);
    p.sent('a@clinic.example', 1, T0 + 1000);
    await p.save(T0 + 2000);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toHaveProperty(['a@clinic.example']);
    const q = new Pacer(limits({ dailyMessages: 2 }), file);
    await q.load(T0 + 3000);
    expect(q.checkDaily('a@clinic.example', 1, T0 + 3000)).toMatchObject({ ok: false, messages: 2 });
    const later = new Pacer(limits({ dailyMessages: 2 }), file);
    await later.load(T0 + 2 * 86_400_000);
    expect(later.checkDaily('a@clinic.example', 1, T0 + 2 * 86_400_000)).toEqual({ ok: true });
  });
});
