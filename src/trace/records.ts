/**
 * The message trace's records: one JSON object per step of a message, built from RelayEvents.
 * They hold who sent it (listener, client address, device account), the envelope and header
 * addresses, the Message-ID it leaves with, each attempt's outcome and Google's id — never a
 * subject, body or any other header text. Also what issue 19's per-message audit trail needs.
 */
import type { DeliveryError } from '../errors.js';
import type { DeliveredResult, FailedOutcome, Rejection, RejectStage } from '../events.js';
import { loggedMessageId } from '../safe-text.js';
import type { MessageMeta } from '../spool/index.js';
import type { AuditRecord } from './audit-record.js';

export const TRACE_VERSION = 1;

export interface AcceptedRecord {
  v: 1;
  type: 'accepted';
  at: string;
  queueId: string;
  workspace: string;
  listener: string;
  client: { address: string; hostname?: string };
  device?: string;
  mailFrom: string;
  /** The Workspace user Google sends as. */
  sender: string;
  /** The From header's address as received, and the one it goes out with when rewritten. */
  from: string | null;
  fromRewritten?: string;
  recipients: string[];
  headerRecipients: string[];
  bcc: string[];
  /**
   * The Message-ID it leaves with (its own, or the relay's: messageIdAdded), in the form the log
   * shows (safeMessageId: an odd one as `sha256:…`; a query is put in the same form).
   */
  messageId: string | null;
  messageIdAdded: boolean;
  size: number;
}

export interface RejectedRecord {
  v: 1;
  type: 'rejected';
  at: string;
  queueId?: string;
  workspace?: string;
  listener: string;
  client: { address: string };
  device?: string;
  stage: RejectStage;
  /** The reply's stable code, e.g. policy.recipient_refused. */
  reason: string;
  reply: string;
  mailFrom?: string;
  recipients?: string[];
}

export type AttemptOutcome = 'delivered' | 'suppressed' | FailedOutcome;

export interface AttemptRecord {
  v: 1;
  type: 'attempt';
  at: string;
  queueId: string;
  workspace: string;
  outcome: AttemptOutcome;
  transport?: string;
  /** Google's message id (gmail-api) or the upstream's queue id (smtp). */
  providerId?: string;
  code?: string;
  kind?: string;
  /** The relay's own words about the failure (never the upstream's text). */
  reason?: string;
  nextAttemptAt?: string;
  /** A notice the relay wrote itself (failure, delay, alert). */
  notification?: string;
}

export type TraceRecord = AcceptedRecord | RejectedRecord | AttemptRecord | AuditRecord;

export function acceptedRecord(meta: MessageMeta, from: { listener: string; device?: string | undefined }, at: Date): AcceptedRecord {
  const messageId = loggedMessageId(meta);
  return {
    v: 1,
    type: 'accepted',
    at: at.toISOString(),
    queueId: meta.id,
    workspace: meta.workspace,
    listener: from.listener,
    client: { ...meta.client },
    ...(from.device ? { device: from.device } : {}),
    mailFrom: meta.mailFrom,
    sender: meta.sender,
    from: meta.from,
    ...(meta.rewrite?.from ? { fromRewritten: meta.rewrite.from } : {}),
    recipients: [...meta.recipients],
    headerRecipients: [...meta.headerRecipients],
    bcc: [...meta.bcc],
    messageId,
    messageIdAdded: meta.messageId === null && messageId !== null,
    size: meta.size,
  };
}

export function rejectedRecord(r: Rejection, at: Date): RejectedRecord {
  return {
    v: 1,
    type: 'rejected',
    at: at.toISOString(),
    ...(r.queueId ? { queueId: r.queueId } : {}),
    ...(r.workspace ? { workspace: r.workspace } : {}),
    listener: r.listener,
    client: { address: r.client },
    ...(r.device ? { device: r.device } : {}),
    stage: r.stage,
    reason: r.reason,
    reply: `${r.responseCode} ${r.enhanced}`,
    ...(r.mailFrom !== undefined ? { mailFrom: r.mailFrom } : {}),
    ...(r.recipients?.length ? { recipients: [...r.recipients] } : {}),
  };
}

/** What every attempt record has: the message, its workspace, when, and whose notice it is. */
function attemptBase(meta: MessageMeta, outcome: AttemptOutcome, at: Date): AttemptRecord {
  return {
    v: 1,
    type: 'attempt',
    at: at.toISOString(),
    queueId: meta.id,
    workspace: meta.workspace,
    outcome,
    ...(meta.notification ? { notification: meta.notification } : {}),
  };
}

export function deliveredRecord(meta: MessageMeta, result: DeliveredResult, at: Date): AttemptRecord {
  return {
    ...attemptBase(meta, result.suppressed ? 'suppressed' : 'delivered', at),
    transport: result.transport,
    ...(result.providerId ? { providerId: result.providerId } : {}),
  };
}

export function failedRecord(meta: MessageMeta, error: DeliveryError, outcome: FailedOutcome, at: Date): AttemptRecord {
  const dead = outcome === 'failed';
  return {
    ...attemptBase(meta, outcome, at),
    code: dead ? (meta.lastError?.code ?? error.code) : error.code,
    kind: error.kind,
    reason: dead ? (meta.lastError?.message ?? error.message) : error.message,
    ...(dead ? {} : { nextAttemptAt: meta.nextAttemptAt }),
  };
}
