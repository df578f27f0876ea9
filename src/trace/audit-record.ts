/**
 * The per-message audit record (issue 19): one line per message, written when it leaves the queue
 * for good (delivered, moved to dead/, or deleted: by an admin or, once dead, by retention), that
 * says it all on its own: who handed it over (listener, client address, device account), the
 * envelope sender and the Workspace user it was sent as, the recipients Google took, when it was
 * accepted and when it finished, the outcome and Google's id. Addresses and ids only: never a
 * subject, body or other header text. Built from the message's metadata alone (what the spool
 * keeps on disk), so a restart between acceptance and the end loses nothing of it.
 */
import type { DeliveryError } from '../errors.js';
import type { Removal } from '../events.js';
import { loggedMessageId } from '../safe-text.js';
import type { MessageMeta } from '../spool/index.js';

export interface AuditRecord {
  v: 1;
  type: 'audit';
  /** When the message left the queue (delivered, moved to dead/, or deleted). */
  at: string;
  queueId: string;
  workspace: string;
  /** Absent for a notice the relay wrote, and for a message accepted before the spool kept it. */
  listener?: string;
  client: { address: string; hostname?: string };
  device?: string;
  mailFrom: string;
  sender: string;
  from: string | null;
  messageId: string | null;
  /** When it was accepted (its receivedAt, the accepted record's time). */
  acceptedAt: string;
  outcome: 'delivered' | 'suppressed' | 'failed' | 'deleted';
  /**
   * Delivered: the recipients the provider took (Gmail API: every envelope recipient, Bcc
   * included; SMTP: the RCPT TO it accepted). Failed or deleted: none.
   */
  recipients: string[];
  /** Envelope recipients not delivered by this message (failed, deleted; or refused by an SMTP upstream). */
  undelivered?: string[];
  transport?: string;
  /** Google's message id (gmail-api) or the upstream's queue id (smtp). */
  providerId?: string;
  /** Failed: the stable failure code; deleted: its last failure's, if it had one. */
  code?: string;
  attempts: number;
  notification?: string;
  /** Deleted: by whom (the admin's `queue delete`, or queue.deadRetention) and from which state. */
  deletedBy?: { action: Removal['action']; osUser?: string; sudoUser?: string };
  deletedFrom?: Removal['state'];
}

function base(meta: MessageMeta, at: Date): Omit<AuditRecord, 'outcome' | 'recipients' | 'attempts'> {
  return {
    v: 1,
    type: 'audit',
    at: at.toISOString(),
    queueId: meta.id,
    workspace: meta.workspace,
    ...(meta.listener ? { listener: meta.listener } : {}),
    client: { ...meta.client },
    ...(meta.device ? { device: meta.device } : {}),
    mailFrom: meta.mailFrom,
    sender: meta.sender,
    from: meta.rewrite?.from ?? meta.from,
    messageId: loggedMessageId(meta),
    acceptedAt: meta.receivedAt,
    ...(meta.notification ? { notification: meta.notification } : {}),
  };
}

export function auditDelivered(
  meta: MessageMeta,
  result: { transport: string; providerId: string | undefined; suppressed: boolean; recipients: readonly string[] },
  at: Date,
): AuditRecord {
  const undelivered = meta.recipients.filter((r) => !result.recipients.includes(r));
  return {
    ...base(meta, at),
    outcome: result.suppressed ? 'suppressed' : 'delivered',
    recipients: [...result.recipients],
    ...(undelivered.length ? { undelivered } : {}),
    transport: result.transport,
    ...(result.providerId ? { providerId: result.providerId } : {}),
    attempts: meta.attempts + 1,
  };
}

export function auditFailed(meta: MessageMeta, error: DeliveryError, at: Date): AuditRecord {
  return {
    ...base(meta, at),
    outcome: 'failed',
    recipients: [],
    undelivered: [...meta.recipients],
    code: meta.lastError?.code ?? error.code,
    attempts: meta.attempts,
  };
}

export function auditDeleted(meta: MessageMeta, removal: Removal, at: Date): AuditRecord {
  const who = removal.who;
  return {
    ...base(meta, at),
    outcome: 'deleted',
    recipients: [],
    undelivered: [...meta.recipients],
    ...(meta.lastError ? { code: meta.lastError.code } : {}),
    attempts: meta.attempts,
    deletedBy: { action: removal.action, ...(who ? { osUser: who.osUser, ...(who.sudoUser ? { sudoUser: who.sudoUser } : {}) } : {}) },
    deletedFrom: removal.state,
  };
}
