/** The bytes a transport would send of a stored message, collected in one Buffer (tests only). */
import { OutgoingMessage } from '../../src/delivery/outgoing-message.js';
import type { OutgoingChanges } from '../../src/delivery/outgoing.js';

export async function readOutgoing(path: string, changes: OutgoingChanges, size: number, start?: number, end?: number): Promise<Buffer> {
  const message = await OutgoingMessage.open(path, changes, size);
  const parts: Buffer[] = [];
  for await (const chunk of message.range(start, end).chunks()) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}
