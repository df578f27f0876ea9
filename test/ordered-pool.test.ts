/** Bounded concurrency with results in list order: the bulk S/MIME commands' runner. */
import { describe, expect, it } from 'vitest';
import { runOrdered } from '../src/smime/ordered-pool.js';

/** Work whose completion the test decides: `finish(i)` completes item i (or fails it). */
function controlled() {
  const pending = new Map<number, { resolve: (v: string) => void; reject: (e: Error) => void }>();
  const started: number[] = [];
  let running = 0;
  let maxRunning = 0;
  return {
    started,
    get running() {
      return running;
    },
    get maxRunning() {
      return maxRunning;
    },
    work: (item: string, i: number) =>
      new Promise<string>((resolve, reject) => {
        started.push(i);
        maxRunning = Math.max(maxRunning, ++running);
        pending.set(i, {
          resolve: (v) => {
            running--;
            resolve(v);
          },
          reject: (e) => {
            running--;
            reject(e);
          },
        });
      }),
    finish: async (i: number, error?: Error) => {
      const p = pending.get(i)!;
      pending.delete(i);
      if (error) p.reject(error);
      else p.resolve(`done ${i}`);
      for (let k = 0; k < 10; k++) await new Promise((r) => setImmediate(r));
    },
  };
}

const items = (n: number) => Array.from({ length: n }, (_, i) => `item${i}`);

describe('runOrdered', () => {
  it('hands results on in list order whatever order they complete in, never more than `concurrency` at once', async () => {
    const c = controlled();
    const emitted: number[] = [];
    const run = runOrdered(items(20), { concurrency: 4 }, c.work, (_r, i) => void emitted.push(i));
    // complete them in a scrambled order, as Google's latency would
    const order = [3, 1, 2, 0, 7, 5, 6, 4, 9, 8, 11, 10, 15, 12, 13, 14, 19, 16, 18, 17];
    for (const i of order) {
      while (!c.started.includes(i)) await new Promise((r) => setImmediate(r));
      expect(c.running).toBeLessThanOrEqual(4);
      await c.finish(i);
      // everything emitted is a prefix of the list
      expect(emitted).toEqual(emitted.map((_x, k) => k));
    }
    expect(await run).toEqual({ done: 20, interrupted: false });
    expect(emitted).toEqual(order.map((_x, k) => k));
    expect(c.maxRunning).toBe(4);
  });

  it('starts at most `window` items past the first not yet handed on', async () => {
    const c = controlled();
    const run = runOrdered(items(30), { concurrency: 4, window: 6 }, c.work, () => undefined);
    await new Promise((r) => setImmediate(r));
    // item 0 is slow: 1-5 finish, but nothing past item 5 starts until 0 is handed on
    for (const i of [1, 2, 3, 4, 5]) {
      while (!c.started.includes(i)) await new Promise((r) => setImmediate(r));
      await c.finish(i);
    }
    expect(Math.max(...c.started)).toBe(5);
    await c.finish(0);
    for (let i = 6; i < 30; i++) {
      while (!c.started.includes(i)) await new Promise((r) => setImmediate(r));
      await c.finish(i);
    }
    expect(await run).toEqual({ done: 30, interrupted: false });
  });

  it('on abort: starts nothing new, lets those in flight finish, hands on everything started, in order', async () => {
    const c = controlled();
    const stop = new AbortController();
    const emitted: number[] = [];
    const run = runOrdered(items(50), { concurrency: 5, signal: stop.signal }, c.work, (_r, i) => void emitted.push(i));
    await new Promise((r) => setImmediate(r));
    await c.finish(1);
    await c.finish(0);
    stop.abort();
    const inFlight = c.started.filter((i) => i > 1);
    expect(inFlight.length).toBeGreaterThan(0);
    for (const i of inFlight.reverse()) await c.finish(i);
    const result = await run;
    expect(result.interrupted).toBe(true);
    expect(emitted).toEqual(c.started.slice().sort((a, b) => a - b));
    expect(result.done).toBe(emitted.length);
    expect(emitted.length).toBeLessThan(50);
  });

  it('a work that throws stops the run after the results before it; the error comes out', async () => {
    const c = controlled();
    const emitted: number[] = [];
    const run = runOrdered(items(10), { concurrency: 3 }, c.work, (_r, i) => void emitted.push(i)).then(
      () => 'no error',
      (e: Error) => e.message,
    );
    await new Promise((r) => setImmediate(r));
    await c.finish(0);
    await c.finish(2);
    await c.finish(1, new Error('boom'));
    // nothing new starts; those in flight finish
    const inFlight = c.started.filter((i) => i > 2);
    for (const i of inFlight) await c.finish(i);
    expect(await run).toBe('boom');
    expect(emitted).toEqual([0]);
    expect(c.started).toEqual([0, 1, 2, ...inFlight]);
    expect(inFlight.length).toBeLessThanOrEqual(2);
  });

  it('an empty list is done at once', async () => {
    expect(await runOrdered([], { concurrency: 3 }, async () => 1, () => undefined)).toEqual({ done: 0, interrupted: false });
  });
});
