/**
 * What one delivery attempt means for its message: a pure function of (the attempt's result, with
 * the message as it stood; the queue config; now; a random source for jitter) to where the
 * message goes next and what goes with it. No I/O, no clock, no pacer: the scheduler performs the
 * outcome (outcome-apply.ts). Table-tested in test/queue-outcome.test.ts.
 *
 * - sent (or suppressed as a duplicate): gone from the spool; a partly refused message first
 *   leaves a copy for the recipients refused for now (split) and a notice for those refused for good;
 * - failed, temporary or held: back to the queue with attempts + 1, lastError and the next
 *   attempt on the schedule (held: after queue.heldRetry), never before a stated Retry-After,
 *   at the latest at max age;
 * - failed with "this user sends too fast" (rate or daily limit) while there is time left: the
 *   user is paused (pacer) and the message waits for it, attempts unchanged;
 * - failed for good, or out of time: a failure notice, then dead/ (if the notice cannot be
 *   written, back to the queue until queue.heldRetry: `pendingAt`);
 * - stopped during the attempt (aborted): back to the queue as it was;
 * - the claim failed, or the delivery thread stopped and the message is not in active/: put back
 *   (if found in active/) and due again a second later;
 * - not in the queue any more (deleted or taken by an admin meanwhile): nothing.
 *
 * `pace` says what the user's rolling counts do with the send counted when the attempt started:
 * keep it (it went out, or may have), give it back (`uncount`: nothing went out), or keep it and
 * end a rate-limit backoff (`succeeded`).
 */
import type { Config } from '../config/index.js';
import { DeliveryError, errorText } from '../errors.js';
import { codeRow, isFailureCode } from '../failures/index.js';
import type { Transport } from '../delivery/index.js';
import type { MessageMeta } from '../spool/index.js';
import type { AttemptOutcome } from './attempt.js';
import type { AttemptRun } from './executor.js';
import { nextAttemptAt, scheduleDelay, withJitter } from './retry.js';

export type PaceChange = 'keep' | 'uncount' | 'succeeded';

type Refused = NonNullable<Extract<AttemptOutcome, { kind: 'delivered' }>['result']['refused']>;

export type Outcome =
  | { kind: 'gone'; pace: 'uncount' }
  | { kind: 'put_back'; pace: PaceChange; reason: 'claim_failed' | 'thread_stopped'; error: unknown; at: number }
  | { kind: 'aborted'; pace: PaceChange; meta: MessageMeta }
  | {
      kind: 'sent';
      pace: PaceChange;
      meta: MessageMeta;
      sent: AttemptOutcome;
      transport: Transport['name'];
      /** Still to be removed from the spool (the executor could not, or left it for the split). */
      complete: boolean;
      split: { refused: Refused; retryDelay: number } | null;
    }
  | { kind: 'pause_user'; pace: PaceChange; meta: MessageMeta; error: DeliveryError }
  | { kind: 'retry'; pace: PaceChange; meta: MessageMeta; error: DeliveryError; notice: 'deferred' | 'held'; possibleDuplicate: boolean }
  | { kind: 'kill'; pace: PaceChange; meta: MessageMeta; error: DeliveryError; expired: boolean; possibleDuplicate: boolean; pendingAt: number };

export interface Attempt {
  /** What the executor reported. A thread that stopped during a message found in active/ is a `failed` run of that message. */
  run: AttemptRun;
  /** The relay is stopping: the attempt was aborted under it. */
  aborted: boolean;
}

export type QueuePolicy = Pick<Config['queue'], 'retrySchedule' | 'maxAge' | 'heldRetry'>;

/** A claim that failed, or a run lost with the thread, is tried again this much later. */
export const PUT_BACK_DELAY_MS = 1_000;

export function asDeliveryError(err: unknown): DeliveryError {
  return err instanceof DeliveryError ? err : new DeliveryError('delivery.unexpected', 'temporary', errorText(err), { cause: err });
}

const outcomeUnknown = (err: unknown) => err instanceof DeliveryError && err.outcomeUnknown;

export function decideOutcome(attempt: Attempt, queue: QueuePolicy, now: number, random: () => number): Outcome {
  const { run, aborted } = attempt;
  switch (run.kind) {
    case 'not_queued':
      return { kind: 'gone', pace: 'uncount' };
    case 'claim_failed': {
      // The thread stopped during the attempt (the message was not found in active/, or the
      // relay is stopping): it may have reached Google, so its count stays.
      const lost = outcomeUnknown(run.error);
      return { kind: 'put_back', pace: lost ? 'keep' : 'uncount', reason: lost ? 'thread_stopped' : 'claim_failed', error: run.error, at: now + PUT_BACK_DELAY_MS };
    }
    case 'failed': {
      const pace = outcomeUnknown(run.error) ? 'keep' : 'uncount';
      if (aborted) return { kind: 'aborted', pace, meta: run.meta };
      return failure(run.meta, asDeliveryError(run.error), pace, queue, now, random);
    }
    case 'sent': {
      const { meta, outcome } = run;
      const refused = outcome.kind === 'delivered' ? outcome.result.refused : undefined;
      return {
        kind: 'sent',
        pace: outcome.kind === 'delivered' ? 'succeeded' : 'uncount',
        meta,
        sent: outcome,
        transport: run.transport,
        complete: !run.completed,
        split: refused?.length ? { refused, retryDelay: withJitter(scheduleDelay(queue.retrySchedule, meta.attempts + 1), random) } : null,
      };
    }
  }
}

function failure(original: MessageMeta, e: DeliveryError, pace: PaceChange, queue: QueuePolicy, now: number, random: () => number): Outcome {
  const receivedAt = Date.parse(original.requeuedAt ?? original.receivedAt);
  const lastError = { code: e.code, kind: e.kind, message: e.message, at: new Date(now).toISOString() };
  // "This user is sending too fast" (the code table's pausesUser): defer the user, not fail the message.
  if (isFailureCode(e.code) && codeRow(e.code).pausesUser && e.kind === 'temporary' && now < receivedAt + queue.maxAge) {
    // nextAttemptAt: when the pacer lets the user send again (decided where the pacer is).
    return { kind: 'pause_user', pace, meta: { ...original, lastError }, error: e };
  }
  const meta: MessageMeta = { ...original, attempts: original.attempts + 1, lastError };
  const possibleDuplicate = e.outcomeUnknown;
  const next =
    e.kind === 'permanent'
      ? null
      : nextAttemptAt({
          now,
          receivedAt,
          maxAge: queue.maxAge,
          delay: e.kind === 'held' ? queue.heldRetry : withJitter(scheduleDelay(queue.retrySchedule, meta.attempts), random),
          retryAfter: e.retryAfter,
        });
  if (next === null) {
    const expired = e.kind !== 'permanent';
    if (expired) meta.lastError = { ...lastError, code: 'delivery.expired', message: `gave up after ${meta.attempts} attempts: ${e.message}` };
    return { kind: 'kill', pace, meta, error: e, expired, possibleDuplicate, pendingAt: now + queue.heldRetry };
  }
  meta.nextAttemptAt = new Date(next).toISOString();
  return { kind: 'retry', pace, meta, error: e, notice: e.kind === 'held' ? 'held' : 'deferred', possibleDuplicate };
}
