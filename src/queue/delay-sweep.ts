/**
 * "Delayed" notices for mail that has waited queue.delayWarning with no failed attempt to report
 * it: held back by its sender's pace or daily limit, by Google's "slow down", or behind a long
 * queue. (A failed attempt reports it at once, through the same observer.) A few sweeps per
 * delayWarning, at least one a minute. Each such message leaves the due index and is claimed, so
 * no delivery starts meanwhile, and is put back as it was but for delayNotified.
 */
import type { Clock, Timer } from '../clock.js';
import type { Config } from '../config/index.js';
import { DeliveryError, errorText } from '../errors.js';
import { isFailureCode } from '../failures/index.js';
import type { Logger } from '../log.js';
import type { Spool, MessageMeta } from '../spool/index.js';
import type { DueIndex } from './due-index.js';
import type { DeliveryObserver } from './observer.js';
import { observe, settle } from './settle.js';

export interface DelaySweepDeps {
  spool: Spool;
  config: () => Config;
  logger: Logger;
  clock: Clock;
  observer: DeliveryObserver | undefined;
  /** The scheduler's due index: a swept message leaves it while it is claimed. */
  due: DueIndex;
  /** Is this message being delivered right now (its outcome reports it)? */
  isRunning(id: string): boolean;
  /** Start what is due (after a sweep put messages back). */
  pump(): void;
  stopped(): boolean;
}

export class DelaySweep {
  /** Queued messages not yet sent a "delayed" notice: id → since when they wait. */
  private readonly undelayed = new Map<string, number>();
  private timer: Timer | undefined;

  constructor(private readonly deps: DelaySweepDeps) {}

  /** A message entered the due index (or came back to it). */
  track(meta: MessageMeta): void {
    if (meta.delayNotified || meta.notification) this.undelayed.delete(meta.id);
    else this.undelayed.set(meta.id, Date.parse(meta.requeuedAt ?? meta.receivedAt) || 0);
  }

  /** Sweep from now on (only when there is someone to tell: the observer's `deferred`). */
  start(): void {
    this.arm();
  }

  stop(): void {
    this.timer?.cancel();
  }

  private arm(): void {
    if (this.deps.stopped() || !this.deps.observer?.deferred) return;
    const every = Math.min(60_000, Math.max(100, this.deps.config().queue.delayWarning / 4));
    this.timer = this.deps.clock
      .setTimeout(() => {
        this.sweep()
          .catch((err: unknown) => this.deps.logger.error({ event: 'queue.error', err: errorText(err) }, 'delay notice sweep failed'))
          .finally(() => this.arm());
      }, every)
      .unref();
  }

  /** One sweep: a notice for each message that has waited delayWarning and was not told yet. */
  async sweep(): Promise<void> {
    const { spool, due, logger, observer } = this.deps;
    const warnAfter = this.deps.config().queue.delayWarning;
    const now = this.deps.clock.now();
    for (const [id, since] of [...this.undelayed]) {
      if (this.deps.stopped()) return;
      if (now - since < warnAfter) continue;
      const entry = due.remove(id);
      if (!entry) {
        // Being delivered (its outcome reports it), or gone: delivered, dead, held, deleted.
        if (!this.deps.isRunning(id)) this.undelayed.delete(id);
        continue;
      }
      this.undelayed.delete(id);
      let meta: MessageMeta;
      try {
        meta = await spool.claim(id);
      } catch {
        due.add(entry); // taken meanwhile (an admin action): whoever has it decides
        continue;
      }
      const log = logger.child({ queueId: id, workspace: meta.workspace });
      const waiting =
        meta.lastError !== null
          ? new DeliveryError(isFailureCode(meta.lastError.code) ? meta.lastError.code : 'delivery.unknown', 'temporary', meta.lastError.message)
          : new DeliveryError('queue.waiting', 'temporary', "not sent yet: waiting its turn (the sending user's pace or daily limit, or Google asking it to slow down)");
      await observe(log, () => observer?.deferred?.(meta, waiting));
      await settle(this.deps, 'release', id, log, () => spool.release(meta));
      due.add(entry);
    }
    this.deps.pump();
  }
}
