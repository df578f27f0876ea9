/**
 * A message the upstream took for some recipients but refused for others (Gmail SMTP answering a
 * RCPT with 4xx or 5xx): the temporarily refused get a copy of their own in the queue, retried on
 * the schedule; the permanently refused are reported to the sender. Nothing is sent twice.
 */
import { DeliveryError } from '../errors.js';
import type { Logger } from '../log.js';
import type { DeliveryResult } from '../delivery/index.js';
import { createQueueId, type Spool, type MessageMeta } from '../spool/index.js';

export async function splitRefused(options: {
  meta: MessageMeta;
  refused: NonNullable<DeliveryResult['refused']>;
  spool: Spool;
  now: number;
  retryDelay: number;
  logger: Logger;
  /** Queue the copy (scheduler.enqueue). */
  enqueue: (meta: MessageMeta) => void;
  /** Report permanently refused recipients (observer.failed with a meta of just them). */
  failed: (meta: MessageMeta, error: DeliveryError) => Promise<void>;
}): Promise<void> {
  const { meta, refused, spool, logger } = options;
  const temporary = refused.filter((r) => r.temporary).map((r) => r.recipient);
  const permanent = refused.filter((r) => !r.temporary).map((r) => r.recipient);
  logger.warn({ event: 'delivery.partial', queueId: meta.id, retry: temporary, failed: permanent }, 'the upstream refused some recipients');
  const at = new Date(options.now).toISOString();
  if (temporary.length) {
    const id = createQueueId(options.now);
    const writer = spool.createWriter(id);
    try {
      for await (const chunk of await spool.message(meta).open()) await writer.write(chunk as Buffer);
      const copy: MessageMeta = {
        ...meta,
        id,
        recipients: meta.recipients.filter((r) => temporary.includes(r)),
        bcc: meta.bcc.filter((r) => temporary.includes(r)),
        attempts: meta.attempts + 1,
        nextAttemptAt: new Date(options.now + options.retryDelay).toISOString(),
        lastError: { code: 'delivery.smtp.recipient_deferred', kind: 'temporary', message: 'the upstream deferred these recipients', at },
      };
      options.enqueue(await writer.commit(copy));
      logger.info({ event: 'delivery.partial_requeued', queueId: meta.id, copy: id, recipients: copy.recipients }, 'refused recipients queued again');
    } catch (err) {
      await writer.abort();
      throw err;
    }
  }
  if (permanent.length) {
    const codes = [...new Set(refused.filter((r) => !r.temporary).map((r) => r.code))].join(', ');
    await options.failed(
      { ...meta, recipients: permanent },
      new DeliveryError('delivery.smtp.recipient_rejected', 'permanent', `the upstream refused these recipients (SMTP ${codes})`),
    );
  }
}
