/**
 * What an attempt's result means for its message (src/queue/outcome.ts), by table: the next
 * state (queue with its next attempt, dead, gone, the user paused), the notice that goes with it,
 * and what the user's rolling counts do. No spool, no clock: the function is pure.
 */
import { describe, expect, it } from 'vitest';
import { DeliveryError } from '../src/errors.js';
import type { FailureCode } from '../src/failures/index.js';
import { decideOutcome, type Attempt, type Outcome, type QueuePolicy } from '../src/queue/index.js';
import type { AttemptRun } from '../src/queue/index.js';
import type { MessageMeta } from '../src/spool/index.js';
import { makeMeta } from './support/spool-meta.js';

const MIN = 60_000;
const T0 = Date.parse('2026-09-01T08:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();
const QUEUE: QueuePolicy = { retrySchedule: [1 * MIN, 5 * MIN, 15 * MIN], maxAge: 60 * MIN, heldRetry: 20 * MIN };
/** 0.5: the jitter factor is exactly 1 (±10 % around the schedule). */
const HALF = () => 0.5;
const NOW = T0 + 10 * MIN;

const meta = (over: Partial<MessageMeta> = {}) => makeMeta('20260901T080000-abcdef', { receivedAt: iso(T0), nextAttemptAt: iso(T0), ...over });
const err = (code: FailureCode, kind: 'temporary' | 'held' | 'permanent', extra: ConstructorParameters<typeof DeliveryError>[3] = {}) => new DeliveryError(code, kind, `${code} happened`, extra);
const failed = (error: unknown, over: Partial<MessageMeta> = {}): AttemptRun => ({ kind: 'failed', meta: meta(over), error });
const decide = (run: AttemptRun, o: { now?: number; aborted?: boolean; random?: () => number; queue?: QueuePolicy } = {}): Outcome =>
  decideOutcome({ run, aborted: o.aborted ?? false } satisfies Attempt, o.queue ?? QUEUE, o.now ?? NOW, o.random ?? HALF);

/** The parts of an outcome a row states. */
function summary(o: Outcome) {
  const m = 'meta' in o ? o.meta : undefined;
  return {
    kind: o.kind,
    pace: o.pace,
    ...(m ? { attempts: m.attempts, next: m.nextAttemptAt, error: m.lastError?.code ?? null } : {}),
    ...(o.kind === 'retry' ? { notice: o.notice, dup: o.possibleDuplicate } : {}),
    ...(o.kind === 'kill' ? { expired: o.expired, dup: o.possibleDuplicate, pendingAt: iso(o.pendingAt) } : {}),
    ...(o.kind === 'put_back' ? { reason: o.reason, at: iso(o.at) } : {}),
  };
}

describe('retry outcome of a failed attempt', () => {
  it.each<[string, AttemptRun, ReturnType<typeof summary>, { now?: number; random?: () => number }?]>([
    ['temporary, first failure: the first delay of the schedule', failed(err('delivery.gmail_5xx', 'temporary')),
      { kind: 'retry', pace: 'uncount', attempts: 1, next: iso(NOW + 1 * MIN), error: 'delivery.gmail_5xx', notice: 'deferred', dup: false }],
    ['temporary, second failure: the second delay', failed(err('delivery.gmail_5xx', 'temporary'), { attempts: 1 }),
      { kind: 'retry', pace: 'uncount', attempts: 2, next: iso(NOW + 5 * MIN), error: 'delivery.gmail_5xx', notice: 'deferred', dup: false }],
    ['temporary, past the schedule: its last delay repeats', failed(err('delivery.gmail_5xx', 'temporary'), { attempts: 7 }),
      { kind: 'retry', pace: 'uncount', attempts: 8, next: iso(NOW + 15 * MIN), error: 'delivery.gmail_5xx', notice: 'deferred', dup: false }],
    ['jitter: random 0 is 10 % early', failed(err('delivery.gmail_5xx', 'temporary')),
      { kind: 'retry', pace: 'uncount', attempts: 1, next: iso(NOW + 0.9 * MIN), error: 'delivery.gmail_5xx', notice: 'deferred', dup: false }, { random: () => 0 }],
    ['jitter: random 1 is 10 % late', failed(err('delivery.gmail_5xx', 'temporary')),
      { kind: 'retry', pace: 'uncount', attempts: 1, next: iso(NOW + 1.1 * MIN), error: 'delivery.gmail_5xx', notice: 'deferred', dup: false }, { random: () => 1 }],
    ['a stated Retry-After later than the schedule wins', failed(err('delivery.gmail_5xx', 'temporary', { retryAfter: new Date(NOW + 7 * MIN) })),
      { kind: 'retry', pace: 'uncount', attempts: 1, next: iso(NOW + 7 * MIN), error: 'delivery.gmail_5xx', notice: 'deferred', dup: false }],
    ['a stated Retry-After earlier than the schedule is not anticipated', failed(err('delivery.gmail_5xx', 'temporary', { retryAfter: new Date(NOW + 10_000) })),
      { kind: 'retry', pace: 'uncount', attempts: 1, next: iso(NOW + 1 * MIN), error: 'delivery.gmail_5xx', notice: 'deferred', dup: false }],
    ['held: retried after heldRetry, with the held notice', failed(err('delivery.mail_disabled', 'held')),
      { kind: 'retry', pace: 'uncount', attempts: 1, next: iso(NOW + 20 * MIN), error: 'delivery.mail_disabled', notice: 'held', dup: false }],
    ['held near max age: the last attempt is at max age itself', failed(err('delivery.mail_disabled', 'held'), { attempts: 3 }),
      { kind: 'retry', pace: 'uncount', attempts: 4, next: iso(T0 + 60 * MIN), error: 'delivery.mail_disabled', notice: 'held', dup: false }, { now: T0 + 50 * MIN }],
    ['max age counts from requeuedAt (an admin gave it another chance)', failed(err('delivery.gmail_5xx', 'temporary'), { requeuedAt: iso(T0 + 100 * MIN) }),
      { kind: 'retry', pace: 'uncount', attempts: 1, next: iso(T0 + 121 * MIN), error: 'delivery.gmail_5xx', notice: 'deferred', dup: false }, { now: T0 + 120 * MIN }],
    ['the send may have reached Google: retried, its count kept, said so', failed(err('delivery.network', 'temporary', { outcomeUnknown: true })),
      { kind: 'retry', pace: 'keep', attempts: 1, next: iso(NOW + 1 * MIN), error: 'delivery.network', notice: 'deferred', dup: true }],
    ['an error that is no DeliveryError: unexpected, temporary', failed(new Error('boom')),
      { kind: 'retry', pace: 'uncount', attempts: 1, next: iso(NOW + 1 * MIN), error: 'delivery.unexpected', notice: 'deferred', dup: false }],
    ['permanent: dead, not expired', failed(err('delivery.message_rejected', 'permanent')),
      { kind: 'kill', pace: 'uncount', attempts: 1, next: iso(T0), error: 'delivery.message_rejected', expired: false, dup: false, pendingAt: iso(NOW + 20 * MIN) }],
    ['temporary at max age: dead, expired', failed(err('delivery.gmail_5xx', 'temporary'), { attempts: 9 }),
      { kind: 'kill', pace: 'uncount', attempts: 10, next: iso(T0), error: 'delivery.expired', expired: true, dup: false, pendingAt: iso(T0 + 80 * MIN) }, { now: T0 + 60 * MIN }],
    ['held past max age: dead, expired', failed(err('delivery.mail_disabled', 'held'), { attempts: 4 }),
      { kind: 'kill', pace: 'uncount', attempts: 5, next: iso(T0), error: 'delivery.expired', expired: true, dup: false, pendingAt: iso(T0 + 81 * MIN) }, { now: T0 + 61 * MIN }],
    ['rate limited: the user pauses, the message keeps its attempt count', failed(err('delivery.rate_limited', 'temporary'), { attempts: 2 }),
      { kind: 'pause_user', pace: 'uncount', attempts: 2, next: iso(T0), error: 'delivery.rate_limited' }],
    ['daily limit: the user pauses too', failed(err('delivery.daily_limit', 'temporary', { retryAfter: new Date(NOW + 3_600_000) })),
      { kind: 'pause_user', pace: 'uncount', attempts: 0, next: iso(T0), error: 'delivery.daily_limit' }],
    ['rate limited past max age: expired like any other failure', failed(err('delivery.rate_limited', 'temporary'), { attempts: 2 }),
      { kind: 'kill', pace: 'uncount', attempts: 3, next: iso(T0), error: 'delivery.expired', expired: true, dup: false, pendingAt: iso(T0 + 81 * MIN) }, { now: T0 + 61 * MIN }],
    ['a rate code that is not temporary is not a pause', failed(err('delivery.rate_limited', 'held')),
      { kind: 'retry', pace: 'uncount', attempts: 1, next: iso(NOW + 20 * MIN), error: 'delivery.rate_limited', notice: 'held', dup: false }],
  ])('%s', (_name, run, expected, o) => {
    expect(summary(decide(run, o))).toEqual(expected);
  });

  it('an expired message says how many attempts it had and why the last failed', () => {
    const o = decide(failed(err('delivery.gmail_5xx', 'temporary'), { attempts: 9 }), { now: T0 + 60 * MIN });
    expect(o).toMatchObject({ kind: 'kill', meta: { lastError: { code: 'delivery.expired', kind: 'temporary', message: 'gave up after 10 attempts: delivery.gmail_5xx happened', at: iso(T0 + 60 * MIN) } } });
  });

  it('carries the error itself (fix, retry time) for the notices and the log', () => {
    const e = err('delivery.mail_disabled', 'held', { fix: 'turn Gmail on' });
    expect(decide(failed(e))).toMatchObject({ kind: 'retry', error: e });
  });

  it('never changes the message it was given', () => {
    const run = failed(err('delivery.gmail_5xx', 'temporary'), { attempts: 9 }) as Extract<AttemptRun, { kind: 'failed' }>;
    const before = structuredClone(run.meta);
    decide(run, { now: T0 + 60 * MIN });
    decide(run);
    expect(run.meta).toEqual(before);
  });
});

describe('outcome of an attempt that did not fail', () => {
  const delivered = (over: Partial<Extract<AttemptRun, { kind: 'sent' }>> = {}, refused?: { recipient: string; temporary: boolean; code: number }[]): AttemptRun => ({
    kind: 'sent',
    meta: meta({ attempts: 1 }),
    outcome: { kind: 'delivered', result: { providerId: 'g-1', ...(refused ? { refused } : {}) } },
    transport: 'gmail-api',
    completed: true,
    ...over,
  });

  it.each<[string, AttemptRun, boolean, Partial<Outcome> & Record<string, unknown>]>([
    ['not in the queue any more: nothing but the count back', { kind: 'not_queued' }, false, { kind: 'gone', pace: 'uncount' }],
    ['the claim failed: put back a second later, the count back', { kind: 'claim_failed', error: new Error('EIO') }, false,
      { kind: 'put_back', reason: 'claim_failed', pace: 'uncount', at: NOW + 1_000 }],
    ['the thread stopped and the message is not in active/: put back, the count kept', { kind: 'claim_failed', error: err('delivery.thread_stopped', 'temporary', { outcomeUnknown: true }) }, false,
      { kind: 'put_back', reason: 'thread_stopped', pace: 'keep', at: NOW + 1_000 }],
    ['stopping: back to the queue as it was', failed(err('delivery.gmail_5xx', 'temporary')), true, { kind: 'aborted', pace: 'uncount', meta: meta() }],
    ['stopping during a send that may have gone out: the count kept', failed(err('delivery.network', 'temporary', { outcomeUnknown: true })), true, { kind: 'aborted', pace: 'keep' }],
    ['delivered and removed: the backoff ends', delivered(), false, { kind: 'sent', pace: 'succeeded', complete: false, split: null }],
    ['delivered, not yet removed: removed now', delivered({ completed: false }), false, { kind: 'sent', pace: 'succeeded', complete: true, split: null }],
    ['suppressed as a duplicate: nothing went out, the count back', delivered({ outcome: { kind: 'suppressed' } }), false, { kind: 'sent', pace: 'uncount', split: null }],
  ])('%s', (_name, run, aborted, expected) => {
    expect(decide(run, { aborted })).toMatchObject(expected);
  });

  it('partly refused: a split whose copy waits the delay of the next attempt', () => {
    const refused = [
      { recipient: 'dr.b@clinic.example', temporary: true, code: 451 },
      { recipient: 'dr.c@clinic.example', temporary: false, code: 550 },
    ];
    expect(decide(delivered({ completed: false }, refused))).toMatchObject({ kind: 'sent', pace: 'succeeded', complete: true, split: { refused, retryDelay: 5 * MIN } });
  });
});
