/**
 * At most one alert per key (workspace, kind, error code) per interval, in memory: a restart
 * forgets it, so the first alert after a restart is always sent. Counts what it held back so
 * the next alert can say how many there were.
 */
import type { Clock } from '../clock.js';

export class AlertLimiter {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly intervalMs: number,
    private readonly clock: Pick<Clock, 'now'>,
  ) {}

  /** May an alert for `key` go out now? If so, how many were held back since the last one. */
  take(key: string): { ok: true; suppressed: number } | { ok: false } {
    const now = this.clock.now();
    const entry = this.last.get(key);
    if (entry && now - entry.at < this.intervalMs) {
      entry.suppressed += 1;
      return { ok: false };
    }
    this.last.set(key, { at: now, suppressed: 0 });
    return { ok: true, suppressed: entry?.suppressed ?? 0 };
  }

  /** The alert could not be spooled: let the next one through. */
  undo(key: string, suppressed: number): void {
    this.last.delete(key);
    if (suppressed) this.last.set(key, { at: -Infinity, suppressed });
  }
}
