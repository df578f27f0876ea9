/** Per-user pacing: rate, Google's "slow down", and the rolling daily counts. */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Pacer, STATED_WAIT_MAX, type PacerLimits } from '../src/queue/pacer.js';
import { LogCapture } from './support/harness.js';
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
  it('believes a stated time at most a day ahead (a garbled date must not strand the user)', () => {
    const p = new Pacer(limits());
    expect(p.rateLimited('a', T0, new Date('+099999-01-01T00:00:00Z'))).toBe(T0 + STATED_WAIT_MAX);
    expect(p.readyAt('a', T0 + STATED_WAIT_MAX)).toBe(T0 + STATED_WAIT_MAX);
  });

  it('lets a message with more recipients than the daily limit go once the window is empty', () => {
    const p = new Pacer(limits({ dailyRecipients: 50 }));
    expect(p.checkDaily('a', 60, T0)).toEqual({ ok: true }); // nothing counted yet
    p.sent('a', 5, T0);
    const held = p.checkDaily('a', 60, T0 + 60_000);
    expect(held).toMatchObject({ ok: false });
    // it waits for the earlier send to leave the window, not for ever
    expect(!held.ok && held.until).toBe(T0 + 60_000 + 86_400_000);
    expect(p.checkDaily('a', 60, T0 + 60_000 + 86_400_000)).toEqual({ ok: true });
  });

  it('saves the counts one save at a time, through a temp file, and says when it cannot', async () => {
    dir = tempDir();
    const file = path.join(dir, 'state', 'pace.json');
    const log = new LogCapture();
    const p = new Pacer(limits(), file, log.logger);
    p.sent('a@clinic.example', 1, T0);
    // two saves at once (the interval's and the one at stop) do not write the temp file together
    await Promise.all([p.save(T0), p.save(T0), p.save(T0)]);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toHaveProperty(['a@clinic.example']);
    expect(existsSync(`${file}.tmp`)).toBe(false);
    // a save that fails keeps the counts dirty, logs once, and the next save writes them
    p.sent('b@clinic.example', 1, T0 + 1000);
    mkdirSync(`${file}.tmp`); // the temp file cannot be opened (EISDIR, even as root)
    await expect(p.save(T0 + 1000)).rejects.toThrow();
    await expect(p.save(T0 + 2000)).rejects.toThrow();
    rmSync(`${file}.tmp`, { recursive: true });
    expect(log.events('pace.save_failed')).toHaveLength(1);
    await p.save(T0 + 3000);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toHaveProperty(['b@clinic.example']);
  });

  it('says so when the saved counts cannot be read, and starts afresh', async () => {
    dir = tempDir();
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'pace.json');
    writeFileSync(file, '{"a@clinic.example": [[1, 2');
    const log = new LogCapture();
    const p = new Pacer(limits({ dailyMessages: 1 }), file, log.logger);
    await p.load(T0);
    expect(log.events('pace.state_unreadable')).toMatchObject([{ level: 'warn' }]);
    expect(p.checkDaily('a@clinic.example', 1, T0)).toEqual({ ok: true });
    // a first start (no file) is not worth a warning
    const quiet = new LogCapture();
    await new Pacer(limits(), path.join(dir, 'absent.json'), quiet.logger).load(T0);
    expect(quiet.lines).toHaveLength(0);
  });

  it('counts the refusals of sends already in flight as one pause, not a doubled one', () => {
    const p = new Pacer(limits({ rateLimitBackoff: 30_000 }));
    expect(p.rateLimited('a', T0, undefined)).toBe(T0 + 30_000);
    expect(p.rateLimited('a', T0 + 50, undefined)).toBe(T0 + 30_000); // the second send in flight
    expect(p.rateLimited('a', T0 + 30_000, undefined)).toBe(T0 + 90_000); // refused again after the pause: doubles
  });

  it('decides a daily hold again when a reload changes the daily limits', () => {
    const p = new Pacer(limits({ dailyMessages: 1 }));
    p.sent('a', 1, T0);
    const over = p.checkDaily('a', 1, T0 + 1000);
    expect(over.ok).toBe(false);
    p.holdUntil('a', !over.ok ? over.until : 0, T0 + 1000);
    expect(p.readyAt('a', T0 + 2000)).toBeGreaterThan(T0 + 86_400_000);
    p.setLimits(limits({ dailyMessages: 100 }));
    expect(p.readyAt('a', T0 + 2000)).toBe(T0 + 2000);
    expect(p.checkDaily('a', 1, T0 + 2000)).toEqual({ ok: true });
  });
});

