/**
 * What the queue CLI can do to the spool, in one place: run by the daemon for the CLI (with its
 * scheduler, which learns of every change at once), or by the CLI itself when no daemon runs
 * (no scheduler; the control socket is then held by the CLI as a lock, see control-server.ts).
 *
 * Every change is one of the spool's renames, which race safely with the scheduler's claim even
 * across processes: a hold or a retry of a message being claimed loses cleanly instead of
 * resurrecting it. A message being delivered right now is refused with queue.busy.
 */
import { systemClock, type Clock } from '../clock.js';
import { errorText } from '../errors.js';
import type { RelayEvents, Removal } from '../events.js';
import { KeyMutex, SpoolError, needsRekey, putBack, rewriteMessageFile, type MessageMeta, type MessageSource, type Spool, type SpoolState } from '../spool/index.js';
import { ControlError, type QueueItem, type RekeyResult, type RetryAllResult } from './protocol.js';
import { busy, checkedId, notFound, wrongState } from './queue-refusals.js';
import { matchesQuery, type QueueQuery } from './queue-search.js';

/** The part of the daemon's Scheduler the admin needs. */
export interface SchedulerLink {
  /** Forget a message (held, deleted, or about to be rescheduled). */
  drop(id: string): void;
  /** Index a message that is (back) in queue/. */
  enqueue(meta: MessageMeta): void;
  /** Is it being delivered right now (taken from the index, maybe not yet claimed)? */
  isActive(id: string): boolean;
}

export interface QueueAdminOptions {
  spool: Spool;
  /** The daemon's scheduler; absent when the CLI works on the spool with no daemon running. */
  scheduler?: SchedulerLink;
  clock?: Clock;
  /** Rewrite the dry-run outbox files with the first key (rekey does it last); resolves how many. */
  resealOutbox?: () => Promise<number>;
  /** Told of each message deleted (its audit record: src/trace). */
  events?: Pick<RelayEvents, 'removed'>;
}

/** States `queue list` shows (dead messages have their own command). */
export const LIVE_STATES: readonly SpoolState[] = ['queue', 'active', 'hold'];
const ALL_STATES: readonly SpoolState[] = ['queue', 'active', 'hold', 'dead'];

export class QueueAdmin {
  private readonly spool: Spool;
  private readonly scheduler: SchedulerLink | undefined;
  private readonly clock: Clock;
  private readonly resealOutbox: () => Promise<number>;
  private readonly events: Pick<RelayEvents, 'removed'> | undefined;
  /**
   * Changes to one message run one at a time: two CLI commands arrive on their own connections,
   * and a delete between a release's check and its rename would bring the .json back without
   * its .eml.
   */
  private readonly locks = new KeyMutex();

  constructor(options: QueueAdminOptions) {
    this.spool = options.spool;
    this.scheduler = options.scheduler;
    this.clock = options.clock ?? systemClock;
    this.resealOutbox = options.resealOutbox ?? (async () => 0);
    this.events = options.events;
  }

  /** Messages in these states, oldest first. */
  async list(states: readonly SpoolState[] = LIVE_STATES): Promise<QueueItem[]> {
    // The directories are read one after the other: a message the scheduler moves from queue/ to
    // active/ in between is seen in both. It is counted once, in the state read last (its newer one).
    const items = new Map<string, QueueItem>();
    for (const state of states) {
      for (const meta of await this.spool.list(state)) items.set(meta.id, { ...meta, state });
    }
    return [...items.values()].sort((a, b) => cmp(a.receivedAt, b.receivedAt) || cmp(a.id, b.id));
  }

  async show(id: string): Promise<QueueItem> {
    return this.locate(id);
  }

  /** The message's bytes (show --body), decrypted when the spool is encrypted. */
  message(item: Pick<QueueItem, 'id' | 'size'>): MessageSource {
    return this.spool.message({ id: checkedId(item.id), size: item.size });
  }

  /** A queued message: next attempt now. */
  retry(id: string): Promise<QueueItem> {
    return this.locks.run(id, () => this.retryNow(id));
  }

