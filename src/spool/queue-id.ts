/**
 * Queue ids: 14 characters of Crockford base32 (0-9, A-Z without I L O U), like Postfix's short
 * ids. The first 9 encode the millisecond timestamp (enough until the year 3084), the last 5 are
 * random (25 bits); ids made in the same millisecond by this process count up from that random
 * start, so they stay unique and sort by time. Safe as file names on any file system (one case).
 */
import { randomInt } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const TIME_CHARS = 9;
const RANDOM_CHARS = 5;
const RANDOM_SPACE = 32 ** RANDOM_CHARS;

/** What a spool id may look like (anything else is refused before it reaches a path). */
export const QUEUE_ID_PATTERN = /^[0-9A-Za-z][0-9A-Za-z_-]{0,63}$/;

let lastMs = -1;
let lastRandom = 0;

function encode(value: number, width: number): string {
  let out = '';
  let rest = value;
  for (let i = 0; i < width; i++) {
    out = ALPHABET[rest % 32]! + out;
    rest = Math.floor(rest / 32);
  }
  return out;
}

export function createQueueId(now: number = Date.now()): string {
  const ms = Math.max(0, Math.floor(now));
  if (ms === lastMs) {
    lastRandom = (lastRandom + 1) % RANDOM_SPACE;
  } else {
    lastMs = ms;
    lastRandom = randomInt(RANDOM_SPACE);
  }
  return encode(ms, TIME_CHARS) + encode(lastRandom, RANDOM_CHARS);
}

export function isValidQueueId(id: string): boolean {
  return QUEUE_ID_PATTERN.test(id);
}
