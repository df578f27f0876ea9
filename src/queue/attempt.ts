/**
 * One delivery attempt of one message, with duplicate suppression for transports that deliver
 * to the header recipients (the Gmail API has no envelope; the SMTP ones honour it): when a client split one message into
 * several transactions, each would reach every header recipient again. Keyed on the sending user
 * and the sha256 of the exact bytes; decided under a per-key lock; remembered on disk.
 */
import { honoursEnvelope } from '../config/index.js';
import { errorText } from '../errors.js';
import type { Logger } from '../log.js';
import type { DeliveryResult, Transport } from '../delivery/index.js';
import { type MessageMeta, sentKey, type MessageSource, type SentLog } from '../spool/index.js';

export type AttemptOutcome = { kind: 'delivered'; result: DeliveryResult } | { kind: 'suppressed' };

export async function attemptDelivery(options: {
  meta: MessageMeta;
  /** Its bytes (spool.message(meta)). */
  message: MessageSource;
  transport: Transport;
  sentLog: SentLog;
  signal: AbortSignal;
  logger: Logger;
}): Promise<AttemptOutcome> {
  const { meta, transport, sentLog, signal } = options;
  // Without its own Message-ID a message cannot be told from a second, identical one (a device
  // that sends the same text twice): the relay adds a fresh Message-ID to each, so each is sent.
  if (honoursEnvelope(transport.name) || meta.messageId === null) {
    // (SMTP, any of its ways: the envelope is honoured upstream, each transaction reaches only
    // its own recipients, so an identical second transaction must go out too.)
    return { kind: 'delivered', result: await transport.deliver({ meta, message: options.message }, signal) };
  }
  const key = sentKey(meta.sender, meta.sha256);
  return sentLog.withLock(key, async () => {
    const reached = await sentLog.reached(key);
    if (reached.size > 0 && meta.recipients.every((r) => reached.has(r))) {
      return { kind: 'suppressed' } as const;
    }
    if (reached.size > 0) {
      options.logger.warn(
        { event: 'delivery.possible_duplicate', queueId: meta.id, reason: 'some recipients were reached by an earlier transaction of the same message' },
        'sending again',
      );
    }
    const result = await transport.deliver({ meta, message: options.message }, signal);
    try {
      await sentLog.record(key, [...meta.headerRecipients, ...meta.bcc, ...meta.recipients]);
    } catch (err) {
      // Sent: that stands (a retry would send it again). The key is remembered in memory; only a
      // restart before the disk recovers would forget it.
      options.logger.error(
        { event: 'sent_log.write_failed', queueId: meta.id, err: errorText(err), alert: true },
        'delivered, but the duplicate-suppression record could not be written (check the disk)',
      );
    }
    return { kind: 'delivered', result } as const;
  });
}
