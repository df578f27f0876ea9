/**
 * Sealing (format.ts): a Sealer takes the plaintext in pieces of any size and gives back the
 * sealed bytes to append, header first; `final` seals the last chunk. It holds at most one
 * chunk of plaintext, so a 35 MB message is never whole in memory. A Sealer seals one file,
 * once: each has its own random data key.
 */
import { createCipheriv, randomFillSync } from 'node:crypto';
import { CHUNK_BYTES, DATA_KEY_BYTES, INNER_CHUNK, LAST_CHUNK, NONCE_BYTES, chunkNonce, encodeHeader, headerAad } from './format.js';
import type { SpoolKey, SpoolKeys } from './keys.js';

export class Sealer {
  private readonly dataKey: Buffer;
  private header: Buffer | null;
  /** The chunk being filled (a copy: the caller may reuse what it gave), and how much of it is. */
  private chunk: Buffer | null = null;
  private filled = 0;
  private index = 0;
  private done = false;

  constructor(key: SpoolKey) {
    const random = freshRandom(DATA_KEY_BYTES + NONCE_BYTES);
    this.dataKey = random.subarray(0, DATA_KEY_BYTES);
    const wrapNonce = random.subarray(DATA_KEY_BYTES);
    const aad = headerAad(key.idBytes);
    const wrap = createCipheriv('aes-256-gcm', key.secret, wrapNonce);
    wrap.setAAD(aad);
    const wrapped = Buffer.concat([wrap.update(this.dataKey), wrap.final()]);
    this.header = encodeHeader(aad, wrapNonce, wrapped, wrap.getAuthTag());
  }

  /**
   * More plaintext; returns the sealed bytes ready to append (possibly none). `plain` is copied,
   * not kept. A full chunk is sealed only once a byte after it has arrived: until then it may
   * still be the last one.
   */
  update(plain: Buffer): Buffer[] {
    if (this.done) throw new Error('Sealer: update after final');
    const out = this.takeHeader();
    for (let at = 0; at < plain.length; ) {
      const chunk = (this.chunk ??= takeChunk());
      if (this.filled === CHUNK_BYTES) {
        out.push(...this.seal(chunk, false));
        this.filled = 0;
      }
      const copied = plain.copy(chunk, this.filled, at);
      this.filled += copied;
      at += copied;
    }
    return out;
  }

  /** The last chunk (and the header, for a file that got no byte). */
  final(): Buffer[] {
    if (this.done) throw new Error('Sealer: final called twice');
    const out = this.takeHeader();
    out.push(...this.seal(this.chunk ? this.chunk.subarray(0, this.filled) : Buffer.alloc(0), true));
    this.dispose();
    return out;
  }

  /** Done with this sealer (final does it; call it when the file is abandoned). */
  dispose(): void {
    this.done = true;
    this.dataKey.fill(0);
    if (this.chunk) giveChunk(this.chunk);
    this.chunk = null;
    this.filled = 0;
  }

  private takeHeader(): Buffer[] {
    const h = this.header;
    this.header = null;
    return h ? [h] : [];
  }

  private seal(plain: Buffer, last: boolean): Buffer[] {
    const cipher = createCipheriv('aes-256-gcm', this.dataKey, chunkNonce(this.index++));
    cipher.setAAD(last ? LAST_CHUNK : INNER_CHUNK);
    const body = cipher.update(plain);
    cipher.final();
    return [body, cipher.getAuthTag()];
  }
}

/**
 * Chunk buffers reused from file to file (as the spool writer's write buffers are): a sealer
 * that only ever holds a 4 KiB message must not cost a fresh 64 KiB allocation each time.
 */
const SPARE_CHUNKS = 64;
const spareChunks: Buffer[] = [];

function takeChunk(): Buffer {
  return spareChunks.pop() ?? Buffer.allocUnsafeSlow(CHUNK_BYTES);
}

function giveChunk(chunk: Buffer): void {
  if (spareChunks.length < SPARE_CHUNKS) spareChunks.push(chunk);
}

/**
 * Random bytes for data keys and nonces, from a pool filled 64 files at a time: one call into the
 * CSPRNG costs about as much as the sealing of a small message. Each slice is copied out and
 * zeroed in the pool, so it is used once.
 */
const POOL_BYTES = (DATA_KEY_BYTES + NONCE_BYTES) * 64;
const pool = Buffer.alloc(POOL_BYTES);
let poolAt = POOL_BYTES;

function freshRandom(n: number): Buffer {
  if (poolAt + n > POOL_BYTES) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const slice = pool.subarray(poolAt, (poolAt += n));
  const out = Buffer.from(slice);
  slice.fill(0);
  return out;
}

/** A whole small plaintext sealed as one file. */
export function sealBuffer(key: SpoolKey, plain: Buffer): Buffer {
  const sealer = new Sealer(key);
  return Buffer.concat([...sealer.update(plain), ...sealer.final()]);
}

/** `plain` sealed with the keys' current key; as it is when encryption is off. */
export function sealWith(keys: SpoolKeys, plain: Buffer): Buffer {
  return keys.current ? sealBuffer(keys.current, plain) : plain;
}
