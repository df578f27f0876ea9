import type { TransportName } from '../failures/index.js';
import type { MessageMeta, MessageSource } from '../spool/index.js';

/**
 * A spooled message handed to a transport: its metadata, and its bytes as received (decrypted
 * when the spool is encrypted): transports read them through OutgoingMessage.open.
 */
export interface OutboundMessage {
  meta: MessageMeta;
  message: MessageSource;
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
