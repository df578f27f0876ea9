/**
 * Failed logins per client address: after `maxFailures` failures within `windowMs`, further
 * attempts from that address are refused without checking the password (no scrypt work for a
 * guesser) until the oldest failure leaves the window. A success clears the address.
 */
import { systemClock, type Clock } from '../clock.js';

export interface LoginThrottleOptions {
  /** Failures allowed within the window (default 5). */
  maxFailures?: number;
  /** Sliding window (default 10 minutes). */
  windowMs?: number;
  clock?: Clock;
  /** Addresses remembered at most; the oldest are forgotten first (default 10,000). */
  maxClients?: number;
}

export class LoginThrottle {
  readonly maxFailures: number;
  readonly windowMs: number;
  private readonly clock: Clock;
  private readonly maxClients: number;
  /** Client address → times of its recent failures, oldest first. Map order = insertion order. */
  private readonly failures = new Map<string, number[]>();

  constructor(options: LoginThrottleOptions = {}) {
    this.maxFailures = options.maxFailures ?? 5;
    this.windowMs = options.windowMs ?? 10 * 60_000;
    this.clock = options.clock ?? systemClock;
    this.maxClients = options.maxClients ?? 10_000;
  }

  private recent(client: string): number[] {
    const list = this.failures.get(client);
    if (!list) return [];
    const since = this.clock.now() - this.windowMs;
    while (list.length > 0 && list[0]! <= since) list.shift();
    if (list.length === 0) this.failures.delete(client);
    return list;
  }

  /** How long (ms) until this address may try again; null when it may try now. */
  retryAfter(client: string): number | null {
    const list = this.recent(client);
    if (list.length < this.maxFailures) return null;
    return list[list.length - this.maxFailures]! + this.windowMs - this.clock.now();
  }

  /** Record a failure; returns the failures of this address within the window. */
  fail(client: string): number {
    const list = this.recent(client);
    list.push(this.clock.now());
    if (list.length > this.maxFailures) list.splice(0, list.length - this.maxFailures);
    this.failures.delete(client);
    this.failures.set(client, list);
    while (this.failures.size > this.maxClients) this.failures.delete(this.failures.keys().next().value!);
    return list.length;
  }

  succeed(client: string): void {
    this.failures.delete(client);
  }
}
