/**
 * Composition root: wires config, spool, scheduler, transports and listeners together. Everything
 * else receives its collaborators as arguments, so tests build the real thing with fakes only at
 * the edges (Google, the clock).
 */
import path from 'node:path';
import { lockSpool, serveQueue } from './control/index.js';
import type { Config, ListenerConfig, WorkspaceConfig } from './config/schema.js';
import { ConfigError, errorText } from './errors.js';
import { buildTransports } from './delivery/build.js';
import type { Transport } from './delivery/types.js';
import { DeviceRate, LoginThrottle } from './auth/index.js';
import { GMAIL_SETTINGS_BASIC_SCOPE, GoogleCredentials, createSendAsVerifier, loadServiceAccountKey, type SendAsVerifier } from './google/index.js';
import type { Logger } from './log.js';
import { Backpressure, DeliveryThread, LocalExecutor, Pacer, Scheduler, type DeliveryExecutor } from './queue/index.js';
import { Notifier } from './notify/index.js';
import { SentLog, Spool, type SpoolFs } from './spool/index.js';
import { needsRestart, startListener, type Listener } from './smtp/index.js';
import { checkListenerConfig } from './smtp/listener-settings.js';
import { loadTlsOptions } from './smtp/tls-settings.js';

export interface RelayOptions {
  config: Config;
  logger: Logger;
  now?: () => number;
  /** Replace the spool's file-system calls (tests inject ENOSPC); default: the real ones. */
  spoolFs?: Partial<SpoolFs>;
  /** Free bytes under the spool (tests); default: statfs. */
  freeBytes?: (dir: string) => Promise<number>;
  /** Replace the transport of a workspace (benchmarks); default: built from config. */
  transportFactory?: (workspace: WorkspaceConfig, index: number) => Transport;
}

export interface Relay {
  readonly listeners: readonly Listener[];
  readonly spool: Spool;
  readonly scheduler: Scheduler;
  /** The delivery thread, when attempts run in one (queue.deliveryThread). */
  readonly deliveryThread: DeliveryThread | null;
  config(): Config;
  /**
   * Apply a new config (SIGHUP): policy, listeners and credentials, with no message lost. Throws
   * (and keeps the old config) when the new one cannot be applied.
   */
  reload(next: Config): Promise<void>;
  /** Close listeners, abort deliveries (they stay queued), close transports. */
  stop(): Promise<void>;
}

/**
 * Send-as verifiers of the gmail-api workspaces, when a listener checks From against the sender's
 * verified aliases (verifySendAs). Same service account, its own token with only the
 * gmail.settings.basic scope, so the sending token stays gmail.send alone.
 */
export function buildSendAsVerifiers(config: Config, logger: Logger): Map<string, SendAsVerifier> {
  const out = new Map<string, SendAsVerifier>();
  if (!config.listen.some((l) => l.verifySendAs)) return out;
  config.workspaces.forEach((w, i) => {
    if (w.transport !== 'gmail-api' || !w.gmailApi) return;
    const key = loadServiceAccountKey(w.gmailApi.serviceAccountKeyFile, `workspaces[${i}].gmailApi.serviceAccountKeyFile`);
    const credentials = new GoogleCredentials({ key, scopes: [GMAIL_SETTINGS_BASIC_SCOPE], tokenUrl: config.google.tokenUrl });
    out.set(w.name, createSendAsVerifier({ credentials, apiRootUrl: config.google.apiRootUrl, logger: logger.child({ workspace: w.name }) }));
  });
  return out;
}

/** The transports of one config and the executor that runs attempts with them. */
interface Deliveries {
  executor: DeliveryExecutor;
  /** This config is now the current one (the delivery thread is told). */
  activate(): void;
  close(): Promise<void>;
}

