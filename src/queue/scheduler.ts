/**
 * The scheduler: picks due messages from the spool, runs deliveries within the overall and
 * per-user concurrency limits, applies the retry schedule, and moves messages to done or dead.
 * State lives on disk (the spool); this keeps only an index of what is due when.
 */
import type { Config } from '../config/schema.js';
import { DeliveryError, errorText } from '../errors.js';
import { isFailureCode, type FailureCode } from '../failures/index.js';
import type { Logger } from '../log.js';
import type { Spool } from '../spool/index.js';
import type { MessageMeta } from '../spool/types.js';
import type { AttemptRun, DeliveryExecutor } from './executor.js';
import { splitRefused } from './partial.js';
import { DueIndex, type DueEntry } from './due-index.js';
import { Pacer } from './pacer.js';
import { nextAttemptAt, scheduleDelay, withJitter } from './retry.js';

/**
 * Told about outcomes before the spool changes state, so it may mark the meta (e.g. that a
 * delay notice was sent) and the mark is stored with the state change. Errors are logged, never
 * fatal to the delivery.
 */
export interface DeliveryObserver {
  delivered?(meta: MessageMeta): void | Promise<void>;
  deferred?(meta: MessageMeta, error: DeliveryError): void | Promise<void>;
  held?(meta: MessageMeta, error: DeliveryError): void | Promise<void>;
  /**
   * Permanent failure, or max age reached (`expired`). Rejecting means the failure notice could
   * not be written: the message then stays queued (retried after queue.heldRetry), not dead.
   */
  failed?(meta: MessageMeta, error: DeliveryError, expired: boolean, partial?: boolean): void | Promise<void>;
}

export interface SchedulerDeps {
  spool: Spool;
  /** Runs each attempt (claim, send, complete): in this thread or the delivery thread. */
  executor: () => DeliveryExecutor;
  config: () => Config;
  logger: Logger;
  now?: () => number;
  random?: () => number;
  observer?: DeliveryObserver;
  /** Per-user pacing; default: built from config, counts kept in memory only. */
  pacer?: Pacer;
}

/** Codes that mean "this user is sending too fast": defer the user, not fail the message. */
const RATE_CODES: ReadonlySet<FailureCode> = new Set(['delivery.rate_limited', 'delivery.daily_limit']);

/** Recipients Google counts for a message (header recipients, added Bcc, envelope). */
export function countedRecipients(meta: MessageMeta): number {
  return new Set([...meta.recipients, ...meta.headerRecipients, ...meta.bcc]).size;
}

export class Scheduler {
  private readonly due = new DueIndex();
  private readonly running = new Map<string, { controller: AbortController; done: Promise<void> }>();
  private readonly perUser = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  /** Queued messages not yet sent a "delayed" notice: id → since when they wait. */
  private readonly undelayed = new Map<string, number>();
  private sweepTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly now: () => number;
  private readonly random: () => number;
  readonly pacer: Pacer;

  constructor(private readonly deps: SchedulerDeps) {
    this.now = deps.now ?? Date.now;
    this.random = deps.random ?? Math.random;
    this.pacer = deps.pacer ?? new Pacer(deps.config().queue);
  }

  /** Index what the spool holds and start delivering. */
  async start(): Promise<void> {
    for (const meta of await this.deps.spool.list('queue')) this.index(meta);
    this.deps.logger.info({ event: 'queue.started', queued: this.due.size }, 'scheduler started');
    this.pump();
    this.armSweep();
  }

  /** A message was committed (or released): deliver it when due. */
  enqueue(meta: MessageMeta): void {
    this.index(meta);
    this.pump();
  }

  /** Forget a message (deleted or held by an admin). */
  drop(id: string): void {
    this.due.remove(id);
  }

  /** Make a queued message due now (admin retry). False if it is not waiting in the queue. */
  retryNow(id: string): boolean {
    const e = this.due.get(id);
    if (!e) return false;
    this.due.add({ ...e, at: this.now() });
    this.pump();
    return true;
  }

  /** Is this message being delivered right now? */
  isActive(id: string): boolean {
    return this.running.has(id);
  }

