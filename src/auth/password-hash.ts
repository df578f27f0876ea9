/**
 * Device account passwords: scrypt (node:crypto), stored as
 * `scrypt$N=<cost>,r=<block size>,p=<parallelism>$<salt, base64>$<key, base64>` and compared in
 * constant time. `workspace-relay hash-password` prints one; the config holds only the hash.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

export interface ScryptParams {
  /** CPU/memory cost, a power of two. Memory used is about 128 × N × r bytes. */
  N: number;
  r: number;
  p: number;
}

/** 32 MiB and roughly 0.1 s per check on a small server: slow for guessing, fine for a login. */
export const DEFAULT_SCRYPT: ScryptParams = { N: 32768, r: 8, p: 1 };

const KEY_LENGTH = 32;
const SALT_LENGTH = 16;
/** Bounds for hashes read from config, so a typo cannot make every login take minutes or GBs. */
const LIMITS = { minN: 1024, maxN: 1 << 20, maxR: 32, maxP: 16 };

export interface PasswordHash {
  params: ScryptParams;
  salt: Buffer;
  key: Buffer;
}

const B64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Parse a stored hash; null when it is not one this relay can check. */
export function parsePasswordHash(encoded: string): PasswordHash | null {
  const parts = encoded.split('$');
  if (parts.length !== 4 || parts[0] !== 'scrypt') return null;
  const m = /^N=(\d+),r=(\d+),p=(\d+)$/.exec(parts[1]!);
  if (!m) return null;
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const powerOfTwo = (N & (N - 1)) === 0;
  if (!powerOfTwo || N < LIMITS.minN || N > LIMITS.maxN || r < 1 || r > LIMITS.maxR || p < 1 || p > LIMITS.maxP) return null;
  if (!B64.test(parts[2]!) || !B64.test(parts[3]!)) return null;
  const salt = Buffer.from(parts[2]!, 'base64');
  const key = Buffer.from(parts[3]!, 'base64');
  if (salt.length < 8 || key.length < 16) return null;
  return { params: { N, r, p }, salt, key };
}

function derive(password: string, salt: Buffer, params: ScryptParams, length: number): Promise<Buffer> {
  const options: ScryptOptions = { N: params.N, r: params.r, p: params.p, maxmem: 256 * params.N * params.r * params.p + (1 << 20) };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, length, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT, salt: Buffer = randomBytes(SALT_LENGTH)): Promise<string> {
  const key = await derive(password, salt, params, KEY_LENGTH);
  return `scrypt$N=${params.N},r=${params.r},p=${params.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** Does `password` match the stored hash? False (never a throw) for a malformed hash. */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const parsed = parsePasswordHash(encoded);
  if (!parsed) return false;
  const key = await derive(password, parsed.salt, parsed.params, parsed.key.length);
  return timingSafeEqual(key, parsed.key);
}

/**
 * A well-formed hash no password matches: checked for unknown user names, so that a login
 * takes as long whether or not the name exists.
 */
export const DUMMY_HASH = `scrypt$N=${DEFAULT_SCRYPT.N},r=${DEFAULT_SCRYPT.r},p=${DEFAULT_SCRYPT.p}$${Buffer.alloc(SALT_LENGTH).toString('base64')}$${Buffer.alloc(KEY_LENGTH, 0xff).toString('base64')}`;
