/**
 * Google's per-user quota as its documentation states it: at most `limit` requests in any window
 * of `windowMs` (15,000 units a minute = 150 sends of 100 units). A request over it is refused
 * with the time one more would fit ("Retry after"). Refused requests use no quota. Used by the
 * pacing tests and by the benchmark's fake Gmail (bench/fake-gmail.ts).
 */
export type WindowAnswer = { ok: true } | { ok: false; retryAt: number };

export class SlidingWindow {
  /** Times of the requests let through, oldest first (only those still inside the window). */
  private readonly times: number[] = [];
  private head = 0;

  constructor(
    readonly limit: number,
    readonly windowMs = 60_000,
  ) {}

  /** A request at `now` (ms; never earlier than the previous one). */
  request(now: number): WindowAnswer {
    while (this.head < this.times.length && this.times[this.head]! <= now - this.windowMs) this.head++;
    if (this.head > 1024 && this.head * 2 > this.times.length) {
      this.times.splice(0, this.head);
      this.head = 0;
    }
    if (this.times.length - this.head >= this.limit) return { ok: false, retryAt: this.times[this.head]! + this.windowMs };
    this.times.push(now);
    return { ok: true };
  }

  /** Take back the request let through at `at` (the last one): another limit refused it. */
  forget(at: number): void {
    if (this.times.length > this.head && this.times[this.times.length - 1] === at) this.times.pop();
  }

  /** Requests inside the window ending at `now`. */
  used(now: number): number {
    return this.times.slice(this.head).filter((t) => t > now - this.windowMs).length;
  }
}
