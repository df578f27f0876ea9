export { SpoolKeys, keyIdOf, KEY_BYTES, type SpoolKey } from './keys.js';
export { loadSpoolKeys, parseKeyFile } from './load-keys.js';
export { Sealer, sealBuffer, sealWith } from './sealer.js';
export { openView, openWhole, PIECE_BYTES, type PlainView, type ReadAt } from './view.js';
export { CryptError, isCryptError } from './crypt-error.js';
export { damaged, isSealed, sealedKeyId, PREFIX_BYTES, HEADER_BYTES, CHUNK_BYTES, MAGIC, TAG_BYTES } from './format.js';
export { writeKeyFile } from './keygen.js';
export { writeSealedCopy, resealFile } from './copy.js';
export { readAt, readAtSync } from './read-at.js';
