/**
 * The plaintext of a file, whatever its form: a PlainView reads any byte range of it, sealed
 * (format.ts) or plain (a spool written before encryption was on, or with it off), told apart
 * by the magic. A sealed range is decrypted from the chunk that holds its first byte, each chunk
 * authenticated before any of its bytes are given out. This is the one place files are opened:
 * the spool's reads (metadata, message streams, whole messages) all go through it.
 */
import { createDecipheriv } from 'node:crypto';
import { CryptError } from './crypt-error.js';
import {
  HEADER_BYTES,
  INNER_CHUNK,
  LAST_CHUNK,
  MAGIC,
  TAG_BYTES,
  chunkNonce,
  chunkOffset,
  damaged,
  decodeHeader,
  geometry,
  isSealed,
  type Geometry,
  type Header,
} from './format.js';
import type { SpoolKeys } from './keys.js';

/** Up to `length` bytes of the file from `position` (fewer only at its end). */
export type ReadAt = (position: number, length: number) => Buffer | Promise<Buffer>;

/** How many bytes of plaintext a piece of `pieces` holds at most. */
export const PIECE_BYTES = 64 * 1024;

export interface PlainView {
  /** Bytes of plaintext. */
  readonly size: number;
  /** The id of the key that sealed the file; null for a plain file. */
  readonly keyId: string | null;
  /** The plaintext from `position`, `length` bytes (fewer only past the end). */
  read(position: number, length: number): Promise<Buffer>;
  /** The plaintext from `start` to `end` (exclusive) in pieces, in order. */
  pieces(start: number, end: number): AsyncGenerator<Buffer>;
}

/**
 * A view of a file of `fileSize` bytes read through `readAt`. `head`: the file's first bytes
 * when the caller has them (a small file read whole), to spare a read. Rejects CryptError
 * crypt.key_missing (sealed with a key not in `keys`) or crypt.damaged (its header).
 */
export async function openView(fileSize: number, readAt: ReadAt, keys: SpoolKeys, label: string, head?: Buffer): Promise<PlainView> {
  const first = head && head.length >= Math.min(fileSize, HEADER_BYTES) ? head : await readAt(0, Math.min(fileSize, HEADER_BYTES));
  if (!isSealed(first.subarray(0, MAGIC.length))) return plainView(fileSize, readAt);
  const header = decodeHeader(first.subarray(0, HEADER_BYTES), label);
  return new SealedView(unwrapDataKey(header, keys, label), geometry(fileSize, header.chunkBytes, label), header.keyId, readAt, label);
}

/**
 * The plaintext of a whole file already in memory (a sealed sent-log line, a test looking at the
 * spool from outside), synchronously; a plain one as it is. Throws as openView and the reads do.
 */
export function openWhole(file: Buffer, keys: SpoolKeys, label: string): Buffer {
  if (!isSealed(file.subarray(0, MAGIC.length))) return file;
  const header = decodeHeader(file.subarray(0, HEADER_BYTES), label);
  const dataKey = unwrapDataKey(header, keys, label);
  const geo = geometry(file.length, header.chunkBytes, label);
  const parts: Buffer[] = [];
  for (let i = 0; i < geo.chunks; i++) {
    const at = chunkOffset(i, geo.chunkBytes);
    parts.push(openChunk(dataKey, geo, i, file.subarray(at, at + chunkLength(geo, i) + TAG_BYTES), label));
  }
  return Buffer.concat(parts, geo.plainSize);
}

/** The file's data key, unwrapped with the master key its header names. */
function unwrapDataKey(header: Header, keys: SpoolKeys, label: string): Buffer {
  const key = keys.get(header.keyId);
  if (!key) {
    const have = keys.ids();
    throw new CryptError(
      'crypt.key_missing',
      `${label} was encrypted with key ${header.keyId}, which is not among queue.encryption.keyFiles (${have.length ? `they hold ${have.join(', ')}` : 'encryption is off'})`,
      { keyId: header.keyId },
    );
  }
  try {
    const unwrap = createDecipheriv('aes-256-gcm', key.secret, header.wrapNonce);
    unwrap.setAAD(header.aad);
    unwrap.setAuthTag(header.wrapTag);
    return Buffer.concat([unwrap.update(header.wrappedKey), unwrap.final()]);
  } catch (err) {
    throw damaged(label, `its header does not open with key ${header.keyId}`, err);
  }
}

/** Plaintext bytes in chunk `index`. */
function chunkLength(geo: Geometry, index: number): number {
  return index === geo.chunks - 1 ? geo.plainSize - index * geo.chunkBytes : geo.chunkBytes;
}

/** Chunk `index`'s plaintext from its sealed bytes (ciphertext and tag), authenticated first. */
function openChunk(dataKey: Buffer, geo: Geometry, index: number, sealed: Buffer, label: string): Buffer {
  const length = chunkLength(geo, index);
  if (sealed.length < length + TAG_BYTES) throw damaged(label, 'it was cut short while being read');
  try {
    const d = createDecipheriv('aes-256-gcm', dataKey, chunkNonce(index));
    d.setAAD(index === geo.chunks - 1 ? LAST_CHUNK : INNER_CHUNK);
    d.setAuthTag(sealed.subarray(length, length + TAG_BYTES));
    const plain = d.update(sealed.subarray(0, length));
    d.final();
    return plain;
  } catch (err) {
    throw damaged(label, `chunk ${index} of ${geo.chunks} fails authentication`, err);
  }
}

function plainView(size: number, readAt: ReadAt): PlainView {
  return {
    size,
    keyId: null,
    async read(position, length) {
      return readAt(position, Math.max(0, Math.min(length, size - position)));
    },
    async *pieces(start, end) {
      for (let at = start; at < end; ) {
        const piece = await readAt(at, Math.min(PIECE_BYTES, end - at));
        if (piece.length === 0) return; // the caller checks the count (a file cut short)
        at += piece.length;
        yield piece;
      }
    },
  };
}

class SealedView implements PlainView {
  readonly size: number;
  /** The last chunk decrypted (the metadata's footer and its JSON are often in the same one). */
  private cached: { index: number; plain: Buffer } | null = null;

  constructor(
    private readonly dataKey: Buffer,
    private readonly geo: Geometry,
    readonly keyId: string,
    private readonly readAt: ReadAt,
    private readonly label: string,
  ) {
    this.size = geo.plainSize;
  }

  async read(position: number, length: number): Promise<Buffer> {
    const end = Math.min(this.size, position + length);
    const parts: Buffer[] = [];
    for await (const piece of this.pieces(position, end)) parts.push(piece);
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  async *pieces(start: number, end: number): AsyncGenerator<Buffer> {
    const c = this.geo.chunkBytes;
    end = Math.min(end, this.size);
    for (let at = start; at < end; ) {
      const index = Math.floor(at / c);
      const plain = await this.chunk(index);
      const from = at - index * c;
      const to = Math.min(plain.length, end - index * c);
      yield plain.subarray(from, to);
      at = index * c + to;
    }
    // A read to the end proves the file ends where it was sealed to (even an empty range there).
    if (end >= this.size) await this.chunk(this.geo.chunks - 1);
  }

  private async chunk(index: number): Promise<Buffer> {
    if (this.cached?.index === index) return this.cached.plain;
    const sealed = await this.readAt(chunkOffset(index, this.geo.chunkBytes), chunkLength(this.geo, index) + TAG_BYTES);
    const plain = openChunk(this.dataKey, this.geo, index, sealed, this.label);
    this.cached = { index, plain };
    return plain;
  }
}
