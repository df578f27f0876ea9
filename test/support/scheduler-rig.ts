/**
 * The scheduler on its own, on a clock the test moves: a real spool and sent log in a temp dir, a
 * TestClock, the captured log, and a scripted transport (the test's). Set up before each test and
 * torn down after it (`useSchedulerRig` registers the hooks in the calling describe).
 */
import path from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import type { Config } from '../../src/config/index.js';
import type { Transport } from '../../src/delivery/types.js';
import { LocalExecutor, Scheduler, type DeliveryObserver } from '../../src/queue/index.js';
import { SentLog, Spool, createQueueId, type MessageMeta } from '../../src/spool/index.js';
import { LogCapture, removeDir, tempDir } from './harness.js';
import { makeMeta } from './spool-meta.js';
import { TEST_EPOCH, TestClock } from './test-clock.js';

export interface SchedulerRig {
  dir: string;
  clock: TestClock;
  spool: Spool;
  sentLog: SentLog;
  logs: LogCapture;
  /** The scheduler `start` made (stopped after the test). */
  scheduler: Scheduler | undefined;
  /** A scheduler over the rig's spool, delivering through `transport`, reading `config()` each time. */
  start(config: () => Config, transport: Transport, observer?: DeliveryObserver): Promise<Scheduler>;
  /** A small message from `sender`, accepted now (the rig's clock) and handed to the scheduler. */
  accept(sender: string, over?: Partial<MessageMeta>): Promise<MessageMeta>;
}

export function useSchedulerRig(prefix: string): SchedulerRig {
  const rig = {
    scheduler: undefined,
    async start(config, transport, observer) {
      const executor = new LocalExecutor({ spool: rig.spool, sentLog: rig.sentLog, transportFor: () => transport, workspaces: () => config().workspaces, logger: rig.logs.logger });
      rig.scheduler = new Scheduler({ spool: rig.spool, executor: () => executor, config, logger: rig.logs.logger, clock: rig.clock, random: () => 0.5, observer });
      await rig.scheduler.start();
      return rig.scheduler;
    },
    async accept(sender, over = {}) {
      const now = new Date(rig.clock.now()).toISOString();
      const id = createQueueId(rig.clock.now());
      const w = rig.spool.createWriter(id);
      await w.write(Buffer.from('From: x\r\n\r\nbody\r\n'));
      const meta = await w.commit(makeMeta(id, { receivedAt: now, nextAttemptAt: now, sender, mailFrom: sender, size: 16, ...over }));
      rig.scheduler!.enqueue(meta);
      return meta;
    },
  } as SchedulerRig;

  beforeEach(async () => {
    rig.dir = tempDir(prefix);
    rig.clock = new TestClock(TEST_EPOCH);
    rig.spool = await Spool.open(path.join(rig.dir, 'spool'), { clock: rig.clock });
    rig.sentLog = await SentLog.open(path.join(rig.dir, 'spool'), { retentionMs: 86_400_000, clock: rig.clock });
    rig.logs = new LogCapture();
  });
  afterEach(async () => {
    await rig.scheduler?.stop();
    rig.scheduler = undefined;
    await rig.sentLog.close();
    removeDir(rig.dir);
  });
  return rig;
}
