/** Spool keys and sealed files for tests (src/crypt): keys from fixed bytes, damage on purpose. */
import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { HEADER_BYTES, SpoolKeys, sealBuffer } from '../../src/crypt/index.js';
import { CHUNK_BYTES, TAG_BYTES } from '../../src/crypt/index.js';

/** `n` fresh keys, the first sealing. */
export function testKeys(n = 1): SpoolKeys {
  return SpoolKeys.of(Array.from({ length: n }, () => randomBytes(32)));
}

/** Keys from the given ones' secrets, in this order (rotation: a new key put first). */
export function keysOf(...sets: SpoolKeys[]): SpoolKeys {
  return SpoolKeys.of(sets.flatMap((k) => k.secrets()));
}

/** A key file (base64, mode 0600) for `keys`' i-th key. */
export function writeKeyFileFor(file: string, keys: SpoolKeys, i = 0): string {
  writeFileSync(file, `${Buffer.from(keys.secrets()[i]!).toString('base64')}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return file;
}

/** `bytes` sealed with the keys' first key, written to `file`. */
export function writeSealed(file: string, bytes: Buffer, keys: SpoolKeys): void {
  writeFileSync(file, sealBuffer(keys.current!, bytes));
}

/** File offset of sealed chunk `index` (its ciphertext; its tag follows). */
export function chunkAt(index: number): number {
  return HEADER_BYTES + index * (CHUNK_BYTES + TAG_BYTES);
}

/** Flip one bit of the byte at `offset` of `file`. */
export function flipByte(file: string, offset: number): void {
  const b = readFileSync(file);
  b[offset]! ^= 0x01;
  writeFileSync(file, b);
}

/** Swap sealed chunks `i` and `j` (both full chunks) of `file`. */
export function swapChunks(file: string, i: number, j: number): void {
  const b = readFileSync(file);
  const len = CHUNK_BYTES + TAG_BYTES;
  const a = Buffer.from(b.subarray(chunkAt(i), chunkAt(i) + len));
  b.copy(b, chunkAt(i), chunkAt(j), chunkAt(j) + len);
  a.copy(b, chunkAt(j));
  writeFileSync(file, b);
}

/** Cut `file` to `length` bytes. */
export function cutFile(file: string, length: number): void {
  writeFileSync(file, readFileSync(file).subarray(0, length));
}
