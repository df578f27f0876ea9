/**
 * The relay's Prometheus metrics (prom-client), on a registry of their own with the Node process
 * defaults (process_*, nodejs_*). Counters and histograms move as the relay reports its steps
 * (RelayEvents, src/events.ts); gauges are computed at scrape time from memory (MetricsSources).
 * Labels stay bounded: workspace, listener, transport, and the stable codes of replies and
 * failures, never a user, subject or Message-ID. Metric names are listed in docs/observability.md.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { DeliveryError } from '../errors.js';
import type { FailedOutcome, Rejection, RelayEvents } from '../events.js';
import type { MessageMeta } from '../spool/index.js';
import type { MetricsSources } from './sources.js';

const P = 'workspace_relay_';
/** Accept to delivered: seconds to days (retries wait hours). */
const DELIVERY_BUCKETS = [0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600, 5 * 24 * 3600];
/** Message sizes up to Gmail's 35 MB. */
const SIZE_BUCKETS = [1e3, 1e4, 1e5, 5e5, 1e6, 5e6, 1e7, 2.5e7, 3.5e7];
const RATE_CODES = new Set(['delivery.rate_limited', 'delivery.daily_limit']);

export interface RelayMetricsOptions {
  sources: MetricsSources;
  now?: () => number;
  /** Called when a message moved to dead/ or was deleted (the census looks again). */
  onDead?: () => void;
}

export class RelayMetrics implements RelayEvents {
  readonly registry = new Registry();
  private readonly now: () => number;
  private readonly c;

  constructor(private readonly options: RelayMetricsOptions) {
    this.now = options.now ?? Date.now;
    collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) => new Counter<L>({ name: P + name, help, labelNames, registers });
    this.c = {
      accepted: counter('messages_accepted_total', 'Messages accepted into the spool (250 after fsync).', ['workspace', 'listener']),
      rejected: counter('messages_rejected_total', "Transactions refused at MAIL, RCPT or DATA; reason is the reply's stable code.", ['reason', 'workspace', 'listener']),
      refused: counter('smtp_connections_refused_total', "Connections refused at connect; reason is the reply's stable code.", ['reason', 'listener']),
      authFailures: counter('auth_failures_total', 'Device logins refused (bad credentials or throttled).', ['listener']),
      delivered: counter('messages_delivered_total', 'Messages Google took.', ['workspace', 'transport']),
      suppressed: counter('duplicates_suppressed_total', 'Transactions not sent again: an earlier transaction of the same message reached every recipient.', ['workspace']),
      failures: counter('delivery_failures_total', 'Failed delivery attempts by kind (temporary, held, permanent) and failure code.', ['workspace', 'kind', 'code']),
      dead: counter('messages_dead_total', 'Messages moved to dead/ (permanent failure, or the maximum age passed).', ['workspace', 'code']),
      rateLimited: counter('google_rate_limited_total', "Google's answers asking a sending user to slow down (429, rate or daily limit).", ['workspace']),
      deliverySeconds: new Histogram({ name: `${P}delivery_seconds`, help: 'Accept to delivered, seconds.', labelNames: ['workspace', 'transport'], buckets: DELIVERY_BUCKETS, registers }),
      messageBytes: new Histogram({ name: `${P}message_bytes`, help: 'Size of accepted messages, bytes.', labelNames: ['workspace'], buckets: SIZE_BUCKETS, registers }),
    };
    this.gauges(registers);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  sessionRefused(listener: string, reason: string): void {
    this.c.refused.inc({ listener, reason });
  }

  authFailed(listener: string): void {
    this.c.authFailures.inc({ listener });
  }

  accepted(meta: MessageMeta, from: { listener: string }): void {
    this.c.accepted.inc({ workspace: meta.workspace, listener: from.listener });
    this.c.messageBytes.observe({ workspace: meta.workspace }, meta.size);
  }

  rejected(r: Rejection): void {
    this.c.rejected.inc({ reason: r.reason, workspace: r.workspace ?? '', listener: r.listener });
  }

  delivered(meta: MessageMeta, result: { transport: string; suppressed: boolean }): void {
    if (result.suppressed) {
      this.c.suppressed.inc({ workspace: meta.workspace });
      return;
    }
    const labels = { workspace: meta.workspace, transport: result.transport };
    this.c.delivered.inc(labels);
    const received = Date.parse(meta.receivedAt);
    if (Number.isFinite(received)) this.c.deliverySeconds.observe(labels, Math.max(0, this.now() - received) / 1000);
  }