export async function startRelay(options: RelayOptions): Promise<Relay> {
  const { logger } = options;
  let current = options.config;
  const spoolDir = path.resolve(current.queue.dir);
  // Delivery attempts run on a thread of their own (src/queue/delivery-thread.ts) unless the
  // config says otherwise, or the caller replaces the transports or the spool's file calls
  // (functions do not cross to a thread: those runs stay in this one).
  const threaded = !options.transportFactory && !options.spoolFs && current.queue.deliveryThread;
  const buildLocal = (config: Config): Map<string, Transport> =>
    options.transportFactory
      ? new Map(config.workspaces.map((w, i) => [w.name, options.transportFactory!(w, i)]))
      : buildTransports(config, logger);
  const closeAll = (m: Map<string, Transport>) => Promise.allSettled([...m.values()].map(async (t) => t.close?.()));
  // In one thread the transports (and so the keys) are checked before the spool is locked.
  const firstLocal = threaded ? null : buildLocal(current);
  let verifiers = buildSendAsVerifiers(current, logger);
  // The control socket is the spool's lock (no queue CLI change or second daemon under recovery).
  const control = await lockSpool(current, logger);
  let spool: Spool;
  let sentLog: SentLog | null = null;
  let thread: DeliveryThread | null = null;
  let deliveries: Deliveries;
  try {
    spool = await Spool.open(spoolDir, { logger, ...(options.spoolFs ? { fs: options.spoolFs } : {}) });
    if (threaded) thread = await DeliveryThread.start(current, spoolDir, logger);
    else sentLog = await SentLog.open(spoolDir, { retentionMs: current.queue.dedupeRetention, logger });
  } catch (err) {
    await control.close();
    if (firstLocal) await closeAll(firstLocal);
    throw err;
  }
  const makeDeliveries = async (config: Config, built = buildLocal): Promise<Deliveries> => {
    if (thread) return thread.generation(config);
    const transports = built(config);
    // (Checked against the current workspaces when the attempt starts.)
    const executor = new LocalExecutor({ spool, sentLog: sentLog!, transportFor: (w) => transports.get(w), workspaces: () => current.workspaces, logger });
    return { executor, activate: () => undefined, close: async () => void (await closeAll(transports)) };
  };
  try {
    deliveries = await makeDeliveries(current, firstLocal ? () => firstLocal : buildLocal);
    deliveries.activate();
  } catch (err) {
    await thread?.stop();
    await control.close();
    throw err;
  }
  const now = options.now ?? Date.now;
  const pacer = new Pacer(current.queue, path.join(spoolDir, 'pace.json'), logger);
  /** Undo a start that failed half-way: nothing left open, no thread keeping the process alive. */
  const abandon = async (listeners: readonly { listener: Listener }[] = []) => {
    await Promise.allSettled(listeners.map((r) => r.listener.close()));
    await scheduler.stop();
    backpressure.stop();
    await sentLog?.close().catch(() => undefined);
    await control.close();
    await deliveries.close();
    await thread?.stop();
  };
  const scheduler = new Scheduler({
    spool,
    executor: () => deliveries.executor,
    config: () => current,
    logger,
    pacer,
    now,
    // Notices (DSNs to senders, alerts to admins) are spooled and handed back to this scheduler.
    observer: new Notifier({ spool, config: () => current, logger, now, enqueue: (meta) => scheduler.enqueue(meta) }),
  });
  const backpressure = new Backpressure({
    dir: spoolDir,
    config: () => current,
    queued: () => scheduler.queued + scheduler.inFlight,
    logger,
    ...(options.freeBytes ? { freeBytes: options.freeBytes } : {}),
  });
  try {
    await pacer.load(now());
    await backpressure.start();
    await scheduler.start();
  } catch (err) {
    await abandon();
    throw err;
  }
  /** Each listener with the config entry it was started from (reload matches on host:port). */
  let running: { cfg: ListenerConfig; listener: Listener }[] = [];
  let stopping = false;
  /** The reload in progress (or the last one, settled): reloads run one at a time. */
  let reloads: Promise<void> = Promise.resolve();
  // One failed-login count per client address and one hourly count per device, whichever listener.
  const edge = { loginThrottle: new LoginThrottle(), deviceRate: new DeviceRate() };
  const open = async (cfg: ListenerConfig) => ({
    cfg,
    listener: await startListener({
      listener: cfg,
      config: () => current,
      spool,
      logger,
      onAccepted: (meta) => scheduler.enqueue(meta),
      admission: () => backpressure.check(),
      sendAs: (workspace) => verifiers.get(workspace),
      ...edge,
    }),
  });
  try {
    for (const l of current.listen) running.push(await open(l));
  } catch (err) {
    await abandon(running);
    throw err;
  }
  serveQueue(control, { spool, scheduler, logger });
  const timers = [
    // (The delivery thread prunes its own sent log.)
    ...(sentLog ? [setInterval(() => void sentLog?.prune().catch(() => undefined), 3_600_000)] : []),
    setInterval(() => void pacer.save(now()).catch(() => undefined), 5_000),
  ];
  timers.forEach((t) => t.unref());
  const announce = (l: Listener) =>
    logger.info({ event: 'listener.started', host: l.address.host, port: l.address.port }, `listening on ${l.address.host}:${l.address.port}`);
  running.forEach((r) => announce(r.listener));
  /** Apply a new config (reload() runs one at a time, and never once stopping has begun). */
  async function applyReload(next: Config): Promise<void> {
    if (path.resolve(next.queue.dir) !== spoolDir) {
      throw new ConfigError('queue.dir', 'changing the spool directory needs a restart (stop, move the spool, start)');
    }
    // Everything that can fail is checked or built first, so a refused config changes nothing:
    // keys (transports, verifiers), every listener entry (devices, TLS files), new ports bound.
    const nextVerifiers = buildSendAsVerifiers(next, logger);
    next.listen.forEach((cfg, i) => {
      checkListenerConfig(cfg, next, `listen[${i}]`);
      if (cfg.tls.mode !== 'none') loadTlsOptions(cfg, `listen[${i}]`);
    });
    const nextDeliveries = await makeDeliveries(next);
    const key = (l: ListenerConfig) => `${l.host}:${l.port}`;
    const nextByKey = new Map(next.listen.map((l) => [key(l), l]));
    const inPlace = running.filter((r) => {
      const cfg = nextByKey.get(key(r.cfg));
      return cfg !== undefined && !needsRestart(r.cfg, cfg);
    });
    const samePort = running.filter((r) => nextByKey.has(key(r.cfg)) && !inPlace.includes(r));
    const brandNew = next.listen.filter((l) => !running.some((r) => key(r.cfg) === key(l)));
    const added: { cfg: ListenerConfig; listener: Listener }[] = [];
    try {
      for (const cfg of brandNew) added.push(await open(cfg));
    } catch (err) {
      await Promise.allSettled(added.map((r) => r.listener.close({ graceMs: 0 })));
      await nextDeliveries.close();
      throw err;
    }
    const previous = { config: current, deliveries, verifiers };
    deliveries = nextDeliveries;
    verifiers = nextVerifiers;
    current = next;
    deliveries.activate();
    const reloaded: { cfg: ListenerConfig; listener: Listener; before: ListenerConfig }[] = [];
    try {
      for (const r of inPlace) {
        const cfg = nextByKey.get(key(r.cfg))!;
        r.listener.reload(cfg);
        reloaded.push({ cfg, listener: r.listener, before: r.cfg });
      }
    } catch (err) {
      ({ config: current, deliveries, verifiers } = previous);
      deliveries.activate();
      for (const r of reloaded) r.listener.reload(r.before);
      await Promise.allSettled(added.map((r) => r.listener.close({ graceMs: 0 })));
      await nextDeliveries.close();
      throw err;
    }
    // Listeners that go away, or whose TLS mode changes (same port: closed, then opened again).
    await Promise.allSettled(running.filter((r) => !inPlace.includes(r)).map((r) => r.listener.close()));
    for (const r of samePort) {
      const cfg = nextByKey.get(key(r.cfg))!;
      try {
        added.push(await open(cfg));
      } catch (err) {
        logger.error({ event: 'listener.reopen_failed', listener: key(cfg), reason: errorText(err) }, 'listener could not be opened again with its new settings; opening it with the old ones');
        try {
          added.push(await open(r.cfg));
        } catch (again) {
          // The new config is in force by now; what is lost is this one listener. Say so loudly.
          logger.error(
            { event: 'listener.lost', alert: true, listener: key(cfg), reason: errorText(again) },
            'listener could not be opened again at all: nothing listens there until the next reload or restart',
          );
        }
      }
    }
    added.forEach((r) => announce(r.listener));
    running = [...reloaded.map(({ cfg, listener }) => ({ cfg, listener })), ...added];
    // Deliveries in flight finish with the old transports.
    setTimeout(() => void previous.deliveries.close(), 600_000).unref();
    // Read once at start: say so (at every reload until a restart) rather than let a changed
    // value look applied.
    const inEffect = { deliveryThread: threaded, dedupeRetention: options.config.queue.dedupeRetention };
    const wanted = { deliveryThread: next.queue.deliveryThread && !options.transportFactory && !options.spoolFs, dedupeRetention: next.queue.dedupeRetention };
    for (const key of ['deliveryThread', 'dedupeRetention'] as const) {
      if (inEffect[key] !== wanted[key]) {
        logger.warn({ event: 'config.restart_needed', key: `queue.${key}` }, `queue.${key} changed: it takes effect at the next restart`);
      }
    }
    logger.info({ event: 'config.reloaded', workspaces: next.workspaces.map((w) => w.name) }, 'configuration reloaded');
  }
  return {
    get listeners() {
      return running.map((r) => r.listener);
    },
    spool,
    scheduler,
    deliveryThread: thread,
    config: () => current,
    reload(next) {
      // One reload at a time (two quick SIGHUPs), and none once stopping has begun: a listener
      // opened then would be one stop() never closes.
      const run = reloads.then(() => {
        if (stopping) throw new Error('the relay is stopping');
        return applyReload(next);
      });
      reloads = run.catch(() => undefined);
      return run;
    },
    async stop() {
      stopping = true;
      await reloads; // a reload in progress finishes first, so stop() sees every listener
      // No queue CLI changes while stopping: they are answered "busy" (exit 75). The socket, and
      // so the spool lock, stays until everything below is done.
      await control.stopServing();
      timers.forEach((t) => clearInterval(t));
      backpressure.stop();
      // Deliveries stop at once (they stay queued); listeners let DATA in progress finish meanwhile.
      await Promise.allSettled([scheduler.stop(), ...running.map((r) => r.listener.close())]);
      await pacer.save(now()).catch(() => undefined);
      await sentLog?.close().catch(() => undefined);
      await deliveries.close();
      await thread?.stop();
      await control.close();
      logger.info({ event: 'relay.stopped', queued: scheduler.queued }, 'stopped');
    },
  };
}
