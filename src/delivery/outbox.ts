/**
 * Dry run: each outgoing message is written to `dir/<queue id>.eml` (0600), exactly as the Gmail
 * API would have received it (with the Bcc header the API needs). Nothing leaves the machine.
 * Streamed from the spool file, as the other transports do.
 */
import { mkdir, open } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log.js';
import { OutgoingMessage } from './outgoing-message.js';
import { transportChanges } from './send-size.js';
import type { DeliveryResult, OutboundMessage, Transport } from './types.js';

export function createOutboxTransport(options: { dir: string; logger: Logger }): Transport {
  const dir = path.resolve(options.dir);
  let ready: Promise<unknown> | undefined;
  return {
    name: 'outbox',
    async deliver({ meta, path: file }: OutboundMessage): Promise<DeliveryResult> {
      ready ??= mkdir(dir, { recursive: true, mode: 0o700 });
      await ready;
      const message = await OutgoingMessage.open(file, transportChanges('outbox', meta), meta.size);
      const name = `${meta.id}.eml`;
      const fh = await open(path.join(dir, name), 'w', 0o600);
      try {
        for await (const chunk of message.range().chunks()) {
          for (let done = 0; done < chunk.length; ) done += (await fh.write(chunk, done)).bytesWritten;
        }
        await fh.sync();
      } finally {
        await fh.close();
      }
      return { providerId: `outbox:${name}` };
    },
  };
}
