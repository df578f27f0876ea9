/**
 * Messages per device account over the last hour (devices[].maxMessagesPerHour), a sliding
 * window kept in memory: a restart forgets it, which errs on the side of delivering.
 */
import { systemClock, type Clock } from '../clock.js';

const HOUR = 3_600_000;

export class DeviceRate {
  private readonly clock: Clock;
  private readonly sent = new Map<string, number[]>();

  constructor(options: { clock?: Clock } = {}) {
    this.clock = options.clock ?? systemClock;
  }

  /** Messages this device had accepted within the last hour. */
  count(username: string): number {
    const list = this.sent.get(username);
    if (!list) return 0;
    const since = this.clock.now() - HOUR;
    while (list.length > 0 && list[0]! <= since) list.shift();
    if (list.length === 0) this.sent.delete(username);
    return list.length;
  }

  /** May this device send another message now? */
  allows(username: string, maxPerHour: number | undefined): boolean {
    return maxPerHour === undefined || this.count(username) < maxPerHour;
  }

  /** Count one accepted message. */
  record(username: string): void {
    this.count(username);
    const list = this.sent.get(username) ?? [];
    list.push(this.clock.now());
    this.sent.set(username, list);
  }
}
