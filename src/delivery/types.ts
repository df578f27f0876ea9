import type { MessageMeta } from '../spool/types.js';

/** A spooled message handed to a transport. The file at `path` holds the exact bytes received. */
export interface OutboundMessage {
  meta: MessageMeta;
  path: string;
}

export interface DeliveryResult {
  /** Gmail message id (gmail-api), upstream queue id (smtp) or file name (outbox). */
  providerId: string;
}

/**
 * One interface for every way out. `deliver` resolves once the provider took the message, or
 * rejects with a DeliveryError (src/errors.ts) classified in src/delivery/classify.ts.
 * Transports never import each other.
 */
export interface Transport {
  readonly name: 'gmail-api' | 'smtp' | 'outbox';
  deliver(message: OutboundMessage, signal: AbortSignal): Promise<DeliveryResult>;
  close?(): Promise<void>;
}
