/**
 * The per-message audit record (issue 19): one line per message, written when it leaves the queue
 * for good (delivered, or moved to dead/), that says it all on its own: who handed it over
 * (listener, client address, device account), the envelope sender and the Workspace user it was
 * sent as, the recipients Google took, when it was accepted and when it finished, the outcome and
 * Google's id. Addresses and ids only: never a subject, body or other header text.
 */
import type { DeliveryError } from '../errors.js';
import { loggedMessageId } from '../safe-text.js';
import type { MessageMeta } from '../spool/index.js';

export interface AuditRecord {
  v: 1;
  type: 'audit';
  /** When the message left the queue (delivered, or moved to dead/). */
  at: string;
  queueId: string;
  workspace: string;
  /** Unknown (absent) when the relay restarted between acceptance and the end, or for a notice the relay wrote. */
  listener?: string;
  client: { address: string; hostname?: string };
  device?: string;
  mailFrom: string;
  sender: string;
  from: string | null;
  messageId: string | null;
  /** When it was accepted (the accepted record's time; the start of its receipt when that is not known). */
  acceptedAt: string;
  outcome: 'delivered' | 'suppressed' | 'failed';
  /**
   * Delivered: the recipients the provider took (Gmail API: every envelope recipient, Bcc
   * included; SMTP: the RCPT TO it accepted). Failed: none.
   */
  recipients: string[];
  /** Envelope recipients not delivered by this message (failed; or refused by an SMTP upstream). */
  undelivered?: string[];
  transport?: string;
  /** Google's message id (gmail-api) or the upstream's queue id (smtp). */
  providerId?: string;
  /** Failed: the stable failure code. */
  code?: string;
  attempts: number;
  notification?: string;
}

/** Where it came from, as the recorder kept it from the acceptance. */
export interface AuditOrigin {
  listener: string;
  device?: string | undefined;
  /** When the message was committed (its 250; the accepted record's time). */
  acceptedAt: string;
}

function base(meta: MessageMeta, origin: AuditOrigin | undefined, at: Date): Omit<AuditRecord, 'outcome' | 'recipients' | 'attempts'> {
  return {
    v: 1,
    type: 'audit',
    at: at.toISOString(),
    queueId: meta.id,
    workspace: meta.workspace,
    ...(origin ? { listener: origin.listener } : {}),
    client: { ...meta.client },
    ...(origin?.device ? { device: origin.device } : {}),
    mailFrom: meta.mailFrom,
    sender: meta.sender,
    from: meta.rewrite?.from ?? meta.from,
    messageId: loggedMessageId(meta),
    acceptedAt: origin?.acceptedAt ?? meta.receivedAt,
    ...(meta.notification ? { notification: meta.notification } : {}),
  };
}

export function auditDelivered(
  meta: MessageMeta,
  origin: AuditOrigin | undefined,
  result: { transport: string; providerId: string | undefined; suppressed: boolean; recipients: readonly string[] },
  at: Date,
): AuditRecord {
  const undelivered = meta.recipients.filter((r) => !result.recipients.includes(r));
  return {
    ...base(meta, origin, at),
    outcome: result.suppressed ? 'suppressed' : 'delivered',
    recipients: [...result.recipients],
    ...(undelivered.length ? { undelivered } : {}),
    transport: result.transport,
    ...(result.providerId ? { providerId: result.providerId } : {}),
    attempts: meta.attempts + 1,
  };
}

export function auditFailed(meta: MessageMeta, origin: AuditOrigin | undefined, error: DeliveryError, at: Date): AuditRecord {
  return {
    ...base(meta, origin, at),
    outcome: 'failed',
    recipients: [],
    undelivered: [...meta.recipients],
    code: meta.lastError?.code ?? error.code,
    attempts: meta.attempts,
  };
}