  get queued(): number {
    return this.due.size;
  }
  get inFlight(): number {
    return this.running.size;
  }

  /** Stop starting deliveries; abort those in flight (they go back to the queue). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.sweepTimer);
    for (const r of this.running.values()) r.controller.abort(new Error('shutting down'));
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
  }

  /** Resolves when nothing is due now and nothing is running (tests, benchmarks). */
  async idle(): Promise<void> {
    while (this.running.size || this.due.earliest() <= this.now()) {
      await Promise.race([...this.running.values()].map((r) => r.done).concat(new Promise<void>((r) => setTimeout(r, 20))));
    }
  }

  private index(meta: MessageMeta): void {
    this.due.add({ id: meta.id, at: Date.parse(meta.nextAttemptAt) || 0, sender: this.account(meta), recipients: countedRecipients(meta) });
    if (meta.delayNotified || meta.notification) this.undelayed.delete(meta.id);
    else this.undelayed.set(meta.id, Date.parse(meta.requeuedAt ?? meta.receivedAt) || 0);
  }

  /** Look for mail waiting longer than queue.delayWarning a few times per delayWarning, at least once a minute. */
  private armSweep(): void {
    if (this.stopped || !this.deps.observer?.deferred) return;
    const every = Math.min(60_000, Math.max(100, this.deps.config().queue.delayWarning / 4));
    this.sweepTimer = setTimeout(() => {
      this.sweepDelays()
        .catch((err: unknown) => this.deps.logger.error({ event: 'queue.error', err: errorText(err) }, 'delay notice sweep failed'))
        .finally(() => this.armSweep());
    }, every);
    this.sweepTimer.unref();
  }

  /**
   * "Delayed" notices for mail that has waited queue.delayWarning with no failed attempt to
   * report it: held back by its sender's pace or daily limit, by Google's "slow down", or behind
   * a long queue. (A failed attempt reports it at once, through the same notifier.) Each such
   * message leaves the index and is claimed, so no delivery starts meanwhile, and is put back
   * as it was but for delayNotified.
   */
  private async sweepDelays(): Promise<void> {
    const warnAfter = this.deps.config().queue.delayWarning;
    const now = this.now();
    for (const [id, since] of [...this.undelayed]) {
      if (this.stopped) return;
      if (now - since < warnAfter) continue;
      const entry = this.due.remove(id);
      if (!entry) {
        // Being delivered (its outcome reports it), or gone: delivered, dead, held, deleted.
        if (!this.running.has(id)) this.undelayed.delete(id);
        continue;
      }
      this.undelayed.delete(id);
      let meta: MessageMeta;
      try {
        meta = await this.deps.spool.claim(id);
      } catch {
        this.due.add(entry); // taken meanwhile (an admin action): whoever has it decides
        continue;
      }
      const log = this.deps.logger.child({ queueId: id });
      const waiting =
        meta.lastError !== null
          ? new DeliveryError(isFailureCode(meta.lastError.code) ? meta.lastError.code : 'delivery.unknown', 'temporary', meta.lastError.message)
          : new DeliveryError('queue.waiting', 'temporary', "not sent yet: waiting its turn (the sending user's pace or daily limit, or Google asking it to slow down)");
      await this.observe(log, () => this.deps.observer?.deferred?.(meta, waiting));
      await this.settle('release', id, log, () => this.deps.spool.release(meta));
      this.due.add(entry);
    }
    this.pump();
  }

  /** The Google account a message goes out as, which Gmail's limits count: paced per account. */
  private account(meta: MessageMeta): string {
    const ws = this.deps.config().workspaces.find((w) => w.name === meta.workspace);
    return ws?.transport === 'smtp' && ws.smtp ? ws.smtp.user : meta.sender;
  }

