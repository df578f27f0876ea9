/**
 * Performs a decided outcome (outcome.ts): the pacer's counts, the notices (observer, before the
 * state change so a mark it makes is stored with it), the spool state change (retried until it
 * holds: settle.ts), the due index, and the log line. Every log `event` of a delivery's end is
 * written here.
 */
import type { Clock } from '../clock.js';
import { errorText } from '../errors.js';
import type { RelayEvents } from '../events.js';
import type { Logger } from '../log.js';
import { loggedMessageId } from '../safe-text.js';
import type { Spool, MessageMeta } from '../spool/index.js';
import type { DueEntry } from './due-index.js';
import type { DeliveryObserver } from './observer.js';
import type { Outcome, PaceChange } from './outcome.js';
import type { Pacer } from './pacer.js';
import { splitRefused } from './partial.js';
import { observe, settle, type SettleContext } from './settle.js';

export interface ApplyDeps extends SettleContext {
  spool: Spool;
  logger: Logger;
  pacer: Pacer;
  observer: DeliveryObserver | undefined;
  /** Told of each outcome once the spool has it (metrics, trace). */
  events: RelayEvents;
  clock: Clock;
  /** Put a message (back) into the due index. */
  index(meta: MessageMeta): void;
}

export interface AttemptContext {
  /** The due entry the attempt was started from: its sender is the account it was paced as. */
  entry: DueEntry;
  /** When the attempt started (and its send was counted for the rolling day: pacer.count). */
  startedAt: number;
  /** When the outcome was decided. */
  now: number;
}

const iso = (ms: number) => new Date(ms).toISOString();

export async function applyOutcome(deps: ApplyDeps, outcome: Outcome, ctx: AttemptContext): Promise<void> {
  const { spool, logger, observer } = deps;
  const { id, sender: account } = ctx.entry;
  const pace = (change: PaceChange) => {
    if (change === 'uncount') deps.pacer.uncount(account, ctx.entry.recipients, ctx.startedAt);
    else if (change === 'succeeded') deps.pacer.succeeded(account);
  };
  if (outcome.kind !== 'sent') pace(outcome.pace);
  const log = logger.child({ queueId: id, ...('meta' in outcome ? { workspace: outcome.meta.workspace } : {}) });
  switch (outcome.kind) {
    case 'gone':
      return; // deleted, or taken by an admin action meanwhile
    case 'put_back': {
      // A rejected run never ran (stopping, no delivery thread), or the delivery thread stopped
      // during it: where the message is, and whether it reached Google, is not known here. It goes
      // back to the queue; the sent log suppresses a repeat it recorded.
      if (outcome.reason === 'thread_stopped') {
        logger.warn({ event: 'delivery.possible_duplicate', queueId: id, code: (outcome.error as { code?: unknown }).code }, 'the delivery thread stopped during the attempt; putting the message back');
      } else {
        logger.error({ event: 'queue.claim_failed', queueId: id, err: errorText(outcome.error) }, 'could not claim a message; putting it back');
      }
      await settle(deps, 'release', id, logger, async () => {
        const found = await spool.find(id);
        if (found?.state === 'active') await spool.release(found.meta);
        if (found?.state === 'active' || found?.state === 'queue') deps.index({ ...found.meta, nextAttemptAt: iso(outcome.at) });
      });
      return;
    }
    case 'aborted':
      await settle(deps, 'release', id, log, () => spool.release(outcome.meta));
      deps.index(outcome.meta);
      log.info({ event: 'delivery.aborted' }, 'left in the queue for the next start');
      return;
    case 'sent':
      return sent(deps, outcome, ctx, log, pace);
    case 'pause_user': {
      // Google said this user sends too fast (or reached a daily limit): the user waits until the
      // time Google stated (or a backoff), its pace is halved (not for a daily limit), the message
      // keeps its attempt count, other users' mail flows.
      const { meta, error: e } = outcome;
      meta.nextAttemptAt = iso(deps.pacer.rateLimited(account, ctx.now, e.retryAfter, e.code === 'delivery.daily_limit' ? 'daily' : 'rate'));
      await observe(log, () => observer?.deferred?.(meta, e));
      await settle(deps, 'release', id, log, () => spool.release(meta));
      deps.index(meta);
      deps.events.attemptFailed(meta, e, 'rate_limited');
      log.warn(
        { event: 'delivery.deferred', outcome: 'deferred', code: e.code, kind: e.kind, reason: e.message, attempts: meta.attempts, sender: meta.sender, ...(account !== meta.sender ? { account } : {}), nextAttemptAt: meta.nextAttemptAt, userPausedUntil: meta.nextAttemptAt },
        'Google asked this user to slow down',
      );
      return;
    }
    case 'retry':
    case 'kill': {
      const { meta, error: e } = outcome;
      const fields = { code: e.code, kind: e.kind, reason: e.message, attempts: meta.attempts, sender: meta.sender, messageId: loggedMessageId(meta) };
      if (outcome.possibleDuplicate) log.warn({ event: 'delivery.possible_duplicate', code: e.code }, 'the send may have reached Google; retrying');
      if (outcome.kind === 'kill') {
        try {
          await observer?.failed?.(meta, e, outcome.expired);
        } catch (err) {
          // The failure notice could not be written (disk full, I/O error): keep the message
          // queued and go through this again later, rather than move it to dead/ with its bounce lost.
          meta.nextAttemptAt = iso(outcome.pendingAt);
          await settle(deps, 'release', id, log, () => spool.release(meta));
          deps.index(meta);
          deps.events.attemptFailed(meta, e, 'deferred');
          log.error({ event: 'notify.failure_pending', code: e.code, err: errorText(err), nextAttemptAt: meta.nextAttemptAt }, 'the failure notice could not be written: the message stays queued until it can be');
          return;
        }
        await settle(deps, 'kill', id, log, () => spool.kill(meta));
        deps.events.attemptFailed(meta, e, 'failed');
        log.error({ event: 'delivery.failed', outcome: 'failed', ...fields, expired: outcome.expired }, 'moved to dead/');
        return;
      }
      await observe(log, () => (outcome.notice === 'held' ? observer?.held?.(meta, e) : observer?.deferred?.(meta, e)));
      await settle(deps, 'release', id, log, () => spool.release(meta));
      deps.index(meta);
      deps.events.attemptFailed(meta, e, outcome.notice);
      if (outcome.notice === 'held') {
        log.error({ event: 'delivery.held', outcome: 'held', alert: true, ...fields, fix: e.fix, nextAttemptAt: meta.nextAttemptAt }, `held: ${e.fix ?? e.message}`);
      } else {
        log.warn({ event: 'delivery.deferred', outcome: 'deferred', ...fields, nextAttemptAt: meta.nextAttemptAt }, 'deferred');
      }
      return;
    }
  }
}