  private async retryNow(id: string): Promise<QueueItem> {
    const found = await this.locate(id);
    if (found.state === 'hold') throw wrongState(id, 'is held by an admin: `queue release ID` puts it back in the queue, due now');
    if (found.state === 'dead') throw wrongState(id, 'is dead: `queue requeue ID` gives it another chance');
    this.refuseActive(found);
    let meta: MessageMeta;
    try {
      meta = await this.changeQueued(id, () => this.spool.reschedule(id, new Date(this.clock.now())));
    } catch (err) {
      // reschedule is a hold and then a release: if the release failed (disk full), say where the
      // message was left, rather than let an admin who asked for a retry find it held later.
      if (err instanceof ControlError || (await this.spool.find(id).catch(() => null))?.state !== 'hold') throw err;
      throw wrongState(id, `could not be made due (${errorText(err)}): it was left held; \`queue release ${id}\` puts it back in the queue`);
    }
    this.scheduler?.enqueue(meta);
    return { ...meta, state: 'queue' };
  }

  /** Every queued message (not held, not being delivered): next attempt now. */
  async retryAll(): Promise<RetryAllResult> {
    const ids = (await this.spool.list('queue')).map((m) => m.id);
    const out: RetryAllResult = { retried: [], skipped: [] };
    let next = 0;
    const worker = async () => {
      while (next < ids.length) {
        const id = ids[next++]!;
        try {
          await this.retry(id);
          out.retried.push(id);
        } catch (err) {
          // One message's trouble (a disk error included) is reported with it; the others go on,
          // and the answer lists every one (not a failure after half of them were retried).
          out.skipped.push({ id, reason: errorText(err) });
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    out.retried.sort();
    out.skipped.sort((a, b) => cmp(a.id, b.id));
    return out;
  }

  /** queue → hold: the scheduler never picks it up until released. */
  hold(id: string): Promise<QueueItem> {
    return this.locks.run(id, () => this.holdNow(id));
  }

  private async holdNow(id: string): Promise<QueueItem> {
    const found = await this.locate(id);
    if (found.state === 'hold') throw wrongState(id, 'is already held');
    if (found.state === 'dead') throw wrongState(id, 'is dead: nothing to hold (`queue requeue ID` or `queue delete ID`)');
    this.refuseActive(found);
    return { ...(await this.changeQueued(id, () => this.spool.hold(id))), state: 'hold' };
  }

  /** hold → queue, due now. */
  release(id: string): Promise<QueueItem> {
    return this.locks.run(id, () => this.releaseNow(id));
  }

  private async releaseNow(id: string): Promise<QueueItem> {
    const found = await this.locate(id);
    if (found.state !== 'hold') throw wrongState(id, `is not held (it is in ${found.state}/)`);
    const meta = await this.spool.unhold(id, new Date(this.clock.now()));
    this.scheduler?.enqueue(meta);
    return { ...meta, state: 'queue' };
  }

  /** dead → queue: attempts reset, due now, maximum age counted from now (requeuedAt). */
  requeue(id: string): Promise<QueueItem> {
    return this.locks.run(id, () => this.requeueNow(id));
  }

  private async requeueNow(id: string): Promise<QueueItem> {
    const found = await this.locate(id);
    if (found.state !== 'dead') throw wrongState(id, `is not dead (it is in ${found.state}/)`);
    const meta = await this.spool.requeue(id);
    this.scheduler?.enqueue(meta);
    return { ...meta, state: 'queue' };
  }

  /** Delete the message and its .eml, whatever its state, unless being delivered now; `who` (the admin) is in its audit record. */
  delete(id: string, who?: Removal['who']): Promise<{ id: string; state: SpoolState }> {
    return this.locks.run(id, () => this.deleteNow(id, who));
  }

  private async deleteNow(id: string, who: Removal['who']): Promise<{ id: string; state: SpoolState }> {
    checkedId(id);
    const found = await this.spool.find(id);
    if (!found) {
      // a dead/<id>.json.corrupt set aside at start-up has no readable meta (so no audit record), but can be deleted
      if (await this.spool.remove('dead', id)) return { id, state: 'dead' };
      throw notFound(id);
    }
    const deleted = (state: SpoolState) => {
      this.events?.removed(found.meta, { action: 'queue.delete', who, state });
      return { id, state };
    };
    if (found.state === 'active' && !this.scheduler) {
      // no daemon: an attempt interrupted by a stop or crash, nothing is delivering it
      await this.spool.remove('active', id);
      return deleted('active');
    }
    this.refuseActive({ ...found.meta, state: found.state });
    if (found.state !== 'queue') {
      if (!(await this.spool.remove(found.state, id))) return this.deleteNow(id, who);
      return deleted(found.state);
    }
    await this.changeQueued(id, async () => {
      if (!(await this.spool.remove('queue', id))) throw new SpoolError('spool.not_queued', `message ${id} is not in the queue`);
    });
    return deleted('queue');
  }

  /**
   * `queue rekey`, one round: up to `limit` messages whose files are not all sealed with the first
   * key are rewritten with it (spool/rekey.ts); then, when none is left, the outbox files. A
   * queued message is claimed for it (out of the scheduler's reach, as a delivery would be) and
   * released with its meta rewritten; a held or dead one is rewritten in place, under its lock.
   * One being delivered is skipped (the next round gets it).
   */
  async rekey(limit = 200): Promise<RekeyResult> {
    const out: RekeyResult = { rekeyed: [], skipped: [], outbox: 0, more: false };
    for (const state of ['queue', 'hold', 'dead'] as const) {
      for (const meta of await this.spool.list(state)) {
        if (out.rekeyed.length >= limit) return { ...out, more: true };
        try {
          if (await this.locks.run(meta.id, () => this.rekeyOne(state, meta.id))) out.rekeyed.push(meta.id);
        } catch (err) {
          out.skipped.push({ id: meta.id, reason: errorText(err) });
        }
      }
    }
    out.outbox = await this.resealOutbox();
    return out;
  }

  /** Rekey one message if it needs it (false: nothing to do, or it moved meanwhile). */
  private async rekeyOne(state: 'queue' | 'hold' | 'dead', id: string): Promise<boolean> {
    if (state !== 'queue') {
      const meta = await this.spool.get(state, id);
      if (!meta || !needsRekey(this.spool, state, id)) return false;
      await rewriteMessageFile(this.spool, meta);
      await this.spool.update(state, meta);
      return true;
    }
    if (!needsRekey(this.spool, 'queue', id)) return false;
    if (this.scheduler?.isActive(id)) throw busy(id);
    const meta = await this.changeQueued(id, async () => {
      const claimed = await this.spool.claim(id);
      try {
        await rewriteMessageFile(this.spool, claimed);
        await this.spool.release(claimed);
      } catch (err) {
        // Back as it was (its files are whole under keys still in the config).
        await putBack(this.spool, id).catch(() => undefined);
        throw err;
      }
      return claimed;
    });
    this.scheduler?.enqueue(meta);
    return true;
  }

  /** Messages in any state (dead too) matching every given criterion. */
  async find(query: QueueQuery): Promise<QueueItem[]> {
    return (await this.list(ALL_STATES)).filter((m) => matchesQuery(m, query));
  }

  /** Where the message is now; queue.not_found if nowhere. */
  private async locate(id: string): Promise<QueueItem> {
    const found = await this.spool.find(checkedId(id));
    if (!found) throw notFound(id);
    return { ...found.meta, state: found.state };
  }

  private refuseActive(item: QueueItem): void {
    if (item.state === 'active' && !this.scheduler) {
      throw wrongState(item.id, 'was being delivered when the relay stopped: it goes back to the queue, due now, when the relay starts');
    }
    if (item.state === 'active' || this.scheduler?.isActive(item.id)) throw busy(item.id);
  }

  /**
   * Change a message in queue/: take it out of the scheduler's index first (so the daemon does
   * not start it meanwhile), then the spool change. If the spool says it is no longer queued, it
   * was claimed just now: queue.busy. If the change failed, a message still queued is indexed
   * again as it was.
   */
  private async changeQueued<T>(id: string, change: () => Promise<T>): Promise<T> {
    this.scheduler?.drop(id);
    try {
      return await change();
    } catch (err) {
      const still = await this.spool.get('queue', id).catch(() => null);
      if (still) this.scheduler?.enqueue(still); // unchanged: keep it scheduled
      if (err instanceof SpoolError && err.code === 'spool.not_queued') {
        const now = await this.spool.find(id);
        if (!now) throw notFound(id);
        if (now.state === 'active') throw busy(id);
        throw wrongState(id, `is not in the queue (it is in ${now.state}/)`);
      }
      throw err;
    }
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
