/**
 * Failed logins (config `auth.throttle`), counted per client address and user name, and per
 * client address alone:
 *
 * - `failures` failed logins for one user name from one address within `window` refuse that
 *   user name from that address for `block`;
 * - `addressFailures` failed logins from one address (any user names) refuse the address for
 *   `block`: a holder of one device's password cannot go on guessing others;
 * - refused attempts get no password check (no scrypt work for a guesser) and are not counted;
 * - an attempt counts from the moment its check begins: twenty logins sent in parallel find
 *   the first `failures` still being checked and are refused, rather than all being checked;
 * - a successful login clears only its own user name's failures from that address, never the
 *   address's count or another user name's: success on one account does not help guessing another.
 *
 * Behind NAT every device of a practice has one address: one stale device (an old password)
 * blocks only its own user name; the address is blocked only when `addressFailures` failures
 * pile up. IPv6 clients are counted per /64 (one customer's network), IPv4 per address.
 * Kept in memory: a restart forgets it.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { systemClock, type Clock } from '../clock.js';

export interface ThrottleLimits {
  failures: number;
  addressFailures: number;
  /** ms */
  window: number;
  /** ms */
  block: number;
}

export const DEFAULT_THROTTLE: ThrottleLimits = { failures: 5, addressFailures: 20, window: 10 * 60_000, block: 10 * 60_000 };

export interface LoginThrottleOptions {
  /** Read at every login (a reload applies to the next one). Default DEFAULT_THROTTLE. */
  limits?: () => ThrottleLimits;
  /** The relay's clock (default the system clock). */
  clock?: Clock;
  /** Counters remembered at most; the least recently used idle ones are forgotten first (default 20,000). */
  maxEntries?: number;
}

/** One started login: exactly one of its methods is called when the check is over. */
export interface ThrottledAttempt {
  /** The password was wrong (or the account may not log in here). Failures now counted. */
  fail(): { failures: number; addressFailures: number };
  /** Logged in: this user name's failures from this address are forgotten. */
  succeed(): void;
  /** The check itself broke: not counted either way. */
  abandon(): void;
}

export type ThrottleVerdict = { ok: true; attempt: ThrottledAttempt } | { ok: false; scope: 'user' | 'address'; retryAfterMs: number };

interface Counter {
  failures: number[];
  pending: number;
  blockedUntil: number;
}

export class LoginThrottle {
  private readonly limits: () => ThrottleLimits;
  private readonly clock: Clock;
  private readonly maxEntries: number;
  /** `a <network>` and `u <network> <user name>` → counter; Map order = least recently used first. */
  private readonly counters = new Map<string, Counter>();

  constructor(options: LoginThrottleOptions = {}) {
    this.limits = options.limits ?? (() => DEFAULT_THROTTLE);
    this.clock = options.clock ?? systemClock;
    this.maxEntries = options.maxEntries ?? 20_000;
  }

  /** Ask before checking a password; on `ok`, report the outcome on the attempt. */
  begin(client: string, username: string): ThrottleVerdict {
    const limits = this.limits();
    const now = this.clock.now();
    const network = networkOf(client);
    const keys = [
      { key: `a ${network}`, cap: limits.addressFailures, scope: 'address' as const },
      { key: `u ${network} ${username}`, cap: limits.failures, scope: 'user' as const },
    ];
    const counters = keys.map((k) => ({ ...k, c: this.counter(k.key, now, limits.window) }));
    for (const { c, scope } of counters) if (c.blockedUntil > now) return { ok: false, scope, retryAfterMs: c.blockedUntil - now };
    // the attempts still being checked may all fail: count them already
    for (const { c, cap, scope } of counters) if (c.failures.length + c.pending >= cap) return { ok: false, scope, retryAfterMs: limits.block };
    for (const { c } of counters) c.pending++;
    let done = false;
    const finish = () => {
      if (done) return false;
      done = true;
      for (const { c } of counters) c.pending--;
      return true;
    };
    const user = counters[1]!;
    return {
      ok: true,
      attempt: {
        fail: () => {
          if (!finish()) return { failures: 0, addressFailures: 0 };
          const at = this.clock.now();
          const l = this.limits();
          const counts = counters.map(({ key, c, scope }) => {
            this.prune(c, at, l.window);
            c.failures.push(at);
            this.touch(key, c);
            const n = c.failures.length;
            if (n >= (scope === 'user' ? l.failures : l.addressFailures)) {
              c.blockedUntil = at + l.block;
              c.failures = [];
            }
            return n;
          });
          return { addressFailures: counts[0]!, failures: counts[1]! };
        },
        succeed: () => {
          if (finish()) user.c.failures = [];
        },
        abandon: () => void finish(),
      },
    };
  }

  private counter(key: string, now: number, window: number): Counter {
    const c = this.counters.get(key) ?? { failures: [], pending: 0, blockedUntil: 0 };
    this.prune(c, now, window);
    this.touch(key, c);
    return c;
  }

  private prune(c: Counter, now: number, window: number): void {
    while (c.failures.length > 0 && c.failures[0]! <= now - window) c.failures.shift();
  }

  /** Most recently used last; forget the least recently used idle counters beyond maxEntries. */
  private touch(key: string, c: Counter): void {
    this.counters.delete(key);
    this.counters.set(key, c);
    if (this.counters.size <= this.maxEntries) return;
    const now = this.clock.now();
    for (const [k, x] of this.counters) {
      if (this.counters.size <= this.maxEntries) break;
      if (x.pending === 0 && x.blockedUntil <= now) this.counters.delete(k);
    }
  }
}

/** IPv4 (also IPv4-mapped) per address; IPv6 per /64. */
export function networkOf(client: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(client);
  if (mapped && isIPv4(mapped[1]!)) return mapped[1]!;
  if (!isIPv6(client)) return client;
  const [head = '', tail = ''] = client.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = client.includes('::') ? (tail ? tail.split(':') : []) : [];
  const groups = client.includes('::') ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
