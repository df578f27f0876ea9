/**
 * A clock a test drives: time stands still until the test moves it, and timers fire only as it
 * does (in order, each at its own time). Give it to the relay (startRelay's `clock`) or to one
 * part (Scheduler, Notifier, Spool, LoginThrottle…) to test behaviour over hours in milliseconds.
 */
import type { Clock, Timer } from '../../src/clock.js';

interface Pending {
  at: number;
  seq: number;
  fn: () => void;
  every: number | null;
}

/** 2026-09-01 08:00:00 UTC: a fixed, readable start. */
export const TEST_EPOCH = Date.UTC(2026, 8, 1, 8, 0, 0);

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

export class TestClock implements Clock {
  private t: number;
  private seq = 0;
  private readonly timers = new Map<number, Pending>();

  constructor(start: number | Date = TEST_EPOCH) {
    this.t = typeof start === 'number' ? start : start.getTime();
  }

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): Timer {
    return this.add(fn, Math.max(0, ms), null);
  }

  setInterval(fn: () => void, ms: number): Timer {
    return this.add(fn, Math.max(1, ms), Math.max(1, ms));
  }

  /** Timers waiting to fire. */
  get pending(): number {
    return this.timers.size;
  }

  /** When the next timer fires, or undefined when none waits. */
  nextAt(): number | undefined {
    return this.earliest()?.at;
  }

  /** Jump to `ms` without firing anything (a clock step; timers due by then fire at the next advance). */
  set(ms: number | Date): void {
    this.t = typeof ms === 'number' ? ms : ms.getTime();
  }

  /**
   * Move time forward by `ms`, firing every timer due on the way in order, each at its own time,
   * with a few turns of the event loop after each so the promise chains it starts can go on.
   */
  async advance(ms: number): Promise<void> {
    const target = this.t + Math.max(0, ms);
    for (;;) {
      const next = this.earliest();
      if (!next || next.at > target) break;
      this.t = Math.max(this.t, next.at);
      if (next.every === null) this.timers.delete(next.seq);
      else next.at += next.every;
      next.fn();
      for (let i = 0; i < 5; i++) await turn();
    }
    this.t = target;
    for (let i = 0; i < 5; i++) await turn();
  }

  /** Fire what is due now (a timer of 0 ms, e.g.). */
  tick(): Promise<void> {
    return this.advance(0);
  }

  private add(fn: () => void, delay: number, every: number | null): Timer {
    const seq = this.seq++;
    this.timers.set(seq, { at: this.t + delay, seq, fn, every });
    const timer: Timer = {
      cancel: () => void this.timers.delete(seq),
      unref: () => timer,
    };
    return timer;
  }

  private earliest(): Pending | undefined {
    let min: Pending | undefined;
    for (const p of this.timers.values()) if (!min || p.at < min.at || (p.at === min.at && p.seq < min.seq)) min = p;
    return min;
  }
}
