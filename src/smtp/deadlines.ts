/**
 * Absolute deadlines against slow clients (slowloris): smtp-server's idle timer restarts at every
 * byte, so a client sending a byte every few seconds could hold a half-typed command or a DATA
 * phase open for ever. Here:
 *
 * - limits.commandTimeout: a command line must be complete this long after its first byte;
 * - limits.minDataRate: after DATA's first 30 s, every 30 s must bring at least 30 × this many
 *   bytes.
 *
 * Time the client spends waiting for the relay (a handler, the commit after the final dot, a TLS
 * handshake, the relay not reading fast enough) never counts against it. Checked every
 * `tickMs` for every connection smtp-server serves; a connection over a deadline is handed to
 * `expire` (the listener answers 421 4.4.2, logs, and the connection closes). 0 turns either off.
 */
import type { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import type { Clock, Timer } from '../clock.js';
import { connectionInput } from './smtp-server-internals.js';

/** DATA is not measured during its first 30 s, and then over the last 30 s. */
export const DATA_GRACE_MS = 30_000;
export const DATA_WINDOW_MS = 30_000;

export interface DeadlineLimits {
  /** ms; 0 = none. */
  commandTimeout: number;
  /** bytes per second; 0 = none. */
  minDataRate: number;
}

export type Expiry = { kind: 'command'; ms: number } | { kind: 'data'; bytes: number; ms: number; rate: number };

interface Track {
  /** The unfinished command line last seen, and since when it has been unfinished. */
  partial: string;
  partialSince: number;
  /** DATA: when it began (or the relay last fell behind), and byte counts seen since. */
  dataSince: number | null;
  samples: { at: number; bytes: number }[];
}

export interface DeadlineOptions {
  connections: () => Iterable<SMTPConnection>;
  limits: () => DeadlineLimits;
  /** The relay's clock: its time and the timer that looks (a test's clock moves both). */
  clock: Clock;
  expire: (conn: SMTPConnection, expiry: Expiry) => void;
  tickMs?: number;
}

export class Deadlines {
  private readonly tracks = new WeakMap<SMTPConnection, Track>();
  private timer: Timer | null = null;

  constructor(private readonly options: DeadlineOptions) {}

  start(): void {
    if (this.timer) return;
    this.timer = this.options.clock.setInterval(() => this.tick(), this.options.tickMs ?? 500).unref();
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  /** Look at every connection once (the timer calls this; tests may too). */
  tick(): void {
    const now = this.options.clock.now();
    const limits = this.options.limits();
    for (const conn of this.options.connections()) {
      const expiry = this.check(conn, now, limits);
      if (expiry) {
        this.tracks.delete(conn);
        this.options.expire(conn, expiry);
      }
    }
  }

  private check(conn: SMTPConnection, now: number, limits: DeadlineLimits): Expiry | null {
    let t = this.tracks.get(conn);
    if (!t) {
      t = { partial: '', partialSince: now, dataSince: null, samples: [] };
      this.tracks.set(conn, t);
    }
    const input = connectionInput(conn);
    if (input.state !== 'data') {
      t.dataSince = null;
      t.samples = [];
    }
    if (input.state !== 'command') {
      t.partial = '';
      if (input.state === 'waiting') return null;
    }
    if (input.state === 'command') return this.checkCommand(t, input.partial, now, limits.commandTimeout);
    if (input.state === 'data') return this.checkData(t, input.bytes, input.behind, now, limits.minDataRate);
    return null;
  }

  private checkCommand(t: Track, partial: string, now: number, timeout: number): Expiry | null {
    // A new line (not the one seen before, grown) starts its own clock.
    if (partial === '' || t.partial === '' || !partial.startsWith(t.partial)) t.partialSince = now;
    t.partial = partial;
    if (partial === '' || timeout <= 0) return null;
    const ms = now - t.partialSince;
    return ms >= timeout ? { kind: 'command', ms } : null;
  }

  private checkData(t: Track, bytes: number, behind: boolean, now: number, rate: number): Expiry | null {
    if (t.dataSince === null || behind) {
      // DATA began, or the relay is the slow one: measure from here
      t.dataSince = now;
      t.samples = [{ at: now, bytes }];
      return null;
    }
    t.samples.push({ at: now, bytes });
    // keep the newest sample at least a window old (the baseline) and everything after it
    while (t.samples.length > 1 && t.samples[1]!.at <= now - DATA_WINDOW_MS) t.samples.shift();
    const base = t.samples[0]!;
    if (rate <= 0 || now - t.dataSince < DATA_GRACE_MS || now - base.at < DATA_WINDOW_MS) return null;
    const ms = now - base.at;
    const got = bytes - base.bytes;
    return got * 1000 < rate * ms ? { kind: 'data', bytes: got, ms, rate } : null;
  }
}
