/**
 * The scheduler dispatches: it keeps the index of what is due when (the state itself lives on
 * disk, in the spool), starts deliveries within the overall and per-user concurrency limits and
 * each user's pace (pacer.ts), and hands each attempt's result to outcome.ts (what it means) and
 * outcome-apply.ts (doing it). The "delayed" notices of mail that waits without a failed attempt
 * are delay-sweep.ts's.
 */
import path from 'node:path';
import { systemClock, type Clock, type Timer } from '../clock.js';
import { pausedWorkspaces, type Config } from '../config/index.js';
import { DeliveryError, errorText } from '../errors.js';
import { NO_EVENTS, type RelayEvents } from '../events.js';
import type { Logger } from '../log.js';
import type { Spool, MessageMeta } from '../spool/index.js';
import { DelaySweep } from './delay-sweep.js';
import { DueIndex, type DueEntry } from './due-index.js';
import { firstStartable } from './fair-pick.js';
import type { AttemptRun, DeliveryExecutor } from './executor.js';
import type { DeliveryObserver } from './observer.js';
import { applyOutcome, type ApplyDeps } from './outcome-apply.js';
import { decideOutcome } from './outcome.js';
import { Pacer } from './pacer.js';

export type { DeliveryObserver } from './observer.js';

export interface SchedulerDeps {
  spool: Spool;
  /** Runs each attempt (claim, send, complete): in this thread or the delivery thread. */
  executor: () => DeliveryExecutor;
  config: () => Config;
  logger: Logger;
  clock?: Clock;
  random?: () => number;
  observer?: DeliveryObserver;
  /** Told of each attempt's outcome once the spool has it (metrics, trace). Default: no one. */
  events?: RelayEvents;
  /** Per-user pacing; default: built from config, counts kept in memory only. */
  pacer?: Pacer;
}

/** Recipients Google counts for a message (header recipients, added Bcc, envelope). */
export function countedRecipients(meta: MessageMeta): number {
  return new Set([...meta.recipients, ...meta.headerRecipients, ...meta.bcc]).size;
}

export class Scheduler {
  private readonly due = new DueIndex();
  private readonly running = new Map<string, { controller: AbortController; done: Promise<void>; entry: DueEntry }>();
  private readonly perUser = new Map<string, number>();
  private readonly inFlightBy = new Map<string, number>();
  private timer: Timer | undefined;
  private timerAt = Infinity;
  private stopped = false;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly sweep: DelaySweep;
  private readonly applying: ApplyDeps;
  readonly pacer: Pacer;

  constructor(private readonly deps: SchedulerDeps) {
    this.clock = deps.clock ?? systemClock;
    this.random = deps.random ?? Math.random;
    this.pacer = deps.pacer ?? new Pacer(deps.config().queue);
    const stopped = () => this.stopped;
    this.sweep = new DelaySweep({
      spool: deps.spool,
      config: deps.config,
      logger: deps.logger,
      clock: this.clock,
      observer: deps.observer,
      due: this.due,
      isRunning: (id) => this.running.has(id),
      pump: () => this.pump(),
      stopped,
    });
    this.applying = {
      spool: deps.spool,
      logger: deps.logger,
      pacer: this.pacer,
      observer: deps.observer,
      events: deps.events ?? NO_EVENTS,
      clock: this.clock,
      stopped,
      index: (meta) => this.index(meta),
    };
  }

  /** Index what the spool holds and start delivering. */
  async start(): Promise<void> {
    for (const meta of await this.deps.spool.list('queue')) this.index(meta);
    this.deps.logger.info({ event: 'queue.started', queued: this.due.size }, 'scheduler started');
    this.pump();
    this.sweep.start();
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
    this.due.add({ ...e, at: this.clock.now() });
    this.pump();
    return true;
  }