async function sent(deps: ApplyDeps, outcome: Extract<Outcome, { kind: 'sent' }>, ctx: AttemptContext, log: Logger, pace: (c: PaceChange) => void): Promise<void> {
  const { spool, observer } = deps;
  const { meta, split } = outcome;
  const id = meta.id;
  if (split) {
    // Before the original goes: the copy for the deferred recipients is made from its bytes.
    await settle(deps, 'split', id, log, () =>
      splitRefused({
        meta,
        refused: split.refused,
        spool,
        now: deps.clock.now(),
        retryDelay: split.retryDelay,
        logger: log,
        enqueue: (copy) => deps.index(copy),
        failed: (m, e) => observe(log, () => observer?.failed?.(m, e, false, true)),
      }),
    );
  }
  // Sent: a failure to remove it now must not count as a failed delivery (and send it again).
  if (outcome.complete) await settle(deps, 'complete', id, log, () => spool.complete(id, { retry: true }));
  pace(outcome.pace);
  const providerId = outcome.sent.kind === 'suppressed' ? null : outcome.sent.result.providerId;
  await observe(log, () => observer?.delivered?.(meta, { providerId, partial: split !== null }));
  const refused = new Set(split?.refused.map((r) => r.recipient));
  const recipients = meta.recipients.filter((r) => !refused.has(r));
  deps.events.delivered(meta, { transport: outcome.transport, providerId: providerId ?? undefined, suppressed: outcome.sent.kind === 'suppressed', recipients });
  if (outcome.sent.kind === 'suppressed') {
    log.info(
      { event: 'delivery.duplicate_suppressed', outcome: 'suppressed', messageId: loggedMessageId(meta), sender: meta.sender, recipients: meta.recipients },
      'already delivered by an earlier transaction',
    );
    return;
  }
  log.info(
    {
      event: 'delivery.ok',
      outcome: 'delivered',
      transport: outcome.transport,
      messageId: loggedMessageId(meta),
      sender: meta.sender,
      recipients: meta.recipients,
      size: meta.size,
      attempts: meta.attempts + 1,
      providerId,
      ms: deps.clock.now() - ctx.startedAt,
    },
    'delivered',
  );
}