  attemptFailed(meta: MessageMeta, error: DeliveryError, outcome: FailedOutcome): void {
    this.c.failures.inc({ workspace: meta.workspace, kind: error.kind, code: error.code });
    if (RATE_CODES.has(error.code)) this.c.rateLimited.inc({ workspace: meta.workspace });
    if (outcome === 'failed') {
      this.c.dead.inc({ workspace: meta.workspace, code: meta.lastError?.code ?? error.code });
      this.options.onDead?.();
    }
  }

  /** Deleted (queue delete, retention): hold/ or dead/ may have one fewer, the census looks again. */
  removed(): void {
    this.options.onDead?.();
  }

  /** Gauges computed at scrape time: each starts empty (a label gone is gone) and is set from memory. */
  private gauges(registers: Registry[]): void {
    const src = this.options.sources;
    const now = () => this.now();
    const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[], fill: (g: Gauge<L>) => void | Promise<void>) =>
      new Gauge<L>({
        name: P + name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          return fill(this);
        },
      });
    gauge('queue_messages', 'Messages in the spool by state: queue (waiting), active (being delivered), hold (held by an admin), dead.', ['workspace', 'state'], (g) => {
      for (const workspace of src.workspaces()) for (const state of ['queue', 'active', 'hold', 'dead']) g.set({ workspace, state }, 0);
      for (const { entry, state } of src.queued()) g.inc({ workspace: entry.workspace, state });
      for (const state of ['hold', 'dead'] as const) for (const [workspace, n] of src.stored(state)) g.inc({ workspace, state }, n);
    });
    gauge('queue_oldest_seconds', 'Age of the oldest message waiting or being delivered (since accepted or requeued), seconds; 0 when none.', ['workspace'], (g) => {
      const oldest = new Map<string, number>(src.workspaces().map((ws) => [ws, Infinity]));
      for (const { entry } of src.queued()) oldest.set(entry.workspace, Math.min(oldest.get(entry.workspace) ?? Infinity, entry.since));
      const t = now();
      for (const [workspace, since] of oldest) g.set({ workspace }, since === Infinity ? 0 : Math.max(0, t - since) / 1000);
    });
    gauge('messages_held', 'Messages waiting whose last attempt was held: an admin must fix something (delegation, key, Gmail turned off); code says what.', ['workspace', 'code'], (g) => {
      for (const { entry } of src.queued()) if (entry.held) g.inc({ workspace: entry.workspace, code: entry.held });
    });
    gauge('users_paused', 'Sending users whose mail waits: Google asked them to slow down (rate_limited), or their rolling 24 h count is at the limit (daily_limit).', ['workspace', 'reason'], (g) => {
      for (const workspace of src.workspaces()) for (const reason of ['rate_limited', 'daily_limit']) g.set({ workspace, reason }, 0);
      for (const { user, reason } of src.pausedUsers(now())) g.inc({ workspace: src.workspaceOf(user) ?? '', reason });
    });
    gauge('users_slowed', "Sending users paced below the full rate because Google answered 429 (or userRateLimitExceeded); the pace climbs back on clean answers. Steady non-zero: another tool sends as these users.", ['workspace'], (g) => {
      for (const workspace of src.workspaces()) g.set({ workspace }, 0);
      for (const user of src.slowedUsers()) g.inc({ workspace: src.workspaceOf(user) ?? '' });
    });
    gauge('smtp_sessions', 'SMTP sessions open.', ['listener'], (g) => {
      for (const l of src.listeners()) g.set({ listener: l.name }, l.sessions);
    });
    gauge('practice_disabled', "1 for a practice disabled by its own settings (unreadable key, bad file, a port it cannot bind): its clients get temporary errors (454 at AUTH, 451 at MAIL) and its mail waits; 0 otherwise.", ['workspace', 'file'], (g) => {
      for (const p of src.practices()) for (const workspace of p.workspaces.length ? p.workspaces : ['']) g.set({ workspace, file: p.file }, p.disabled ? 1 : 0);
    });
    gauge('practice_reload_refused', "1 for a practice whose file was refused at the last reload: it runs on its previous settings; 0 otherwise.", ['workspace', 'file'], (g) => {
      for (const p of src.practices()) for (const workspace of p.workspaces.length ? p.workspaces : ['']) g.set({ workspace, file: p.file }, p.reloadRefused ? 1 : 0);
    });
    gauge('healthy', '1 when /healthz answers 200 (spool writable, every listener bound).', [], async (g) => g.set((await src.health()).healthy ? 1 : 0));
    gauge('ready', '1 when /readyz answers 200 (healthy, not shutting down, not in backpressure).', [], async (g) => g.set((await src.health()).ready ? 1 : 0));
  }
}
