/** The bytes a transport would send of a stored message, collected in one Buffer (tests only). */
import { SpoolKeys } from '../../src/crypt/index.js';
import { OutgoingMessage } from '../../src/delivery/outgoing-message.js';
import type { OutgoingChanges } from '../../src/delivery/outgoing.js';
import { messageSource } from '../../src/spool/index.js';

/** `path` holds the message (`size` bytes, plain or sealed with `keys`), then anything. */
export async function readOutgoing(path: string, changes: OutgoingChanges, size: number, start?: number, end?: number, keys = SpoolKeys.none()): Promise<Buffer> {
  const message = await OutgoingMessage.open(messageSource(path, size, keys), changes);
  const parts: Buffer[] = [];
  for await (const chunk of message.range(start, end).chunks()) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}
