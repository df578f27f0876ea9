/**
 * The scheduler on its own (no listener, no Google): a real spool and executor, a scripted
 * transport, and a TestClock the test moves, so the schedule is checked to the millisecond
 * without waiting for it.
 */
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import type { Config } from '../src/config/schema.js';
import type { Transport } from '../src/delivery/types.js';
import { DeliveryError } from '../src/errors.js';
import { LocalExecutor, Scheduler, type DeliveryObserver } from '../src/queue/index.js';
import { SentLog, Spool, createQueueId, type MessageMeta } from '../src/spool/index.js';
import { LogCapture, removeDir, tempDir, waitUntil } from './support/harness.js';
import { makeMeta } from './support/spool-meta.js';
import { TEST_EPOCH, TestClock } from './support/test-clock.js';

const MIN = 60_000;
const T0 = TEST_EPOCH;
const iso = (ms: number) => new Date(ms).toISOString();

type Step = 'ok' | DeliveryError | 'hang';

describe('scheduler', () => {
  let dir: string;
  let clock: TestClock;
  let spool: Spool;
  let sentLog: SentLog;
  let logs: LogCapture;
  let scheduler: Scheduler | undefined;
  /** What the transport answers, in turn (the last repeats). */
  let script: Step[];
  /** Each send: message id and the clock's time. */
  let sends: { id: string; at: number }[];
  const told: { kind: string; id: string; code?: string; expired?: boolean }[] = [];

  const transport: Transport = {
    name: 'gmail-api',
    async deliver({ meta }, signal) {
      sends.push({ id: meta.id, at: clock.now() });
      const step = script.length > 1 ? script.shift()! : script[0]!;
      if (step === 'hang') {
        await new Promise((_r, reject) => signal.addEventListener('abort', () => reject(new Error('aborted'))));
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
      workspaces: [{ name: 'clinic', domains: ['clinic.example'], transport: 'outbox', outbox: { dir: path.join(dir, 'outbox') } }],
      queue: { dir: path.join(dir, 'spool'), ...queue },
    });
    const executor = new LocalExecutor({ spool, sentLog, transportFor: () => transport, workspaces: () => config.workspaces, logger: logs.logger });
    scheduler = new Scheduler({ spool, executor: () => executor, config: () => config, logger: logs.logger, clock, random: () => 0.5, observer });
    await scheduler.start();
    return config;
  }

  /** A message from `sender`, accepted now and handed to the scheduler. */
  async function accept(sender = 'alice@clinic.example'): Promise<MessageMeta> {
    const id = createQueueId(clock.now());
    const w = spool.createWriter(id);
    await w.write(Buffer.from('From: x\r\n\r\nbody\r\n'));
    const meta = await w.commit(
      makeMeta(id, { receivedAt: iso(clock.now()), nextAttemptAt: iso(clock.now()), sender, mailFrom: sender, recipients: ['bob@clinic.example'], headerRecipients: ['bob@clinic.example'], size: 16 }),
    );
    scheduler!.enqueue(meta);
    return meta;
  }

  beforeEach(async () => {
    dir = tempDir('wr-scheduler-');
    clock = new TestClock(T0);
    spool = await Spool.open(path.join(dir, 'spool'), { clock });
    sentLog = await SentLog.open(path.join(dir, 'spool'), { retentionMs: 86_400_000, clock });
    logs = new LogCapture();
    script = ['ok'];
    sends = [];
    told.length = 0;
  });
  afterEach(async () => {
    await scheduler?.stop();
    scheduler = undefined;
    await sentLog.close();
    removeDir(dir);
  });

  it('retries a temporary failure when the schedule says, not a moment before', async () => {
    await start({ retrySchedule: '1m,5m' });
    const gmail5xx = new DeliveryError('delivery.gmail_5xx', 'temporary', 'Gmail had a server error: will retry');
    script = [gmail5xx, gmail5xx, 'ok'];
    const { id } = await accept();
    await logs.waitFor('delivery.deferred', 1);
    expect((await spool.get('queue', id))?.nextAttemptAt).toBe(iso(T0 + 1 * MIN));
    await clock.advance(1 * MIN - 1);
    expect(scheduler!.inFlight).toBe(0);
    await clock.advance(1);
    await logs.waitFor('delivery.deferred', 2);
    expect((await spool.get('queue', id))?.nextAttemptAt).toBe(iso(T0 + 6 * MIN));
    await clock.advance(5 * MIN - 1);
    expect(scheduler!.inFlight).toBe(0);
    await clock.advance(1);
    await logs.waitFor('delivery.ok');
    expect(sends.map((s) => s.at - T0)).toEqual([0, 1 * MIN, 6 * MIN]);
    expect(logs.events('delivery.ok')[0]).toMatchObject({ queueId: id, attempts: 3 });
    expect(told.map((t) => t.kind)).toEqual(['deferred', 'deferred', 'delivered']);
    expect(await spool.find(id)).toBeNull();
  });

  it('held mail is retried every heldRetry until max age, then dead with an expired notice', async () => {
    await start({ heldRetry: '20m', maxAge: '1h' });
    script = [new DeliveryError('delivery.mail_disabled', 'held', 'Gmail is not enabled', { fix: 'turn Gmail on' })];
    const { id } = await accept();
    for (let n = 1; n <= 3; n++) {
      await logs.waitFor('delivery.held', n);
      await clock.advance(20 * MIN);
    }
    await logs.waitFor('delivery.failed');
    expect(sends.map((s) => s.at - T0)).toEqual([0, 20 * MIN, 40 * MIN, 60 * MIN]);
    expect(told.filter((t) => t.kind === 'held')).toHaveLength(3);
    expect(told.filter((t) => t.kind === 'failed')).toEqual([{ kind: 'failed', id, code: 'delivery.mail_disabled', expired: true }]);
    expect(await spool.get('dead', id)).toMatchObject({ attempts: 4, lastError: { code: 'delivery.expired', message: 'gave up after 4 attempts: Gmail is not enabled' } });
  });

  it("a user's second message waits for its pace; another user's does not", async () => {
    await start({ userRate: 0.5 }); // one send every 2 s per user
    await accept('alice@clinic.example');
    await accept('alice@clinic.example');
    await accept('bob@clinic.example');
    await waitUntil(() => sends.length === 2 && scheduler!.inFlight === 0, 5_000, 'the first two sends, completed');
    await clock.advance(2_000 - 1);
    expect(scheduler!.inFlight).toBe(0);
    await clock.advance(1);
    await waitUntil(() => sends.length === 3, 5_000, 'the third send');
    expect(sends.map((s) => s.at - T0)).toEqual([0, 0, 2_000]);
  });

  it('mail held at the daily limit gets one "delayed" notice once it has waited delayWarning, and none before', async () => {
    await start({ dailyMessages: 1, delayWarning: '4h' });
    await accept();
    await logs.waitFor('delivery.ok');
    const held = await accept();
    await clock.advance(1_000); // its pace (one a second) first: then the daily count holds it
    await logs.waitFor('pace.daily_limit');
    await clock.advance(4 * 60 * MIN - 1 * MIN - 1_000);
    expect(told.filter((t) => t.kind === 'deferred')).toEqual([]);
    await clock.advance(2 * MIN);
    await waitUntil(async () => (await spool.get('queue', held.id))?.delayNotified === true, 5_000, 'the notice marked on the message');
    await clock.advance(60 * MIN); // sweeps go on: still one notice
    expect(told.filter((t) => t.kind === 'deferred')).toEqual([{ kind: 'deferred', id: held.id, code: 'queue.waiting' }]);
    expect(sends).toHaveLength(1);
    expect(await spool.get('queue', held.id)).toMatchObject({ attempts: 0, delayNotified: true });
  });

  it('stopping aborts the attempt in flight; the message stays queued as it was', async () => {
    await start({});
    script = ['hang'];
    const { id } = await accept();
    await waitUntil(() => sends.length === 1, 5_000, 'the send to start');
    await scheduler!.stop();
    expect(logs.events('delivery.aborted')).toEqual([expect.objectContaining({ queueId: id })]);
    expect(await spool.get('queue', id)).toMatchObject({ attempts: 0, lastError: null });
  });

  it('an admin retry makes a deferred message due now', async () => {
    await start({ retrySchedule: '1h' });
    script = [new DeliveryError('delivery.gmail_5xx', 'temporary', 'Gmail had a server error'), 'ok'];
    const { id } = await accept();
    await logs.waitFor('delivery.deferred');
    await clock.advance(10 * MIN);
    expect(scheduler!.retryNow(id)).toBe(true);
    await logs.waitFor('delivery.ok');
    expect(sends.map((s) => s.at - T0)).toEqual([0, 10 * MIN]);
  });
});
