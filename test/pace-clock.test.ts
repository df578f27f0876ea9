/**
 * The adaptive pace through the scheduler: a real spool and executor, a scripted transport, and a
 * TestClock moved from one timer to the next (each send is recorded at the clock's time), so the
 * pace is checked to the millisecond without waiting for it.
 */
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import type { Config } from '../src/config/index.js';
import type { Transport } from '../src/delivery/types.js';
import { DeliveryError } from '../src/errors.js';
import { PROJECT_TARGET_RATE, USER_TARGET_RATE, burstFor, PROJECT_SENDS_PER_MINUTE } from '../src/queue/google-quota.js';
import { waitUntil } from './support/harness.js';
import { useSchedulerRig } from './support/scheduler-rig.js';
import { TEST_EPOCH } from './support/test-clock.js';

const T0 = TEST_EPOCH;
const gapsOf = (times: readonly number[]) => times.slice(1).map((t, i) => t - times[i]!);

describe('pace through the scheduler, on a driven clock', () => {
  const rig = useSchedulerRig('wr-pace-');
  /** Each send attempt: sender, workspace and the clock's time. */
  let sends: { sender: string; workspace: string; at: number }[];
  /** What the transport answers to the n-th attempt (0-based): 'ok' or an error. */
  let answer: (n: number) => 'ok' | DeliveryError;

  const transport: Transport = {
    name: 'gmail-api',
    async deliver({ meta }) {
      const n = sends.length;
      sends.push({ sender: meta.sender, workspace: meta.workspace, at: rig.clock.now() });
      const a = answer(n);
      if (a !== 'ok') throw a;
      return { providerId: `g-${n}` };
    },
  };

  let config: Config;
  const configFor = (queue: Record<string, unknown>, workspaces?: Record<string, unknown>[]) =>
    parseConfig({
      workspaces: workspaces ?? [{ name: 'clinic', domains: ['clinic.example'], transport: 'gmail-api', gmailApi: { serviceAccountKeyFile: '/keys/clinic.json' } }],
      queue: { dir: path.join(rig.dir, 'spool'), concurrency: 256, ...queue },
    });

  async function start(queue: Record<string, unknown>, workspaces?: Record<string, unknown>[]): Promise<void> {
    config = configFor(queue, workspaces);
    await rig.start(() => config, transport);
  }

  async function accept(sender: string, workspace = 'clinic', n = 1): Promise<void> {
    for (let i = 0; i < n; i++) await rig.accept(sender, { workspace, recipients: [sender], headerRecipients: [sender] });
  }

  /** Move the clock from timer to timer, letting each step's deliveries finish, until `done`. */
  async function drive(done: () => boolean, maxSteps = 5_000): Promise<void> {
    for (let i = 0; i < maxSteps; i++) {
      await waitUntil(() => rig.scheduler!.inFlight === 0, 10_000, 'the deliveries in flight');
      if (done()) return;
      const next = rig.clock.nextAt();
      if (next === undefined) throw new Error('nothing left to wait for');
      await rig.clock.advance(Math.max(0, next - rig.clock.now()));
    }
    throw new Error('too many steps');
  }

  const slowDown = (retryAt: number) =>
    new DeliveryError('delivery.rate_limited', 'temporary', 'Gmail asks to slow down (Gmail: 429 RESOURCE_EXHAUSTED rateLimitExceeded)', {
      retryAfter: new Date(retryAt),
      status: 429,
    });

  beforeEach(() => {
    sends = [];
    answer = () => 'ok';
  });

  it("unset userRate: a user's burst goes out near Google's per-user rate, never faster", async () => {
    await start({});
    await accept('billing@clinic.example', 'clinic', 40);
    await drive(() => sends.length === 40);
    const times = sends.map((s) => s.at);
    const gaps = gapsOf(times).slice(3); // after the token bucket's first burst
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(Math.floor(1000 / USER_TARGET_RATE));
    expect(Math.max(...gaps)).toBeLessThanOrEqual(Math.ceil(1000 / USER_TARGET_RATE));
    expect(39 / ((times.at(-1)! - T0) / 1000)).toBeGreaterThanOrEqual(2.25);
  });

  it('on a 429: waits for the stated time, goes on at half the pace, climbs back to the target', async () => {
    await start({});
    let refusedAt = 0;
    answer = (n) => {
      if (n !== 7) return 'ok';
      refusedAt = rig.clock.now();
      return slowDown(refusedAt + 5_000);
    };
    await accept('billing@clinic.example', 'clinic', 60);
    await drive(() => sends.length === 61);
    expect(await rig.spool.count('queue')).toBe(0);
    expect(rig.logs.events('delivery.deferred')).toMatchObject([{ code: 'delivery.rate_limited' }]);
    const after = sends.slice(8).map((s) => s.at);
    // nothing between the refusal and the stated time
    expect(after[0]).toBe(refusedAt + 5_000);
    const gaps = gapsOf(after);
    // right after the pause: well below the target's pace; at the end: back at it
    expect(gaps[1]).toBeGreaterThan(1000 / (USER_TARGET_RATE * 0.6));
    expect(Math.abs(gaps.at(-1)! - 1000 / USER_TARGET_RATE)).toBeLessThan(1);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(Math.floor(1000 / USER_TARGET_RATE));
    expect(rig.scheduler!.pacer.rateOf('billing@clinic.example')).toBe(USER_TARGET_RATE);
  });

  it('never goes above an explicit userRate, before or after a 429', async () => {
    await start({ userRate: 2 });
    answer = (n) => (n === 10 ? slowDown(rig.clock.now() + 2_000) : 'ok');
    await accept('billing@clinic.example', 'clinic', 50);
    await drive(() => sends.length === 51);
    // after the bucket's first burst (2 sends), one send per 500 ms at most
    expect(Math.min(...gapsOf(sends.map((s) => s.at)).slice(1))).toBeGreaterThanOrEqual(500);
    expect(rig.scheduler!.pacer.rateOf('billing@clinic.example')).toBeLessThanOrEqual(2);
  });

  it('a reload that raises userRate applies at once, not at the next send timed at the old pace', async () => {
    await start({ userRate: 0.001 }); // one send per 1,000 s
    await accept('billing@clinic.example', 'clinic', 5);
    await drive(() => sends.length === 1);
    expect(rig.clock.nextAt()! - T0).toBeGreaterThan(900_000);
    config = configFor({ userRate: 2 });
    rig.scheduler!.configChanged();
    await drive(() => sends.length === 5);
    expect(sends.at(-1)!.at - T0).toBeLessThanOrEqual(2_000);
  });

  it("keeps all users of one service account within Google's per-project rate; other keys and Gmail SMTP are apart", async () => {
    const gmail = (name: string, key: string) => ({ name, domains: [`${name}.example`], transport: 'gmail-api', gmailApi: { serviceAccountKeyFile: key } });
    await start({ perUserConcurrency: 1 }, [
      gmail('north', '/keys/vendor.json'),
      gmail('south', '/keys/../keys/vendor.json'), // the same key file
      gmail('east', '/keys/east.json'),
      { name: 'west', domains: ['west.example'], transport: 'smtp', smtp: { user: 'relay@west.example', appPasswordFile: '/keys/west.pw' } },
    ]);
    const users = (ws: string, n: number) => Array.from({ length: n }, (_, i) => `u${i}@${ws}.example`);
    for (const [ws, n] of [['north', 150], ['south', 150], ['east', 20], ['west', 1]] as const) for (const u of users(ws, n)) await accept(u, ws);
    // nothing has moved the clock yet: what went at once is each pool's burst (and every other user)
    await waitUntil(() => rig.scheduler!.inFlight === 0 && sends.length >= 200, 20_000, 'the first burst');
    const burst = burstFor(PROJECT_TARGET_RATE, PROJECT_SENDS_PER_MINUTE);
    const at = (ws: string[]) => sends.filter((s) => ws.includes(s.workspace));
    expect(at(['north', 'south']).filter((s) => s.at === T0)).toHaveLength(Math.floor(burst));
    expect(at(['east']).filter((s) => s.at === T0)).toHaveLength(20);
    expect(at(['west']).filter((s) => s.at === T0)).toHaveLength(1);
    await drive(() => sends.length === 321);
    // the rest of the shared pool's 300 at its rate, not faster
    const rest = at(['north', 'south']).map((s) => s.at).filter((t) => t > T0);
    expect(rest).toHaveLength(300 - Math.floor(burst));
    expect((rest.length - 1) / ((rest.at(-1)! - rest[0]!) / 1000)).toBeLessThanOrEqual(200);
    expect(rest.at(-1)! - T0).toBeGreaterThanOrEqual(((300 - burst) / PROJECT_TARGET_RATE) * 1000 - 10);
  });
});