  /** Start what is due, user by user, within the concurrency limits and each user's pace. */
  private pump(): void {
    if (this.stopped) return;
    const q = this.deps.config().queue;
    this.pacer.setLimits(q);
    const now = this.now();
    let nextAt = Infinity;
    let progress = true;
    while (progress && this.running.size < q.concurrency) {
      progress = false;
      for (const head of [...this.due.heads()]) {
        if (this.running.size >= q.concurrency) break;
        if (head.at > now) {
          nextAt = Math.min(nextAt, head.at);
          continue;
        }
        if ((this.perUser.get(head.sender) ?? 0) >= q.perUserConcurrency) continue; // woken when one ends
        const ready = this.pacer.readyAt(head.sender, now);
        if (ready > now) {
          nextAt = Math.min(nextAt, ready);
          continue;
        }
        const daily = this.pacer.checkDaily(head.sender, head.recipients, now);
        if (!daily.ok) {
          this.pacer.holdUntil(head.sender, daily.until, now);
          if (this.pacer.firstDailyWarning(head.sender)) {
            this.deps.logger.warn(
              { event: 'pace.daily_limit', sender: head.sender, messages: daily.messages, recipients: daily.recipients, until: new Date(daily.until).toISOString() },
              "holding this user's mail: its rolling 24 h count is at the configured limit (queue.dailyMessages / queue.dailyRecipients)",
            );
          }
          nextAt = Math.min(nextAt, daily.until);
          continue;
        }
        this.due.remove(head.id);
        this.pacer.take(head.sender, now);
        this.pacer.count(head.sender, head.recipients, now);
        this.run(head, now);
        progress = true;
      }
    }
    this.arm(nextAt);
  }

  private arm(at: number): void {
    if (at === this.timerAt) return;
    clearTimeout(this.timer);
    this.timerAt = at;
    if (at === Infinity) return;
    const delay = Math.min(Math.max(at - this.now(), 0), 2 ** 31 - 1);
    this.timer = setTimeout(() => {
      this.timerAt = Infinity;
      this.pump();
    }, delay);
    this.timer.unref();
  }

  private run(entry: DueEntry, startedAt: number): void {
    const { id, sender } = entry;
    const controller = new AbortController();
    this.perUser.set(sender, (this.perUser.get(sender) ?? 0) + 1);
    const done = this.deliver(entry, controller.signal, startedAt)
      .catch((err: unknown) => {
        this.deps.logger.error({ event: 'queue.error', queueId: id, err: errorText(err) }, 'scheduler error');
      })
      .finally(() => {
        this.running.delete(id);
        const n = (this.perUser.get(sender) ?? 1) - 1;
        if (n > 0) this.perUser.set(sender, n);
        else this.perUser.delete(sender);
        this.pump();
      });
    this.running.set(id, { controller, done });
  }

