/**
 * The scheduler on its own (no listener, no Google): a real spool and executor, a scripted
 * transport, and a TestClock the test moves, so the schedule is checked to the millisecond
 * without waiting for it.
 */
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import type { Config } from '../src/config/index.js';
import type { Transport } from '../src/delivery/types.js';
import { DeliveryError } from '../src/errors.js';
import type { DeliveryObserver } from '../src/queue/index.js';
import type { MessageMeta } from '../src/spool/index.js';
import { waitUntil } from './support/harness.js';
import { useSchedulerRig } from './support/scheduler-rig.js';
import { TEST_EPOCH } from './support/test-clock.js';

const MIN = 60_000;
const T0 = TEST_EPOCH;
const iso = (ms: number) => new Date(ms).toISOString();

type Step = 'ok' | DeliveryError | 'hang';

describe('scheduler', () => {
  const rig = useSchedulerRig('wr-scheduler-');
  /** What the transport answers, in turn (the last repeats). */
  let script: Step[];
  /** Each send: message id and the clock's time. */
  let sends: { id: string; at: number }[];
  const told: { kind: string; id: string; code?: string; expired?: boolean }[] = [];

  const transport: Transport = {
    name: 'gmail-api',
    async deliver({ meta }, signal) {
      sends.push({ id: meta.id, at: rig.clock.now() });
      const step = script.length > 1 ? script.shift()! : script[0]!;
      if (step === 'hang') {
        // like a real transport, a send asked for after the abort does not start
        await new Promise((_r, reject) => {
          if (signal.aborted) return reject(new Error('aborted'));
          signal.addEventListener('abort', () => reject(new Error('aborted')));
        });
      }
      if (step instanceof DeliveryError) throw step;
      return { providerId: `g-${sends.length}` };
    },
  };
  const observer: DeliveryObserver = {
    delivered: (m) => void told.push({ kind: 'delivered', id: m.id }),
    deferred: (m, e) => {
      told.push({ kind: 'deferred', id: m.id, code: e.code });
      m.delayNotified = true; // as the notifier marks it: stored with the state change
    },
    held: (m, e) => void told.push({ kind: 'held', id: m.id, code: e.code }),
    failed: (m, e, expired) => void told.push({ kind: 'failed', id: m.id, code: e.code, expired }),
  };

  async function start(queue: Record<string, unknown>): Promise<Config> {
    const config = parseConfig({
      workspaces: [{ name: 'clinic', domains: ['clinic.example'], transport: 'outbox', outbox: { dir: path.join(rig.dir, 'outbox') } }],
      queue: { dir: path.join(rig.dir, 'spool'), ...queue },
    });
    await rig.start(() => config, transport, observer);
    return config;
  }

  /** A message from `sender`, accepted now and handed to the scheduler. */
  const accept = (sender = 'alice@clinic.example'): Promise<MessageMeta> =>
    rig.accept(sender, { recipients: ['bob@clinic.example'], headerRecipients: ['bob@clinic.example'] });

  beforeEach(() => {
    script = ['ok'];
    sends = [];
    told.length = 0;
  });

  it('retries a temporary failure when the schedule says, not a moment before', async () => {
    await start({ retrySchedule: '1m,5m' });
    const gmail5xx = new DeliveryError('delivery.gmail_5xx', 'temporary', 'Gmail had a server error: will retry');
    script = [gmail5xx, gmail5xx, 'ok'];
    const { id } = await accept();
    await rig.logs.waitFor('delivery.deferred', 1);
    expect((await rig.spool.get('queue', id))?.nextAttemptAt).toBe(iso(T0 + 1 * MIN));
    await rig.clock.advance(1 * MIN - 1);
    expect(rig.scheduler!.inFlight).toBe(0);
    await rig.clock.advance(1);
    await rig.logs.waitFor('delivery.deferred', 2);
    expect((await rig.spool.get('queue', id))?.nextAttemptAt).toBe(iso(T0 + 6 * MIN));
    await rig.clock.advance(5 * MIN - 1);
    expect(rig.scheduler!.inFlight).toBe(0);
    await rig.clock.advance(1);
    await rig.logs.waitFor('delivery.ok');
    expect(sends.map((s) => s.at - T0)).toEqual([0, 1 * MIN, 6 * MIN]);
    expect(rig.logs.events('delivery.ok')[0]).toMatchObject({ queueId: id, attempts: 3 });
    expect(told.map((t) => t.kind)).toEqual(['deferred', 'deferred', 'delivered']);
    expect(await rig.spool.find(id)).toBeNull();
  });

  it('held mail is retried every heldRetry until max age, then dead with an expired notice', async () => {
    await start({ heldRetry: '20m', maxAge: '1h' });
    script = [new DeliveryError('delivery.mail_disabled', 'held', 'Gmail is not enabled', { fix: 'turn Gmail on' })];
    const { id } = await accept();
    for (let n = 1; n <= 3; n++) {
      await rig.logs.waitFor('delivery.held', n);
      await rig.clock.advance(20 * MIN);
    }
    await rig.logs.waitFor('delivery.failed');
    expect(sends.map((s) => s.at - T0)).toEqual([0, 20 * MIN, 40 * MIN, 60 * MIN]);
    expect(told.filter((t) => t.kind === 'held')).toHaveLength(3);
    expect(told.filter((t) => t.kind === 'failed')).toEqual([{ kind: 'failed', id, code: 'delivery.mail_disabled', expired: true }]);
    expect(await rig.spool.get('dead', id)).toMatchObject({ attempts: 4, lastError: { code: 'delivery.expired', message: 'gave up after 4 attempts: Gmail is not enabled' } });
  });

  it("a user's second message waits for its pace; another user's does not", async () => {
    await start({ userRate: 0.5 }); // one send every 2 s per user
    await accept('alice@clinic.example');
    await accept('alice@clinic.example');
    await accept('bob@clinic.example');
    await waitUntil(() => sends.length === 2 && rig.scheduler!.inFlight === 0, 5_000, 'the first two sends, completed');
    await rig.clock.advance(2_000 - 1);
    expect(rig.scheduler!.inFlight).toBe(0);
    await rig.clock.advance(1);
    await waitUntil(() => sends.length === 3, 5_000, 'the third send');
    expect(sends.map((s) => s.at - T0)).toEqual([0, 0, 2_000]);
  });

  it('mail held at the daily limit gets one "delayed" notice once it has waited delayWarning, and none before', async () => {
    await start({ dailyMessages: 1, delayWarning: '4h' });
    await accept();
    await rig.logs.waitFor('delivery.ok');
    const held = await accept();
    await rig.clock.advance(1_000); // its pace (one a second) first: then the daily count holds it
    await rig.logs.waitFor('pace.daily_limit');
    await rig.clock.advance(4 * 60 * MIN - 1 * MIN - 1_000);
    expect(told.filter((t) => t.kind === 'deferred')).toEqual([]);
    await rig.clock.advance(2 * MIN);
    await waitUntil(async () => (await rig.spool.get('queue', held.id))?.delayNotified === true, 5_000, 'the notice marked on the message');
    await rig.clock.advance(60 * MIN); // sweeps go on: still one notice
    expect(told.filter((t) => t.kind === 'deferred')).toEqual([{ kind: 'deferred', id: held.id, code: 'queue.waiting' }]);
    expect(sends).toHaveLength(1);
    expect(await rig.spool.get('queue', held.id)).toMatchObject({ attempts: 0, delayNotified: true });
  });

  it('stopping aborts the attempt in flight; the message stays queued as it was', async () => {
    await start({});
    script = ['hang'];
    const { id } = await accept();
    await waitUntil(() => sends.length === 1, 5_000, 'the send to start');
    await rig.scheduler!.stop();
    expect(rig.logs.events('delivery.aborted')).toEqual([expect.objectContaining({ queueId: id })]);
    expect(await rig.spool.get('queue', id)).toMatchObject({ attempts: 0, lastError: null });
  });

  it('an admin retry makes a deferred message due now', async () => {
    await start({ retrySchedule: '1h' });
    script = [new DeliveryError('delivery.gmail_5xx', 'temporary', 'Gmail had a server error'), 'ok'];
    const { id } = await accept();
    await rig.logs.waitFor('delivery.deferred');
    await rig.clock.advance(10 * MIN);
    expect(rig.scheduler!.retryNow(id)).toBe(true);
    await rig.logs.waitFor('delivery.ok');
    expect(sends.map((s) => s.at - T0)).toEqual([0, 10 * MIN]);
  });
});
