/**
 * The sealed-file format (docs/encryption.md). A sealed file is a fixed header, then the
 * plaintext in chunks of CHUNK_BYTES (the last one shorter, possibly empty), each sealed with
 * AES-256-GCM under the file's own data key:
 *
 *   offset  bytes
 *   0       7   magic: CR NUL "wrenc" (a stored message never starts with a bare CR, JSON never
 *               with one: a plain spool file cannot be taken for a sealed one)
 *   7       1   format version (1)
 *   8       8   id of the master key that wraps the data key (keys.ts)
 *   16      4   plaintext bytes per chunk, big-endian
 *   20      12  nonce of the wrap
 *   32      32  the data key (32 random bytes, one per file), AES-256-GCM under the master key,
 *               the first 20 bytes of the header as associated data
 *   64      16  tag of the wrap
 *   80          chunk 0: ciphertext, 16-byte tag; chunk 1; …
 *
 * Chunk i's nonce is 4 zero bytes and i as a 64-bit big-endian number (a data key seals one
 * file, once, so no nonce repeats under a key); its associated data is one byte, 1 for the last
 * chunk and 0 for the others. So a chunk moved, a file cut short (even at a chunk boundary: the
 * new last chunk was not sealed as the last) or a chunk from another file fails authentication.
 * The geometry follows from the file's size alone, so any plaintext offset maps to its chunk.
 */
import { CryptError } from './crypt-error.js';
import { KEY_ID_BYTES } from './keys.js';

export const MAGIC = Buffer.from([0x0d, 0x00, 0x77, 0x72, 0x65, 0x6e, 0x63]); // CR NUL "wrenc"
export const FORMAT_VERSION = 1;
export const CHUNK_BYTES = 64 * 1024;
export const TAG_BYTES = 16;
export const NONCE_BYTES = 12;
export const DATA_KEY_BYTES = 32;
/** Bytes of the header covered by the wrap's associated data. */
export const HEADER_AAD_BYTES = 20;
export const HEADER_BYTES = HEADER_AAD_BYTES + NONCE_BYTES + DATA_KEY_BYTES + TAG_BYTES; // 80
/** Bytes enough to tell a sealed file and its key id (magic, version, key id). */
export const PREFIX_BYTES = MAGIC.length + 1 + KEY_ID_BYTES;

export interface Header {
  keyId: string;
  chunkBytes: number;
  /** The first HEADER_AAD_BYTES bytes (the wrap's associated data). */
  aad: Buffer;
  wrapNonce: Buffer;
  wrappedKey: Buffer;
  wrapTag: Buffer;
}

/** Does a file starting with `head` (at least MAGIC.length bytes of it) hold a sealed file? */
export function isSealed(head: Buffer): boolean {
  return head.length >= MAGIC.length && head.subarray(0, MAGIC.length).equals(MAGIC);
}

/** The key id in a sealed file's first PREFIX_BYTES bytes; null for a plain file. */
export function sealedKeyId(head: Buffer): string | null {
  if (!isSealed(head) || head.length < PREFIX_BYTES) return null;
  return head.subarray(MAGIC.length + 1, PREFIX_BYTES).toString('hex');
}

/** The header's first HEADER_AAD_BYTES bytes (magic, version, key id, chunk size): the wrap's associated data. */
export function headerAad(keyIdBytes: Buffer): Buffer {
  const h = Buffer.alloc(HEADER_AAD_BYTES);
  MAGIC.copy(h, 0);
  h[MAGIC.length] = FORMAT_VERSION;
  keyIdBytes.copy(h, MAGIC.length + 1);
  h.writeUInt32BE(CHUNK_BYTES, PREFIX_BYTES);
  return h;
}

export function encodeHeader(aad: Buffer, wrapNonce: Buffer, wrappedKey: Buffer, wrapTag: Buffer): Buffer {
  return Buffer.concat([aad, wrapNonce, wrappedKey, wrapTag], HEADER_BYTES);
}

/** The header of a sealed file (`h`: its first HEADER_BYTES bytes); `label` names the file in errors. */
export function decodeHeader(h: Buffer, label: string): Header {
  if (h.length < HEADER_BYTES || !isSealed(h)) throw damaged(label, 'its header is cut short');
  if (h[MAGIC.length] !== FORMAT_VERSION) throw damaged(label, `format version ${h[MAGIC.length]} is not one this version reads`);
  const chunkBytes = h.readUInt32BE(PREFIX_BYTES);
  if (chunkBytes < 1024 || chunkBytes > 16 * 1024 * 1024) throw damaged(label, 'its header is damaged');
  let at = HEADER_AAD_BYTES;
  const take = (n: number) => h.subarray(at, (at += n));
  return {
    keyId: sealedKeyId(h)!,
    chunkBytes,
    aad: h.subarray(0, HEADER_AAD_BYTES),
    wrapNonce: take(NONCE_BYTES),
    wrappedKey: take(DATA_KEY_BYTES),
    wrapTag: take(TAG_BYTES),
  };
}

/** Where the chunks of a sealed file of `fileSize` bytes are, and how much plaintext it holds. */
export interface Geometry {
  chunkBytes: number;
  chunks: number;
  plainSize: number;
}

export function geometry(fileSize: number, chunkBytes: number, label: string): Geometry {
  const body = fileSize - HEADER_BYTES;
  const stride = chunkBytes + TAG_BYTES;
  if (body < TAG_BYTES) throw damaged(label, 'it is cut short');
  const chunks = Math.ceil(body / stride);
  const last = body - (chunks - 1) * stride;
  if (last < TAG_BYTES) throw damaged(label, 'it is cut short');
  return { chunkBytes, chunks, plainSize: body - chunks * TAG_BYTES };
}

/** File offset of chunk `index` (its ciphertext; the tag follows it). */
export function chunkOffset(index: number, chunkBytes: number): number {
  return HEADER_BYTES + index * (chunkBytes + TAG_BYTES);
}

/** The nonce of chunk `index`. */
export function chunkNonce(index: number): Buffer {
  const n = Buffer.alloc(NONCE_BYTES);
  n.writeBigUInt64BE(BigInt(index), 4);
  return n;
}

export const LAST_CHUNK = Buffer.from([1]);
export const INNER_CHUNK = Buffer.from([0]);

export function damaged(label: string, why: string, cause?: unknown): CryptError {
  return new CryptError('crypt.damaged', `${label} cannot be decrypted: ${why} (the file was changed or damaged on disk)`, { cause });
}
