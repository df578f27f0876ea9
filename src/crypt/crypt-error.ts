import { RelayError } from '../errors.js';

/**
 * Why a sealed file could not be read:
 * - `crypt.key_missing`: it was sealed with a key that is not in queue.encryption.keyFiles
 *   (`keyId` names it): the admin must put the key file back; nothing is wrong with the file;
 * - `crypt.damaged`: authentication failed (a flipped byte, a cut-short file, chunks swapped or
 *   from another file) or the header is not one this version writes: the plaintext is never
 *   given out, not even the part before the damage in the same chunk.
 */
export class CryptError extends RelayError {
  readonly keyId: string | undefined;
  constructor(code: 'crypt.key_missing' | 'crypt.damaged', message: string, options: { keyId?: string; cause?: unknown } = {}) {
    super(code, message, { cause: options.cause });
    this.keyId = options.keyId;
  }
}

export function isCryptError(err: unknown, code?: CryptError['code']): err is CryptError {
  return err instanceof CryptError && (code === undefined || err.code === code);
}
