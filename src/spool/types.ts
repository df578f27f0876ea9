import type { FailureKind } from '../errors.js';

/**
 * The states a message can be in; each is a directory of `<id>.json` files under queue.dir.
 * `hold` is an admin hold (queue CLI): the scheduler never picks it up until it is released.
 */
export type SpoolState = 'queue' | 'active' | 'dead' | 'hold';

/** Everything the relay knows about an accepted message, stored as `<id>.json` beside its bytes. */
export interface MessageMeta {
  version: 1;
  /** Queue id, given to the client in the 250 reply. */
  id: string;
  /** ISO time the message was accepted. */
  receivedAt: string;
  /** Name of the workspace the message belongs to. */
  workspace: string;
  /** The envelope MAIL FROM as the client sent it ("" for the null sender). */
  mailFrom: string;
  /** The Workspace user Google sends as (after senders.map / senders.default). */
  sender: string;
  /** Envelope recipients (RCPT TO), lowercased domain, in order. */
  recipients: string[];
  /** Envelope recipients absent from the To/Cc/Bcc headers: added as a Bcc header for the Gmail API. */
  bcc: string[];
  /** Every recipient address in the To/Cc/Bcc (and Resent-*) headers, as found. */
  headerRecipients: string[];
  /** The Message-ID header (without <>), or null. */
  messageId: string | null;
  /** The address in the From header, or null. */
  from: string | null;
  /** Size of the stored bytes. */
  size: number;
  /** sha256 (hex) of the stored bytes: with `sender`, the key of duplicate suppression. */
  sha256: string;
  /** Who handed the message to us. */
  client: { address: string; hostname?: string };
  /**
   * The listener it came in on (listen[].name, or host:port) and the device account that logged
   * in, kept for its audit record (src/trace/audit-record.ts) across restarts. Absent on notices
   * the relay writes itself, and on messages accepted before the relay kept them (older meta).
   */
  listener?: string;
  device?: string;
  /** Delivery attempts made so far. */
  attempts: number;
  /** ISO time of the next attempt (the scheduler does not try before it). */
  nextAttemptAt: string;
  /** The last failure, if any. */
  lastError: { code: string; kind: FailureKind; message: string; at: string } | null;
  /** Set on messages the relay itself generated (notices): never notify about these. */
  notification?: 'failure' | 'delay' | 'alert';
  /** A "delayed" notice was sent to the sender already. */
  delayNotified?: boolean;
  /** ISO time an admin gave a dead message another chance (max age counts from here). */
  requeuedAt?: string;
  /**
   * Header changes decided at accept time (src/policy/rewrite-plan.ts) and applied on the way out
   * (src/delivery/outgoing.ts): the same on every attempt, so a retry sends the same Message-ID.
   */
  rewrite?: MessageRewrite;
}

/** Header changes to make on the way out; the stored bytes are never rewritten. */
export interface MessageRewrite {
  /** The From address becomes this (display name kept); a message without From gets `From: <from>`. */
  from?: string;
  /** A `Reply-To: <replyTo>` field (the message had none): the original From, inside the workspace. */
  replyTo?: string;
  /** A `Date:` field to add (RFC 5322 date-time): the message had none. */
  addDate?: string;
  /** A `Message-ID: <addMessageId>` field to add (without <>): the message had none. */
  addMessageId?: string;
}
