/**
 * Dry run: each outgoing message is written to `dir/<queue id>.eml` (0600), exactly as the Gmail
 * API would have received it (with the Bcc header the API needs). Nothing leaves the machine.
 * Streamed from the spool, as the other transports do. With spool keys (queue.encryption) the
 * file is sealed like the spool's (src/crypt) as it is written: `workspace-relay decrypt FILE`
 * reads it. Files older than queue.deadRetention are removed (outbox-files.ts).
 */
import { mkdir, open, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Sealer, SpoolKeys } from '../crypt/index.js';
import type { Logger } from '../log.js';
import { OutgoingMessage } from './outgoing-message.js';
import { transportChanges } from './send-size.js';
import type { DeliveryResult, OutboundMessage, Transport } from './types.js';

export function createOutboxTransport(options: { dir: string; logger: Logger; keys?: SpoolKeys }): Transport {
  const dir = path.resolve(options.dir);
  const keys = options.keys ?? SpoolKeys.none();
  let ready: Promise<unknown> | undefined;
  return {
    name: 'outbox',
    async deliver({ meta, message: stored }: OutboundMessage): Promise<DeliveryResult> {
      ready ??= mkdir(dir, { recursive: true, mode: 0o700 });
      await ready;
      const message = await OutgoingMessage.open(stored, transportChanges('outbox', meta));
      const name = `${meta.id}.eml`;
      const file = path.join(dir, name);
      const fh = await open(file, 'w', 0o600);
      const sealer = keys.current ? new Sealer(keys.current) : null;
      try {
        for await (const chunk of message.range().chunks()) await writeAll(fh, sealer ? sealer.update(chunk) : [chunk]);
        if (sealer) await writeAll(fh, sealer.final());
        await fh.sync();
      } catch (err) {
        // (A spooled message found damaged half-way: no partial copy is left behind.)
        sealer?.dispose();
        await fh.close().catch(() => undefined);
        await unlink(file).catch(() => undefined);
        throw err;
      }
      await fh.close();
      return { providerId: `outbox:${name}` };
    },
  };
}

async function writeAll(fh: FileHandle, parts: Buffer[]): Promise<void> {
  for (const part of parts) {
    for (let done = 0; done < part.length; ) done += (await fh.write(part, done)).bytesWritten;
  }
}
