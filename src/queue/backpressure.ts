/**
 * Backpressure: when the spool's file system is nearly full, or the queue holds more than the
 * configured number of messages, new mail is turned away at MAIL FROM with 452 4.3.1 (the client
 * keeps it and tries later) rather than accepted into a spool that cannot hold it.
 */
import { statfs } from 'node:fs/promises';
import { systemClock, type Clock, type Timer } from '../clock.js';
import type { Config } from '../config/index.js';
import { errorText } from '../errors.js';
import type { Logger } from '../log.js';
import { namedReply, type NamedReply } from '../replies/index.js';

export interface BackpressureDeps {
  dir: string;
  config: () => Config;
  /** Messages in the spool not yet delivered. */
  queued: () => number;
  logger: Logger;
  /** Free bytes on the file system holding `dir` (injectable for tests). */
  freeBytes?: (dir: string) => Promise<number>;
  intervalMs?: number;
  clock?: Clock;
}

/** Bytes free for this user on the file system of `dir` (what queue.minFreeSpace is compared with). */
export async function spoolFreeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}

export class Backpressure {
  private free = Infinity;
  private timer: Timer | undefined;
  private state: 'ok' | 'disk' | 'queue' = 'ok';
  private readonly freeBytes: (dir: string) => Promise<number>;

  constructor(private readonly deps: BackpressureDeps) {
    this.freeBytes = deps.freeBytes ?? spoolFreeBytes;
  }

  async start(): Promise<void> {
    await this.refresh();
    this.timer = (this.deps.clock ?? systemClock).setInterval(() => void this.refresh(), this.deps.intervalMs ?? 2_000).unref();
  }

  stop(): void {
    this.timer?.cancel();
  }

  async refresh(): Promise<void> {
    try {
      this.free = await this.freeBytes(this.deps.dir);
    } catch (err) {
      this.deps.logger.warn({ event: 'spool.statfs_failed', err: errorText(err) }, 'cannot read free space');
    }
  }

  /** Why new mail must wait now ('disk', 'queue'), or null; changes nothing (/readyz asks this). */
  reason(): 'disk' | 'queue' | null {
    const q = this.deps.config().queue;
    if (this.free < q.minFreeSpace) return 'disk';
    if (this.deps.queued() >= q.maxQueued) return 'queue';
    return null;
  }

  /** The reply for MAIL FROM when new mail must wait (spoolDiskFull, spoolQueueFull), or null. */
  check(): NamedReply | null {
    const q = this.deps.config().queue;
    const next: typeof this.state = this.reason() ?? 'ok';
    const reply = next === 'disk' ? namedReply('spoolDiskFull') : next === 'queue' ? namedReply('spoolQueueFull') : null;
    if (next !== this.state) {
      if (next === 'ok') this.deps.logger.info({ event: 'spool.backpressure_off' }, 'accepting mail again');
      else {
        this.deps.logger.error(
          { event: 'spool.backpressure_on', alert: true, reason: next, freeBytes: this.free, queued: this.deps.queued(), minFreeSpace: q.minFreeSpace, maxQueued: q.maxQueued },
          next === 'disk' ? 'spool disk nearly full: refusing new mail with 452' : 'queue full: refusing new mail with 452',
        );
      }
      this.state = next;
    }
    return reply;
  }
}
