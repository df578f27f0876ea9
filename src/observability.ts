/**
 * The relay's observability, built for src/app.ts: the metrics (src/metrics), the message trace
 * (src/trace) and the operations HTTP listener with its health checks (src/ops). The listener
 * and the scheduler report through one RelayEvents (`events`); the gauges and health checks read
 * the relay's parts through `parts`, which may not exist yet while the relay starts.
 *
 * In the start-up order (docs/lifecycle.md): `listen()` binds the operations listener with the
 * SMTP listeners (a port in use fails the start before the spool is touched; until the relay is
 * ready /healthz answers 503 relay.starting), `start()` begins the spool census and the trace's
 * pruning once the spool is recovered, `close()` is last at stop (503 while the rest drains).
 */
import { systemClock, type Clock } from './clock.js';
import type { Config } from './config/index.js';
import { errorText } from './errors.js';
import { fanOut, type RelayEvents } from './events.js';
import type { Logger } from './log.js';
import { RelayMetrics, SpoolCensus, type MetricsSources } from './metrics/index.js';
import { Health, startOpsListener, type OpsListener } from './ops/index.js';
import { workspaceOfDomain } from './policy/index.js';
import type { Pacer, Scheduler } from './queue/index.js';
import type { Listener } from './smtp/index.js';
import type { Spool } from './spool/index.js';
import { TraceFiles, TraceRecorder } from './trace/index.js';

export type { OpsListener } from './ops/index.js';

export interface ObservedParts {
  spool: Spool;
  /** Undefined until the relay has built them (start-up). */
  scheduler: () => Scheduler | undefined;
  pacer: () => Pacer | undefined;
  /** The SMTP listeners bound now, each with its config entry. */
  listeners: () => readonly { cfg: { host: string; port: number }; listener: Listener }[];
  backpressure: () => 'disk' | 'queue' | null;
}

export type RelayPhase = 'starting' | 'running' | 'stopping';

export interface Observability {
  readonly events: RelayEvents;
  readonly metrics: RelayMetrics;
  readonly health: Health;
  /** The operations listener, once bound (null when `http: null`). */
  readonly http: OpsListener | null;
  /** Bind the operations listener (rejects with a ConfigError naming http.listen[i]). */
  listen(): Promise<void>;
  /** Start counting hold/ and dead/ and pruning the trace (once the spool is recovered). */
  start(): void;
  /** A reload: new allow lists at once; other changes of `http` at the next start. */
  reload(next: Config): void;
  /** Stop serving HTTP, write the trace out. */
  close(): Promise<void>;
}

export function createObservability(options: { config: () => Config; logger: Logger; clock?: Clock; parts: ObservedParts; phase: () => RelayPhase }): Observability {
  const { config, logger, parts, phase } = options;
  const clock = options.clock ?? systemClock;
  const { spool } = parts;
  const census = new SpoolCensus(spool, logger, clock);
  const bound = (l: { host: string; port: number }) => parts.listeners().some(({ cfg }) => cfg.host === l.host && cfg.port === l.port);
  const health = new Health({
    starting: () => phase() === 'starting',
    probeSpool: () => spool.probeWritable(),
    // the configured SMTP listeners (host:port) not bound now
    unboundListeners: () => config().listen.filter((l) => !bound(l)).map((l) => `${l.host}:${l.port}`),
    stopping: () => phase() === 'stopping',
    backpressure: parts.backpressure,
    clock,
  });
  const workspaceOf = (address: string) => workspaceOfDomain(config(), address.slice(address.lastIndexOf('@') + 1))?.name;
  const sources: MetricsSources = {
    workspaces: () => config().workspaces.map((w) => w.name),
    queued: function* () {
      for (const { entry, state } of parts.scheduler()?.census() ?? []) yield { entry: { workspace: entry.workspace, since: entry.since, held: entry.held }, state };
    },
    stored: (state) => census.counts(state),
    pausedUsers: (t) => parts.pacer()?.paused(t) ?? [],
    slowedUsers: () => parts.pacer()?.slowed() ?? [],
    workspaceOf,
    listeners: () => parts.listeners().map(({ listener: l }) => ({ name: l.name, sessions: l.sessions })),
    practices: () =>
      (config().practices ?? []).map((p) => ({ file: p.file, workspaces: p.workspaces.map((w) => w.name), disabled: p.problem !== null, reloadRefused: p.refused !== undefined })),
    health: () => health.summary(),
  };
  const metrics = new RelayMetrics({ sources, now: () => clock.now(), onDead: () => census.soon() });
  const trace = new TraceRecorder({ files: TraceFiles.inSpool(spool.dir, spool.keys), logger, retentionMs: () => config().queue.traceRetention, clock });
  const events = fanOut([metrics, trace], (err) => logger.error({ event: 'metrics.error', err: errorText(err) }, 'reporting a step failed'));
  let http: OpsListener | null = null;
  let httpConfig = config().http;
  return {
    events,
    metrics,
    health,
    get http() {
      return http;
    },
    async listen() {
      if (!httpConfig) return;
      http = await startOpsListener(
        httpConfig,
        {
          metrics: async () => ({ contentType: metrics.contentType, body: await metrics.metrics() }),
          health: () => health.health(),
          readiness: () => health.readiness(),
        },
        logger,
      );
    },
    start() {
      census.start();
      trace.start();
    },
    reload(next) {
      if (JSON.stringify(next.http) === JSON.stringify(httpConfig)) return;
      if (http && next.http && http.reload(next.http)) {
        httpConfig = next.http;
        return;
      }
      logger.warn({ event: 'config.restart_needed', key: 'http' }, "http: the operations listener's addresses changed: that takes effect at the next restart");
    },
    async close() {
      census.stop();
      await http?.close();
      await trace.close();
    },
  };
}
