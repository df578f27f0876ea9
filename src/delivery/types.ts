import type { TransportName } from '../failures/index.js';
import type { MessageMeta } from '../spool/index.js';

/**
 * A spooled message handed to a transport. The file at `path` holds the exact bytes received,
 * meta.size of them, then the spool's metadata: read it with readOutgoing, which stops there.
 */
export interface OutboundMessage {
  meta: MessageMeta;
  path: string;
}

export interface DeliveryResult {
  /** Gmail message id (gmail-api), upstream queue id (smtp) or file name (outbox). */
  providerId: string;
  /**
   * Recipients the upstream refused while it took the message for the others (SMTP: a RCPT
   * answered 4xx or 5xx). The scheduler retries the temporary ones in a copy and notifies the
   * sender of the permanent ones.
   */
  refused?: { recipient: string; temporary: boolean; code: number | undefined }[];
}

/**
 * One interface for every way out. `deliver` resolves once the provider took the message, or
 * rejects with a DeliveryError (src/errors.ts) classified in src/failures/classify.ts.
 * Transports never import each other.
 */
export interface Transport {
  readonly name: TransportName;
  deliver(message: OutboundMessage, signal: AbortSignal): Promise<DeliveryResult>;
  close?(): Promise<void>;
}
