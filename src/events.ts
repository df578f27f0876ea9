/**
 * What the relay reports as it works, for the metrics (src/metrics) and the message trace
 * (src/trace): one narrow interface the listener and the scheduler call at the points where they
 * log the same step, injected from src/app.ts. A leaf like log and errors (types only).
 *
 * Calls are synchronous and cheap: an implementation never awaits I/O in them (the trace buffers
 * its records and writes them later) and never throws into the caller's path.
 */
import type { DeliveryError } from './errors.js';
import type { MessageMeta, SpoolState } from './spool/index.js';

/** Where a transaction was refused: the SMTP stage. */
export type RejectStage = 'mail' | 'rcpt' | 'data';

export interface Rejection {
  /** listen[].name, or host:port. */
  listener: string;
  /** The workspace, once MAIL FROM decided one (or the listener's or device's own). */
  workspace: string | undefined;
  stage: RejectStage;
  /** The reply's stable code (src/replies/table.ts), e.g. `policy.recipient_refused`. */
  reason: string;
  /** The SMTP reply code and enhanced code sent. */
  responseCode: number;
  enhanced: string;
  /** At DATA: the queue id the message would have had. */
  queueId?: string;
  client: string;
  mailFrom?: string | undefined;
  /** The recipients concerned: the refused one at RCPT, all of them at DATA. */
  recipients?: readonly string[];
  device?: string | undefined;
}

/** What happens to a message after a failed attempt. */
export type FailedOutcome =
  /** Retried on the schedule (or kept queued: a failure notice that could not be written). */
  | 'deferred'
  /** Google asked its sending user to slow down: the user waits, the attempt is not counted. */
  | 'rate_limited'
  /** An admin must fix something; retried every queue.heldRetry. */
  | 'held'
  /** Moved to dead/ (permanent, or the maximum age passed). */
  | 'failed';

/** How an attempt reached the provider. */
export interface DeliveredResult {
  transport: string;
  providerId: string | undefined;
  suppressed: boolean;
  /**
   * The recipients the provider took: every envelope recipient (Bcc included) for the Gmail API;
   * for SMTP, the RCPT TO it accepted (those it refused are retried in a copy or notified).
   */
  recipients: readonly string[];
}

/** Why a message left the spool undelivered: an admin's `queue delete`, or queue.deadRetention. */
export interface Removal {
  action: 'queue.delete' | 'queue.deadRetention';
  /** The admin, as the queue CLI's audit log line names them (absent for retention). */
  who?: { osUser: string; sudoUser?: string | undefined } | undefined;
  /** The state (directory) it was removed from. */
  state: SpoolState;
}

export interface RelayEvents {
  /** A connection refused at connect (reason: the reply's stable code). */
  sessionRefused(listener: string, reason: string): void;
  /** A device login refused (wrong credentials, or throttled). */
  authFailed(listener: string): void;
  /** A message committed to the spool (after its fsync, before the 250). */
  accepted(meta: MessageMeta, from: { listener: string; device?: string | undefined }): void;
  /** A transaction refused with a reply from the replies table. */
  rejected(rejection: Rejection): void;
  /**
   * An attempt reached Google (`suppressed`: an earlier transaction of the same message already
   * had); the spool no longer holds the message.
   */
  delivered(meta: MessageMeta, result: DeliveredResult): void;
  /** An attempt failed; `outcome` says what became of the message (the spool is updated already). */
  attemptFailed(meta: MessageMeta, error: DeliveryError, outcome: FailedOutcome): void;
  /** A message removed from the spool without (further) delivery; the spool no longer holds it. */
  removed(meta: MessageMeta, removal: Removal): void;
}

/** Reports to no one (library code and tests given no events). */
export const NO_EVENTS: RelayEvents = {
  sessionRefused: () => undefined,
  authFailed: () => undefined,
  accepted: () => undefined,
  rejected: () => undefined,
  delivered: () => undefined,
  attemptFailed: () => undefined,
  removed: () => undefined,
};

/** Every call goes to each of `sinks`; one that throws does not stop the others or the caller. */
export function fanOut(sinks: readonly Partial<RelayEvents>[], onError: (err: unknown) => void = () => undefined): RelayEvents {
  const call =
    <K extends keyof RelayEvents>(key: K) =>
    (...args: Parameters<RelayEvents[K]>): void => {
      for (const s of sinks) {
        try {
          (s[key] as ((...a: Parameters<RelayEvents[K]>) => void) | undefined)?.(...args);
        } catch (err) {
          onError(err);
        }
      }
    };
  return {
    sessionRefused: call('sessionRefused'),
    authFailed: call('authFailed'),
    accepted: call('accepted'),
    rejected: call('rejected'),
    delivered: call('delivered'),
    attemptFailed: call('attemptFailed'),
    removed: call('removed'),
  };
}