  private async deliver(entry: DueEntry, signal: AbortSignal, startedAt: number): Promise<void> {
    const { id } = entry;
    const { spool, logger } = this.deps;
    const started = this.now();
    // A rejected run never ran (stopping, no delivery thread), or the delivery thread stopped
    // during it (outcomeUnknown): then where the message is, and whether it reached Google, is
    // not known here. Either way it goes back to the queue; the sent log suppresses a repeat it
    // recorded.
    const run: AttemptRun = await this.deps
      .executor()
      .run(id, signal)
      .catch((error: unknown) => ({ kind: 'claim_failed', error }) as const);
    if (run.kind === 'not_queued') {
      this.pacer.uncount(entry.sender, entry.recipients, startedAt);
      return; // deleted, or taken by an admin action meanwhile
    }
    if (run.kind === 'claim_failed') {
      if (run.error instanceof DeliveryError && run.error.outcomeUnknown) {
        // The delivery thread stopped during the attempt. Counted as a failed attempt (retry
        // schedule, maximum age, possible_duplicate logged): a message that makes the thread die
        // every time must end in dead/ with a notice, not be sent again every second for ever.
        const found = await spool.find(id).catch(() => null);
        if (found?.state === 'active' && !signal.aborted) {
          await this.failed(found.meta, run.error, logger.child({ queueId: id }), entry.sender);
          return;
        }
        logger.warn({ event: 'delivery.possible_duplicate', queueId: id, code: run.error.code }, 'the delivery thread stopped during the attempt; putting the message back');
      } else {
        this.pacer.uncount(entry.sender, entry.recipients, startedAt);
        logger.error({ event: 'queue.claim_failed', queueId: id, err: errorText(run.error) }, 'could not claim a message; putting it back');
      }
      await this.settle('release', id, logger, async () => {
        const found = await spool.find(id);
        if (found?.state === 'active') await spool.release(found.meta);
        if (found?.state === 'active' || found?.state === 'queue') {
          this.index({ ...found.meta, nextAttemptAt: new Date(this.now() + 1_000).toISOString() });
        }
      });
      return;
    }
    const { meta } = run;
    const log = logger.child({ queueId: id });
    if (run.kind === 'failed') {
      const err = run.error;
      if (!(err instanceof DeliveryError && err.outcomeUnknown)) this.pacer.uncount(entry.sender, entry.recipients, startedAt);
      if (signal.aborted) {
        await this.settle('release', id, log, () => spool.release(meta));
        this.index(meta);
        log.info({ event: 'delivery.aborted' }, 'left in the queue for the next start');
        return;
      }
      await this.failed(meta, err, log, entry.sender);
      return;
    }
    const { outcome } = run;
    const refused = outcome.kind === 'delivered' ? outcome.result.refused : undefined;
    if (refused?.length) {
      // Before the original goes: the copy for the deferred recipients is made from its bytes.
      await this.settle('split', id, log, () =>
        splitRefused({
          meta,
          refused,
          spool,
          now: this.now(),
          retryDelay: withJitter(scheduleDelay(this.deps.config().queue.retrySchedule, meta.attempts + 1), this.random),
          logger: log,
          enqueue: (copy) => this.index(copy),
          failed: (m, e) => this.observe(log, () => this.deps.observer?.failed?.(m, e, false, true)),
        }),
      );
    }
    // Sent: a failure to remove it now must not count as a failed delivery (and send it again).
    if (!run.completed) await this.settle('complete', id, log, () => spool.complete(id, { retry: true }));
    if (outcome.kind === 'delivered') this.pacer.succeeded(entry.sender);
    else this.pacer.uncount(entry.sender, entry.recipients, startedAt);
    await this.observe(log, () => this.deps.observer?.delivered?.(meta));
    if (outcome.kind === 'suppressed') {
      log.info({ event: 'delivery.duplicate_suppressed', messageId: meta.messageId, sender: meta.sender, recipients: meta.recipients }, 'already delivered by an earlier transaction');
    } else {
      log.info(
        {
          event: 'delivery.ok',
          transport: run.transport,
          messageId: meta.messageId,
          sender: meta.sender,
          recipients: meta.recipients,
          size: meta.size,
          attempts: meta.attempts + 1,
          providerId: outcome.result.providerId,
          ms: this.now() - started,
        },
        'delivered',
      );
    }
  }

