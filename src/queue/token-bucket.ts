/**
 * A token bucket whose rate and size may change between calls (the adaptive pace changes them):
 * `rate` tokens a second up to `burst`; a send takes one. Times are the clock's ms.
 */
export interface Bucket {
  tokens: number;
  refilledAt: number;
}

export function newBucket(burst: number, now: number): Bucket {
  return { tokens: burst, refilledAt: now };
}

export function refill(b: Bucket, now: number, rate: number, burst: number): void {
  const elapsed = Math.max(0, now - b.refilledAt) / 1000;
  b.tokens = Math.min(burst, b.tokens + elapsed * rate);
  b.refilledAt = Math.max(b.refilledAt, now);
}

/** When the bucket holds a whole token again (now, or later). */
export function tokenAt(b: Bucket, now: number, rate: number, burst: number): number {
  refill(b, now, rate, burst);
  return b.tokens >= 1 ? now : Math.max(now, b.refilledAt) + Math.ceil(((1 - b.tokens) / rate) * 1000);
}

export function takeToken(b: Bucket, now: number, rate: number, burst: number): void {
  refill(b, now, rate, burst);
  b.tokens -= 1;
}
