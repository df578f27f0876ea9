/**
 * Fair share (issue 18): a backlog in one practice does not hold back another practice's new
 * message, nor one user's backlog the other users of the same practice. The scheduler on its own
 * with a real spool, a transport that takes one second of a TestClock per send, and the clock
 * moved only when every delivery in flight waits on it (so the figures are exact, not timed).
 */
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import type { Transport } from '../src/delivery/types.js';
import { LocalExecutor, Scheduler } from '../src/queue/index.js';
import { SentLog, Spool, createQueueId } from '../src/spool/index.js';
import { LogCapture, removeDir, tempDir, waitUntil } from './support/harness.js';
import { makeMeta } from './support/spool-meta.js';
import { TEST_EPOCH, TestClock } from './support/test-clock.js';

const SEND_MS = 1_000;
const iso = (ms: number) => new Date(ms).toISOString();

describe('scheduler: fair share across practices and users', () => {
  let dir: string;
  let clock: TestClock;
  let spool: Spool;
  let sentLog: SentLog;
  let scheduler: Scheduler | undefined;
  /** Each send as it starts: the sending user and the clock's time. */
  let sends: { sender: string; at: number }[];
  /** Sends waiting for the clock. */
  let waiting: number;

  const transport: Transport = {
    name: 'gmail-api',
    async deliver({ meta }, signal) {
      sends.push({ sender: meta.sender, at: clock.now() });
      waiting++;
      // Like a real transport, a send ends when the scheduler stops (it aborts what is in flight).
      // (stop may come while the executor is still claiming the message: the signal is then
      // aborted before the send starts, and no 'abort' event will follow)
      await new Promise<void>((resolve, reject) => {
        if (signal.aborted) return reject(signal.reason as Error);
        clock.setTimeout(resolve, SEND_MS);
        signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
      });
      waiting--;
      return { providerId: `g-${sends.length}` };
    },
  };

  beforeEach(async () => {
    dir = tempDir('wr-fair-');
    clock = new TestClock(TEST_EPOCH);
    spool = await Spool.open(path.join(dir, 'spool'), { clock });
    sentLog = await SentLog.open(path.join(dir, 'spool'), { retentionMs: 86_400_000, clock });
    sends = [];
    waiting = 0;
    const config = parseConfig({
      workspaces: ['alpha', 'beta'].map((name) => ({ name, domains: [`${name}.example`], transport: 'outbox', outbox: { dir: path.join(dir, name) } })),
      queue: { dir: path.join(dir, 'spool'), concurrency: 2, perUserConcurrency: 2, userRate: 1000, dailyMessages: 100_000 },
    });
    const logs = new LogCapture();
    const executor = new LocalExecutor({ spool, sentLog, transportFor: () => transport, workspaces: () => config.workspaces, logger: logs.logger });
    scheduler = new Scheduler({ spool, executor: () => executor, config: () => config, logger: logs.logger, clock, random: () => 0.5 });
    await scheduler.start();
  });
  afterEach(async () => {
    await scheduler?.stop();
    scheduler = undefined;
    await sentLog.close();
    removeDir(dir);
  });

  async function accept(workspace: string, sender: string): Promise<void> {
    const id = createQueueId(clock.now());
    const w = spool.createWriter(id);
    await w.write(Buffer.from('From: x\r\n\r\nbody\r\n'));
    const to = `someone@${workspace}.example`;
    const meta = await w.commit(
      makeMeta(id, { workspace, receivedAt: iso(clock.now()), nextAttemptAt: iso(clock.now()), sender, mailFrom: sender, recipients: [to], headerRecipients: [to], size: 16 }),
    );
    scheduler!.enqueue(meta);
  }

  /**
   * Move the clock one send at a time until `done`, each step once both slots wait on it. `done`
   * is asked only then: right after a step, the sends it started may still be on their way to
   * the transport, and another step would start more than the scheduler chose at that moment.
   */
  async function runUntil(done: () => boolean, maxSteps = 400): Promise<void> {
    const settled = () => waitUntil(() => waiting === scheduler!.inFlight && scheduler!.inFlight === Math.min(2, scheduler!.queued + scheduler!.inFlight), 10_000, 'sends waiting on the clock');
    for (let i = 0; i < maxSteps; i++) {
      await settled();
      if (done()) return;
      await clock.advance(SEND_MS);
    }
    expect(done()).toBe(true);
  }

  it("another practice's new message waits about one send behind a 100-message backlog, not the backlog", async () => {
    // alpha: 100 messages from 10 users (so alpha's own pace is no brake), all due now
    for (let i = 0; i < 100; i++) await accept('alpha', `user${i % 10}@alpha.example`);
    const t0 = clock.now();
    await accept('beta', 'carol@beta.example');
    await runUntil(() => sends.some((s) => s.sender === 'carol@beta.example'));
    const waited = sends.find((s) => s.sender === 'carol@beta.example')!.at - t0;
    // 100 messages over 2 slots would be 50 s in arrival order; fair share starts it at the next free slot
    expect(waited).toBeLessThanOrEqual(SEND_MS);
    const alphaSends = sends.filter((s) => s.sender.endsWith('@alpha.example')).length;
    expect(alphaSends, `sends (user, ms after beta's accept): ${JSON.stringify(sends.map((s) => [s.sender, s.at - t0]))}`).toBeLessThanOrEqual(4);
  });

  it("within a practice, one user's backlog does not hold back another user's message", async () => {
    for (let i = 0; i < 50; i++) await accept('alpha', 'scanner@alpha.example');
    const t0 = clock.now();
    await accept('alpha', 'alice@alpha.example');
    await runUntil(() => sends.some((s) => s.sender === 'alice@alpha.example'));
    expect(sends.find((s) => s.sender === 'alice@alpha.example')!.at - t0).toBeLessThanOrEqual(SEND_MS);
  });
});
