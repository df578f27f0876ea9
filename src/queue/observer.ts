/**
 * What the scheduler tells about outcomes (the notifier listens: src/notify/notifier.ts). Told
 * before the spool changes state, so it may mark the meta (e.g. that a delay notice was sent) and
 * the mark is stored with the state change. Errors are logged, never fatal to the delivery.
 */
import type { DeliveryError } from '../errors.js';
import type { MessageMeta } from '../spool/index.js';

/** What the provider said of a delivered message. */
export interface Delivered {
  /** Google's message id (or the upstream's queue id); null when an earlier send already reached every recipient. */
  providerId: string | null;
  /** Recipients the upstream refused or deferred went on in a copy or a notice (Gmail SMTP). */
  partial: boolean;
}

export interface DeliveryObserver {
  delivered?(meta: MessageMeta, delivered?: Delivered): void | Promise<void>;
  deferred?(meta: MessageMeta, error: DeliveryError): void | Promise<void>;
  held?(meta: MessageMeta, error: DeliveryError): void | Promise<void>;
  /**
   * Permanent failure, or max age reached (`expired`). Rejecting means the failure notice could
   * not be written: the message then stays queued (retried after queue.heldRetry), not dead.
   */
  failed?(meta: MessageMeta, error: DeliveryError, expired: boolean, partial?: boolean): void | Promise<void>;
}