  /**
   * The config was reloaded: apply its pace and limits now (a raised queue.userRate must not wait
   * for a send timed at the old pace), and start what they allow.
   */
  configChanged(): void {
    this.pump();
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

  /** Messages of this workspace waiting or being delivered (workspaces[].limits.queued). */
  queuedOf(workspace: string): number {
    return this.due.countOf(workspace) + (this.inFlightBy.get(workspace) ?? 0);
  }

  /** Stop starting deliveries; abort those in flight (they go back to the queue). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.sweep.stop();
    for (const r of this.running.values()) r.controller.abort(new Error('shutting down'));
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
  }

  /** Resolves when nothing is due now and nothing is running (tests, benchmarks; polls in real time). */
  async idle(): Promise<void> {
    while (this.running.size || this.due.earliest(pausedWorkspaces(this.deps.config())) <= this.clock.now()) {
      await Promise.race([...this.running.values()].map((r) => r.done).concat(new Promise<void>((r) => setTimeout(r, 20))));
    }
  }

  /** What waits (queue) and what is being delivered (active), from memory: the metrics' gauges. */
  *census(): Generator<{ entry: DueEntry; state: 'queue' | 'active' }> {
    for (const entry of this.due.entries()) yield { entry, state: 'queue' };
    for (const r of this.running.values()) yield { entry: r.entry, state: 'active' };
  }

  private index(meta: MessageMeta): void {
    this.due.add({
      id: meta.id,
      at: Date.parse(meta.nextAttemptAt) || 0,
      sender: this.account(meta),
      pool: this.pool(meta),
      recipients: countedRecipients(meta),
      workspace: meta.workspace,
      since: Date.parse(meta.requeuedAt ?? meta.receivedAt) || 0,
      held: meta.lastError?.kind === 'held' ? meta.lastError.code : null,
    });
    this.sweep.track(meta);
  }

  /** The Google account a message goes out as, which Gmail's limits count: paced per account. */
  private account(meta: MessageMeta): string {
    const ws = this.deps.config().workspaces.find((w) => w.name === meta.workspace);
    return ws?.transport === 'smtp' && ws.smtp ? ws.smtp.user : meta.sender;
  }

  /**
   * The quota a message's send shares with other users' (Google's per-project limit): the
   * service-account key of a gmail-api workspace. None for Gmail SMTP with an app password.
   */
  private pool(meta: MessageMeta): string | undefined {
    const ws = this.deps.config().workspaces.find((w) => w.name === meta.workspace);
    return ws?.transport === 'gmail-api' && ws.gmailApi ? `gmail-api:${path.resolve(ws.gmailApi.serviceAccountKeyFile)}` : undefined;
  }

  /**
   * Start what is due within the concurrency limits and each user's pace, sharing out: each round
   * takes at most one message per workspace, the workspace (and user) served least recently
   * first (due-index.ts), so one practice's backlog delays another's new message by about one
   * delivery slot, not by the backlog. A disabled practice's mail waits (its settings failed).
   */
  private pump(): void {
    if (this.stopped) return;
    const config = this.deps.config();
    const q = config.queue;
    this.pacer.setLimits(q);
    const paused = pausedWorkspaces(config);
    const now = this.clock.now();
    let nextAt = Infinity;
    const pick = { now, pacer: this.pacer, perUser: this.perUser, perUserConcurrency: q.perUserConcurrency, logger: this.deps.logger, later: (at: number) => void (nextAt = Math.min(nextAt, at)) };
    let progress = true;
    while (progress && this.running.size < q.concurrency) {
      progress = false;
      for (const { workspace, heads } of [...this.due.workspaces()]) {
        if (this.running.size >= q.concurrency) break;
        const head = paused.has(workspace) ? null : firstStartable(heads, pick);
        if (!head) continue;
        this.due.remove(head.id);
        this.due.served(head.workspace, head.sender);
        this.pacer.take(head.sender, now, head.pool);
        this.pacer.count(head.sender, head.recipients, now);
        this.run(head, now);
        progress = true;
      }
    }
    this.arm(nextAt);
  }

  private arm(at: number): void {
    if (at === this.timerAt) return;
    this.timer?.cancel();
    this.timerAt = at;
    if (at === Infinity) return;
    this.timer = this.clock
      .setTimeout(() => {
        this.timerAt = Infinity;
        this.pump();
      }, at - this.clock.now())
      .unref();
  }

  private run(entry: DueEntry, startedAt: number): void {
    const { id, sender, workspace } = entry;
    const controller = new AbortController();
    this.perUser.set(sender, (this.perUser.get(sender) ?? 0) + 1);
    this.inFlightBy.set(workspace, (this.inFlightBy.get(workspace) ?? 0) + 1);
    const done = this.deliver(entry, controller.signal, startedAt)
      .catch((err: unknown) => {
        this.deps.logger.error({ event: 'queue.error', queueId: id, err: errorText(err) }, 'scheduler error');
      })
      .finally(() => {
        this.running.delete(id);
        const n = (this.perUser.get(sender) ?? 1) - 1;
        if (n > 0) this.perUser.set(sender, n);
        else this.perUser.delete(sender);
        const w = (this.inFlightBy.get(workspace) ?? 1) - 1;
        if (w > 0) this.inFlightBy.set(workspace, w);
        else this.inFlightBy.delete(workspace);
        this.pump();
      });
    this.running.set(id, { controller, done, entry });
  }

  /** One attempt: run it (executor), decide what it means (outcome.ts), perform that (outcome-apply.ts). */
  private async deliver(entry: DueEntry, signal: AbortSignal, startedAt: number): Promise<void> {
    // A rejected run never ran (stopping, no delivery thread), or the delivery thread stopped
    // during it (outcomeUnknown).
    let run: AttemptRun = await this.deps
      .executor()
      .run(entry.id, signal)
      .catch((error: unknown) => ({ kind: 'claim_failed', error }) as const);
    if (run.kind === 'claim_failed' && run.error instanceof DeliveryError && run.error.outcomeUnknown) {
      // The thread stopped during the attempt. A message it left in active/ had its attempt:
      // counted as a failed one (retry schedule, maximum age), so a message that makes the thread
      // die every time ends in dead/ with a notice, not sent again every second for ever.
      const found = await this.deps.spool.find(entry.id).catch(() => null);
      if (found?.state === 'active' && !signal.aborted) run = { kind: 'failed', meta: found.meta, error: run.error };
    }
    const now = this.clock.now();
    const outcome = decideOutcome({ run, aborted: signal.aborted }, this.deps.config().queue, now, this.random);
    await applyOutcome(this.applying, outcome, { entry, startedAt, now });
  }
}
