/**
 * /healthz and /readyz. Healthy: the process can do its job (the spool can be written, every
 * configured listener is bound, it is not shutting down). Ready: it should get traffic now
 * (healthy, and not in backpressure). Each failing check is one reason with a stable code.
 * The spool probe (a small file written and removed) runs at most once per `cacheMs`, shared by
 * the requests that arrive meanwhile, and counts as failed when it takes longer than
 * `probeTimeoutMs` (a hung disk).
 */
import { systemClock, type Clock, type Timer } from '../clock.js';
import { errorText } from '../errors.js';

export interface HealthReason {
  /** Stable: relay.starting, spool.unwritable, listener.unbound, relay.stopping, spool.disk_full, spool.queue_full. */
  code: string;
  message: string;
}

export interface HealthReport {
  ok: boolean;
  reasons: HealthReason[];
}

export interface HealthDeps {
  /** Still starting (the spool being recovered, the listeners not yet greeting): nothing else is checked. */
  starting(): boolean;
  /** Write something to the spool; rejects when it cannot. */
  probeSpool(): Promise<void>;
  /** The configured SMTP listeners (host:port) not bound now. */
  unboundListeners(): string[];
  stopping(): boolean;
  /** Why new mail is turned away now (queue/backpressure.ts), or null. */
  backpressure(): 'disk' | 'queue' | null;
  clock?: Clock;
  cacheMs?: number;
  probeTimeoutMs?: number;
}

/** The reasons /healthz itself fails for (the others fail /readyz only). */
const HEALTH_CODES = new Set(['relay.starting', 'spool.unwritable', 'listener.unbound', 'relay.stopping']);

export class Health {
  private readonly clock: Clock;
  private probe: { at: number; result: Promise<HealthReason | null> } | null = null;
  /** A probe that has not finished (a hung disk): no second one is started beside it. */
  private inFlight = false;

  constructor(private readonly deps: HealthDeps) {
    this.clock = deps.clock ?? systemClock;
  }

  async health(): Promise<HealthReport> {
    if (this.deps.starting()) return { ok: false, reasons: [{ code: 'relay.starting', message: 'starting: recovering the spool; the listeners greet once it is done' }] };
    const reasons: HealthReason[] = [];
    const spool = await this.spool();
    if (spool) reasons.push(spool);
    if (this.deps.stopping()) reasons.push({ code: 'relay.stopping', message: 'shutting down: the SMTP listeners are closing' });
    else {
      for (const l of this.deps.unboundListeners()) {
        reasons.push({ code: 'listener.unbound', message: `SMTP listener ${l} is not bound (see listener.lost / listener.reopen_failed in the log)` });
      }
    }
    return { ok: reasons.length === 0, reasons };
  }

  async readiness(): Promise<HealthReport> {
    const { reasons } = await this.health();
    const busy = this.deps.backpressure();
    if (busy === 'disk') reasons.push({ code: 'spool.disk_full', message: 'backpressure: less than queue.minFreeSpace free on the spool file system' });
    if (busy === 'queue') reasons.push({ code: 'spool.queue_full', message: 'backpressure: queue.maxQueued messages wait for delivery' });
    return { ok: reasons.length === 0, reasons };
  }

  async summary(): Promise<{ healthy: boolean; ready: boolean }> {
    const ready = await this.readiness();
    return { healthy: ready.reasons.every((r) => !HEALTH_CODES.has(r.code)), ready: ready.ok };
  }

  /** The spool probe's result (null: writable), at most one probe per cacheMs. */
  private spool(): Promise<HealthReason | null> {
    const now = this.clock.now();
    if (this.probe && (this.inFlight || now - this.probe.at < (this.deps.cacheMs ?? 2_000))) return this.probe.result;
    const timeoutMs = this.deps.probeTimeoutMs ?? 2_000;
    let timer: Timer | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = this.clock.setTimeout(() => reject(new Error(`the probe took longer than ${timeoutMs} ms (a hung disk?)`)), timeoutMs).unref();
    });
    this.inFlight = true;
    const probe = this.deps.probeSpool().finally(() => (this.inFlight = false));
    const result = Promise.race([probe, timeout]).then(
      () => null,
      (err: unknown) => ({ code: 'spool.unwritable', message: `the spool cannot be written: ${errorText(err)}` }),
    );
    void result.finally(() => timer?.cancel());
    this.probe = { at: now, result };
    return result;
  }
}
