/**
 * `workspace-relay keygen FILE`: a new spool key, 32 bytes from the system's CSPRNG, written as
 * base64 on one line to a new file (mode 0600; an existing file is never overwritten), fsynced
 * with its directory so a key that a crash could lose is never put to use.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { KEY_BYTES, keyIdOf } from './keys.js';

/** Write a new key to `file`; resolves its key id. Rejects EEXIST when the file exists. */
export async function writeKeyFile(file: string): Promise<string> {
  const secret = randomBytes(KEY_BYTES);
  const fh = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    await fh.chmod(0o600); // whatever the umask
    await fh.writeFile(`${secret.toString('base64')}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  const dir = await open(path.dirname(path.resolve(file)), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
  return keyIdOf(secret);
}
