/** Google's "slow down" to S/MIME calls: waited out by every call of the command, on a driven clock. */
import { describe, expect, it } from 'vitest';
import { SmimeError } from '../src/smime/errors.js';
import { SLOW_DOWN_BACKOFF_MS, SLOW_DOWN_MAX_WAIT_MS, SLOW_DOWN_TRIES, SlowDownGate } from '../src/smime/slow-down.js';
import { TEST_EPOCH, TestClock } from './support/test-clock.js';

const slowDown = (retryAfter?: number) => new SmimeError('smime.rate_limited', 'listing … failed: User-rate limit exceeded', retryAfter ? { retryAfter: new Date(retryAfter) } : {});

/** A call that answers from `answers` in turn (an error is thrown), recording the clock at each try. */
function scripted(clock: TestClock, answers: (Error | string)[]) {
  const at: number[] = [];
  return {
    at,
    call: async () => {
      at.push(clock.now());
      const a = answers.shift() ?? 'ok';
      if (a instanceof Error) throw a;
      return a;
    },
  };
}

/** Move the clock in steps of `step` ms until `p` settles. */
async function settle<T>(clock: TestClock, p: Promise<T>, step = 250): Promise<T> {
  let done = false;
  const watched = p.finally(() => (done = true));
  await clock.tick(); // the first try's answer, before time moves
  for (let i = 0; i < 100_000 && !done; i++) await clock.advance(step);
  return watched;
}

describe('SlowDownGate', () => {
  it("waits for Google's stated time, and every other call waits with it", async () => {
    const clock = new TestClock();
    const gate = new SlowDownGate({ clock, random: () => 0.5 });
    const a = scripted(clock, [slowDown(TEST_EPOCH + 7_000)]);
    const b = scripted(clock, []);
    const first = gate.run(a.call);
    await clock.tick();
    const second = gate.run(b.call); // started during the pause: waits for it too
    await clock.advance(6_999);
    expect(a.at).toEqual([TEST_EPOCH]);
    expect(b.at).toEqual([]);
    await clock.advance(1);
    expect(await first).toBe('ok');
    expect(await second).toBe('ok');
    expect(a.at).toEqual([TEST_EPOCH, TEST_EPOCH + 7_000]);
    expect(b.at).toEqual([TEST_EPOCH + 7_000]);
    expect(gate.slowDowns).toBe(1);
  });

  it('backs off, doubling, when no usable time is stated (missing, or already past)', async () => {
    const clock = new TestClock();
    const gate = new SlowDownGate({ clock, random: () => 0.5 });
    const a = scripted(clock, [slowDown(), slowDown(TEST_EPOCH - 60_000), slowDown()]);
    expect(await settle(clock, gate.run(a.call))).toBe('ok');
    const gaps = a.at.slice(1).map((t, i) => t - a.at[i]!);
    expect(gaps).toEqual([SLOW_DOWN_BACKOFF_MS, 2 * SLOW_DOWN_BACKOFF_MS, 4 * SLOW_DOWN_BACKOFF_MS]);
  });

  it('gives up, with Google\'s answer, when told to wait too long or too often; other errors at once', async () => {
    const clock = new TestClock();
    const gate = new SlowDownGate({ clock, random: () => 0.5 });
    const far = scripted(clock, [slowDown(TEST_EPOCH + SLOW_DOWN_MAX_WAIT_MS + 60_000)]);
    await expect(gate.run(far.call)).rejects.toMatchObject({ code: 'smime.rate_limited' });
    expect(far.at).toHaveLength(1);

    const always = scripted(clock, Array.from({ length: 20 }, () => slowDown()));
    expect(await settle(clock, gate.run(always.call).catch((e: SmimeError) => e.code), 5_000)).toBe('smime.rate_limited');
    expect(always.at).toHaveLength(SLOW_DOWN_TRIES);

    const other = scripted(clock, [new SmimeError('smime.not_found', 'no such alias')]);
    await expect(gate.run(other.call)).rejects.toMatchObject({ code: 'smime.not_found' });
    expect(other.at).toHaveLength(1);
  });
});
