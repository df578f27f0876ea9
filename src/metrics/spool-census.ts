/**
 * How many messages sit in hold/ and dead/, per workspace, for the metrics: the scheduler's
 * memory knows only queue/ and active/. Kept up to date by a directory listing every few
 * seconds (and soon after the relay moves a message to dead/), never at scrape time; a file is
 * parsed once, when it first appears, to learn its workspace.
 */
import { systemClock, type Clock, type Timer } from '../clock.js';
import { errorText } from '../errors.js';
import type { Logger } from '../log.js';
import type { Spool } from '../spool/index.js';

export type StoredState = 'hold' | 'dead';
const STATES: readonly StoredState[] = ['hold', 'dead'];

export class SpoolCensus {
  /** state → id → workspace ('' when its metadata could not be read). */
  private readonly known: Record<StoredState, Map<string, string>> = { hold: new Map(), dead: new Map() };
  private timer: Timer | undefined;
  private soonTimer: Timer | undefined;
  private running: Promise<void> | null = null;
  private failing = false;

  constructor(
    private readonly spool: Pick<Spool, 'ids' | 'get'>,
    private readonly logger: Logger,
    private readonly clock: Clock = systemClock,
    private readonly intervalMs = 15_000,
  ) {}

  start(): void {
    void this.refresh();
    this.timer = this.clock.setInterval(() => void this.refresh(), this.intervalMs).unref();
  }

  stop(): void {
    this.timer?.cancel();
    this.soonTimer?.cancel();
  }

  /** A message changed state just now: look again shortly (several changes, one listing). */
  soon(): void {
    if (this.soonTimer) return;
    this.soonTimer = this.clock
      .setTimeout(() => {
        this.soonTimer = undefined;
        void this.refresh();
      }, 250)
      .unref();
  }

  /** Messages in `state` per workspace, as of the last listing. */
  counts(state: StoredState): Map<string, number> {
    const out = new Map<string, number>();
    for (const ws of this.known[state].values()) out.set(ws, (out.get(ws) ?? 0) + 1);
    return out;
  }

  /** One listing at a time; resolves when the current one is done. */
  refresh(): Promise<void> {
    this.running ??= this.list().finally(() => (this.running = null));
    return this.running;
  }

  private async list(): Promise<void> {
    try {
      for (const state of STATES) {
        const ids = new Set(await this.spool.ids(state));
        const known = this.known[state];
        for (const id of known.keys()) if (!ids.has(id)) known.delete(id);
        for (const id of ids) {
          if (known.has(id)) continue;
          // null: gone meanwhile (released, deleted); undefined: its metadata does not parse.
          const meta = await this.spool.get(state, id).catch(() => undefined);
          if (meta !== null) known.set(id, meta?.workspace ?? '');
        }
      }
      this.failing = false;
    } catch (err) {
      if (!this.failing) this.logger.warn({ event: 'metrics.census_failed', err: errorText(err) }, 'could not count hold/ and dead/ for the metrics');
      this.failing = true;
    }
  }
}