  /**
   * A state change out of active/ (release, kill) that fails (disk full, EIO) is retried with
   * backoff, so the message is never stranded in active/ while the relay runs; a stop leaves it
   * there, and the next start moves it back to the queue.
   */
  private async settle(what: string, id: string, log: Logger, op: () => Promise<void>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await op();
        return;
      } catch (err) {
        log.error(
          { event: 'queue.state_change_failed', what, queueId: id, attempt, err: errorText(err), alert: attempt >= 3 },
          `could not ${what} the message; retrying`,
        );
        if (this.stopped) return;
        await new Promise((r) => setTimeout(r, Math.min(500 * 2 ** attempt, 60_000)));
      }
    }
  }

  private async observe(log: Logger, fn: () => void | Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      log.error({ event: 'notify.error', err: errorText(err) }, 'notification step failed');
    }
  }

  /** `account`: the Google account the attempt was paced as (the SMTP login for SMTP workspaces). */
  private async failed(meta: MessageMeta, err: unknown, log: Logger, account: string): Promise<void> {
    const q = this.deps.config().queue;
    const e =
      err instanceof DeliveryError ? err : new DeliveryError('delivery.unexpected', 'temporary', errorText(err), { cause: err });
    const now = this.now();
    const deadline = Date.parse(meta.requeuedAt ?? meta.receivedAt) + q.maxAge;
    if (RATE_CODES.has(e.code) && e.kind === 'temporary' && now < deadline) {
      await this.rateLimited(meta, e, now, log, account);
      return;
    }
    meta.attempts += 1;
    meta.lastError = { code: e.code, kind: e.kind, message: e.message, at: new Date(now).toISOString() };
    const fields = { code: e.code, kind: e.kind, reason: e.message, attempts: meta.attempts, sender: meta.sender, messageId: meta.messageId };
    if (e.outcomeUnknown) log.warn({ event: 'delivery.possible_duplicate', code: e.code }, 'the send may have reached Google; retrying');
    const next =
      e.kind === 'permanent'
        ? null
        : nextAttemptAt({
            now,
            receivedAt: Date.parse(meta.requeuedAt ?? meta.receivedAt),
            maxAge: q.maxAge,
            delay: e.kind === 'held' ? q.heldRetry : withJitter(scheduleDelay(q.retrySchedule, meta.attempts), this.random),
            retryAfter: e.retryAfter,
          });
    if (next === null) {
      if (e.kind !== 'permanent') {
        meta.lastError = { ...meta.lastError, code: 'delivery.expired', message: `gave up after ${meta.attempts} attempts: ${e.message}` };
      }
      const expired = e.kind !== 'permanent';
      try {
        await this.deps.observer?.failed?.(meta, e, expired);
      } catch (err) {
        // The failure notice could not be written (disk full, I/O error): keep the message
        // queued and go through this again later, rather than move it to dead/ with its bounce lost.
        meta.nextAttemptAt = new Date(now + q.heldRetry).toISOString();
        await this.settle('release', meta.id, log, () => this.deps.spool.release(meta));
        this.index(meta);
        log.error(
          { event: 'notify.failure_pending', code: e.code, err: errorText(err), nextAttemptAt: meta.nextAttemptAt },
          'the failure notice could not be written: the message stays queued until it can be',
        );
        return;
      }
      await this.settle('kill', meta.id, log, () => this.deps.spool.kill(meta));
      log.error({ event: 'delivery.failed', ...fields, expired: e.kind !== 'permanent' }, 'moved to dead/');
      return;
    }
    meta.nextAttemptAt = new Date(next).toISOString();
    await this.observe(log, () => (e.kind === 'held' ? this.deps.observer?.held?.(meta, e) : this.deps.observer?.deferred?.(meta, e)));
    await this.settle('release', meta.id, log, () => this.deps.spool.release(meta));
    this.index(meta);
    if (e.kind === 'held') {
      log.error({ event: 'delivery.held', alert: true, ...fields, fix: e.fix, nextAttemptAt: meta.nextAttemptAt }, `held: ${e.fix ?? e.message}`);
    } else {
      log.warn({ event: 'delivery.deferred', ...fields, nextAttemptAt: meta.nextAttemptAt }, 'deferred');
    }
  }

  /**
   * Google said this user sends too fast (or reached a daily limit): the user waits until the time
   * Google stated (or a backoff when none is usable), the message keeps its attempt count, and
   * other users' mail keeps flowing.
   */
  private async rateLimited(meta: MessageMeta, e: DeliveryError, now: number, log: Logger, account: string): Promise<void> {
    const until = this.pacer.rateLimited(account, now, e.retryAfter);
    meta.lastError = { code: e.code, kind: e.kind, message: e.message, at: new Date(now).toISOString() };
    meta.nextAttemptAt = new Date(until).toISOString();
    await this.observe(log, () => this.deps.observer?.deferred?.(meta, e));
    await this.settle('release', meta.id, log, () => this.deps.spool.release(meta));
    this.index(meta);
    log.warn(
      { event: 'delivery.deferred', code: e.code, kind: e.kind, reason: e.message, attempts: meta.attempts, sender: meta.sender, ...(account !== meta.sender ? { account } : {}), nextAttemptAt: meta.nextAttemptAt, userPausedUntil: meta.nextAttemptAt },
      'Google asked this user to slow down',
    );
  }
}
