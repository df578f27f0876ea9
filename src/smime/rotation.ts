/** Pure choices about a send-as alias's certificates: which one should be the default, and when a new one is needed. */
import type { SmimeEntry } from './gmail-smime.js';

/** The unexpired certificate with the furthest expiry (the current default wins a tie). */
export function pickDefault(entries: readonly SmimeEntry[], now: Date): SmimeEntry | undefined {
  let best: SmimeEntry | undefined;
  for (const e of entries) {
    if (!e.expiration || e.expiration.getTime() <= now.getTime()) continue;
    if (
      !best ||
      e.expiration.getTime() > best.expiration!.getTime() ||
      (e.expiration.getTime() === best.expiration!.getTime() && e.isDefault)
    ) {
      best = e;
    }
  }
  return best;
}

/** True when the alias has no default certificate or its default has expired. */
export function needsNewCertificate(entries: readonly SmimeEntry[], now: Date): boolean {
  const current = entries.find((e) => e.isDefault);
  if (!current) return true;
  return current.expiration !== undefined && current.expiration.getTime() <= now.getTime();
}

const DAY_MS = 86_400_000;

/** Whole days from `now` until `when` (negative once passed). */
export function daysLeft(when: Date, now: Date): number {
  return Math.floor((when.getTime() - now.getTime()) / DAY_MS);
}
