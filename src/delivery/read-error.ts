/**
 * A spooled message that cannot be read, as the held failure it is: the admin must act (the
 * disk, a damaged file, a key file taken out of the config), and the mail is kept meanwhile.
 * Every transport reads through OutgoingMessage (outgoing-message.ts), which raises these.
 */
import { isCryptError } from '../crypt/index.js';
import { DeliveryError } from '../errors.js';

export function spoolReadError(path: string, err: unknown): DeliveryError {
  if (err instanceof DeliveryError) return err;
  if (isCryptError(err, 'crypt.key_missing')) {
    return new DeliveryError('delivery.spool_key_missing', 'held', err.message, {
      cause: err,
      fix: `add the key file of key ${err.keyId ?? '?'} back to queue.encryption.keyFiles (after the first key) and restart`,
    });
  }
  if (isCryptError(err, 'crypt.damaged')) {
    return new DeliveryError('delivery.spool_damaged', 'held', err.message, {
      cause: err,
      fix: `restore ${path} from a backup, or delete the message (workspace-relay queue delete <id>); nothing of it was sent`,
    });
  }
  const code = (err as { code?: unknown } | null)?.code;
  return new DeliveryError('delivery.spool_unreadable', 'held', `cannot read the spooled message ${path}${typeof code === 'string' ? ` (${code})` : ''}`, {
    cause: err,
    fix: `check ${path} exists and the relay's user can read it (permissions, disk)`,
  });
}
