/**
 * Composition root: wires config, spool, scheduler, transports and listeners together. Everything
 * else receives its collaborators as arguments, so tests build the real thing with fakes only at
 * the edges (Google, the clock).
 *
 * Start-up order (docs/lifecycle.md): first what the config alone decides — directories, listener
 * entries (devices, TLS files), keys (transports, send-as verifiers, the spool's) — then the spool
 * lock and the spool's files checked against its keys (docs/encryption.md), then the listeners
 * bound (their greeting held), and only then the spool recovered, the delivery thread, the
 * scheduler; the listeners greet last. A config that cannot run fails before any message is
 * touched. Every part opened is pushed on one CleanupStack: a failed start and stop()
 * unwind it.
 */
import path from 'node:path';
import { systemClock } from './clock.js';
import { lockSpool, practiceStatus, serveQueue } from './control/index.js';
import { keptWorkspaces, type Config, type ListenerConfig } from './config/index.js';
import { loadSpoolKeys } from './crypt/index.js';
import { buildTransports, resealOutboxes, sendSize, type Transport } from './delivery/index.js';
import { DeviceRate, LoginThrottle } from './auth/index.js';
import { buildRecipientDirectories, buildSendAsVerifiers } from './google/index.js';
import { CleanupStack, applyReload, bindError, checkDirectories, checkListeners, isolatePractices, openListeners, type Deliveries, type Generation, type ListenerEntry } from './lifecycle/index.js';
import { Backpressure, DeliveryThread, DeliveryTracker, LocalExecutor, Pacer, Scheduler, startRetention } from './queue/index.js';
import { Notifier } from './notify/index.js';
import { SentLog, Spool, refuseMissingKeys } from './spool/index.js';
import { PracticeLimits, startListener, type Listener } from './smtp/index.js';
import { VERSION } from './version.js';
import type { Relay, RelayOptions } from './relay.js';
import { createObservability, type RelayPhase } from './observability.js';

export type { Relay, RelayOptions } from './relay.js';

const closeAll = (m: Map<string, Transport>) => Promise.allSettled([...m.values()].map(async (t) => t.close?.()));

export async function startRelay(options: RelayOptions): Promise<Relay> {
  const { logger } = options;
  const clock = options.clock ?? systemClock;
  const spoolDir = path.resolve(options.config.queue.dir);
  // Delivery attempts run on a thread of their own (src/queue/delivery-thread.ts) unless the
  // config says otherwise, or the caller replaces the transports, the spool's file calls or the
  // clock (functions do not cross to a thread: those runs stay in this one).
  const threadable = !options.transportFactory && !options.spoolFs && !options.clock;
  const threaded = threadable && options.config.queue.deliveryThread;
  const keys = loadSpoolKeys(options.config); // queue.encryption: read with the other secrets
  // (`kept`: the workspaces of practices kept on their running settings at a reload, whose files
  // are read as last read good if they were broken in place: src/config/last-good.ts. Never in a check.)
  const buildLocal = (config: Config, kept?: ReadonlySet<string>): Map<string, Transport> =>
    options.transportFactory
      ? new Map(config.workspaces.map((w, i) => [w.name, options.transportFactory!(w, i)]))
      : buildTransports(config, logger, clock, keys, kept);

  const checkKeys = async (c: Config) => {
    buildSendAsVerifiers(c, logger, clock);
    buildRecipientDirectories(c, logger);
    await closeAll(buildLocal(c));
  };
  // 1. What the config alone decides: each practice's own entries first (one that fails is
  // disabled, src/lifecycle/isolation.ts), then the shared ones. (Threaded, the transports are
  // built here as a check and closed: the thread builds its own.)
  const config = await isolatePractices(options.config, checkKeys, logger);
  checkDirectories(config);
  checkListeners(config);
  const firstLocal = buildLocal(config);
  if (threaded) await closeAll(firstLocal);
  /** firstLocal is still ours to close (not yet handed to the first generation's deliveries). */
  let firstOwned = !threaded;
  let gen: Generation = {
    config: config,
    verifiers: buildSendAsVerifiers(config, logger, clock),
    // recipientCheck: directory (asked at RCPT; a reload builds them again, caches empty).
    recipients: buildRecipientDirectories(config, logger),
    deliveries: undefined as unknown as Deliveries,
  };
  let running: ListenerEntry[] = [];
  // Opened, not yet recovered (no disk work): the listeners are given it, and receive nothing
  // before they greet.
  const spool = await Spool.open(spoolDir, { logger, clock, recover: false, keys, ...(options.spoolFs ? { fs: options.spoolFs } : {}) });
  let sentLog: SentLog | null = null;
  let thread: DeliveryThread | null = null;
  let scheduler!: Scheduler;
  let pacer!: Pacer;
  let control!: Awaited<ReturnType<typeof lockSpool>>;
  const parts = new CleanupStack();
  let letIn!: () => void;
  let keepOut!: (err: Error) => void;
  const ready = new Promise<void>((resolve, reject) => ((letIn = resolve), (keepOut = reject)));
  let phase: RelayPhase = 'starting'; // (for /healthz and /readyz; the listeners and scheduler report to observed.events)
  const observed = createObservability({
    config: () => gen.config,
    logger,
    clock,
    parts: { spool, scheduler: () => scheduler, pacer: () => pacer, listeners: () => running, backpressure: () => backpressure.reason() },
    phase: () => phase,
  });
  // One failed-login count per client address and user name and one hourly count per device,
  // whichever listener; the throttle's limits (auth.throttle) are read at each login.
  const practiceLimits = new PracticeLimits({ clock, queuedOf: (w) => scheduler.queuedOf(w) });
  const edge = { loginThrottle: new LoginThrottle({ clock, limits: () => gen.config.auth.throttle }), deviceRate: new DeviceRate({ clock }) };
  const open = async (cfg: ListenerConfig, label: string): Promise<ListenerEntry> => {
    const listener = await startListener({
      listener: cfg,
      config: () => gen.config,
      spool,
      logger,
      clock,
      ready,
      onAccepted: (meta) => {
        practiceLimits.record(gen.config.workspaces.find((w) => w.name === meta.workspace));
        scheduler.enqueue(meta);
      },
      admission: () => backpressure.check(),
      practiceAdmission: (w) => practiceLimits.check(w),
      sendAs: (workspace) => gen.verifiers.get(workspace),
      sendSize,
      events: observed.events,
      recipients: (workspace) => gen.recipients.get(workspace),
      ...edge,
    }).catch((err: unknown) => {
      throw bindError(err, cfg, label);
    });
    return { cfg, listener };
  };
  const makeDeliveries = async (config: Config, built = buildLocal): Promise<Deliveries> => {
    if (thread) return thread.generation(config);
    const transports = built(config);
    // (Checked against the current workspaces when the attempt starts.)
    const executor = new LocalExecutor({ spool, sentLog: sentLog!, transportFor: (w) => transports.get(w), workspaces: () => gen.config.workspaces, logger });
    return { executor, activate: () => undefined, close: async () => void (await closeAll(transports)) };
  };
  // Each workspace's last delivery and held reason, for `status`.
  const tracker = new DeliveryTracker(() => clock.now());
  const startedAt = new Date(clock.now());
  const backpressure = new Backpressure({
    dir: spoolDir,
    config: () => gen.config,
    queued: () => scheduler.queued + scheduler.inFlight,
    logger,
    clock,
    ...(options.freeBytes ? { freeBytes: options.freeBytes } : {}),
  });
  void ready.catch(() => undefined); // (each listener handles it; none may be configured to)
  try {
    parts.defer(() => firstOwned && closeAll(firstLocal));
    // 2. The spool lock (the control socket: no queue CLI change or second daemon under recovery).
    control = await lockSpool(config, logger);
    parts.defer(() => control.close());
    refuseMissingKeys(options.config, keys); // a spool file needs a key the config lacks: exit 78, nothing touched
    // 3. Listeners bound (a port in use fails the start here), greeting held until step 5.
    parts.defer(() => keepOut(new Error('the relay did not start')));
    parts.defer(() => Promise.allSettled(running.map((r) => r.listener.close({ graceMs: 0 }))));
    // (A practice's port that cannot be bound disables that practice: src/lifecycle/isolation.ts.)
    gen = { ...gen, config: await openListeners(config, open, running, logger) };
    await observed.listen(); // the operations listener: /healthz is 503 relay.starting until step 5; closed last
    parts.defer(() => observed.close());
    // 4. The spool recovered, then what delivers from it.
    await spool.recover();
    if (threaded) {
      const t = (thread = await DeliveryThread.start(gen.config, spoolDir, logger, keys));
      parts.defer(() => t.stop());
    } else {
      const log = (sentLog = await SentLog.open(spoolDir, { retentionMs: config.queue.dedupeRetention, logger, clock, keys }));
      parts.defer(() => log.close().catch(() => undefined));
    }
    gen.deliveries = await makeDeliveries(gen.config, () => firstLocal);
    firstOwned = false;
    parts.defer(() => gen.deliveries.close());
    gen.deliveries.activate();
    pacer = new Pacer(config.queue, path.join(spoolDir, 'pace.json'), logger);
    await pacer.load(clock.now());
    parts.defer(() => pacer.save(clock.now()).catch(() => undefined));
    await backpressure.start();
    parts.defer(() => backpressure.stop());
    scheduler = new Scheduler({
      spool,
      executor: () => gen.deliveries.executor,
      config: () => gen.config,
      logger,
      pacer,
      clock,
      events: observed.events,
      // Notices (DSNs to senders, alerts to admins) are spooled and handed back to this scheduler;
      // the tracker remembers each workspace's last delivery and held reason for `status`.
      observer: tracker.observing(new Notifier({ spool, config: () => gen.config, logger, clock, enqueue: (meta) => scheduler.enqueue(meta) })),
    });
    parts.defer(() => scheduler.stop());
    await scheduler.start();
    observed.start();
    serveQueue(control, {
      spool,
      scheduler,
      logger,
      clock,
      events: observed.events, // a deleted message's audit record
      resealOutbox: () => resealOutboxes(gen.config.workspaces, keys),
      status: () => ({
        pid: process.pid,
        version: VERSION,
        startedAt,
        config: options.configPath ?? null,
        listeners: running.map((r) => ({ name: r.listener.name, host: r.listener.address.host, port: r.listener.address.port, tls: r.cfg.tls.mode, sessions: r.listener.sessions })),
        workspaces: gen.config.workspaces.map((w) => ({ name: w.name, transport: w.transport })),
        activity: (w) => tracker.activity(w),
        practices: practiceStatus(gen.config),
      }),
      remembered: (id) => tracker.remembered(id),
      ...(options.reloadRequest ? { reload: options.reloadRequest } : {}),
    });
    parts.defer(() => control.stopServing());
    const timers = [
      startRetention({ spool, config: () => gen.config, logger, clock, events: observed.events }), // queue.deadRetention, hourly
      // (The delivery thread prunes its own sent log.)
      ...(sentLog ? [clock.setInterval(() => void sentLog?.prune().catch(() => undefined), 3_600_000)] : []),
      clock.setInterval(() => void pacer.save(clock.now()).catch(() => undefined), 5_000),
    ];
    timers.forEach((t) => t.unref());
    parts.defer(() => timers.forEach((t) => t.cancel()));
  } catch (err) {
    await parts.unwind();
    throw err;
  }
  // 5. Ready: the listeners greet.
  letIn();
  phase = 'running';
  const announce = (l: Listener) =>
    logger.info({ event: 'listener.started', host: l.address.host, port: l.address.port }, `listening on ${l.address.host}:${l.address.port}`);
  running.forEach((r) => announce(r.listener));

  /** The reload in progress (or the last one, settled): reloads run one at a time. */
  let reloads: Promise<void> = Promise.resolve();
  const target = {
    logger,
    clock,
    running: () => ({ listeners: running, spoolDir, deliveryThread: threaded, dedupeRetention: config.queue.dedupeRetention, threadable, keyFiles: config.queue.encryption?.keyFiles ?? [] }),
    current: () => gen,
    prepare: async (next: Config) => {
      const kept = keptWorkspaces(next);
      const verifiers = buildSendAsVerifiers(next, logger, clock, kept);
      const recipients = buildRecipientDirectories(next, logger, kept);
      return { config: next, verifiers, recipients, deliveries: await makeDeliveries(next, (c) => buildLocal(c, kept)) };
    },
    use: (next: Generation) => {
      gen = next;
      gen.deliveries.activate();
      scheduler.configChanged();
    },
    open,
    setListeners: (entries: ListenerEntry[]) => void (running = entries),
    announce,
  };
  return {
    get listeners() {
      return running.map((r) => r.listener);
    },
    spool,
    scheduler,
    deliveryThread: thread,
    get http() {
      return observed.http;
    },
    config: () => gen.config,
    recipientCheckStats: () => new Map([...gen.recipients].map(([w, d]) => [w, d.stats()])),
    reload(next) {
      // One reload at a time (two quick SIGHUPs), and none once stopping has begun: a listener
      // opened then would be one stop() never closes.
      const run = reloads.then(async () => {
        if (phase === 'stopping') throw new Error('the relay is stopping');
        // Each practice on its own: one whose new keys or listener entries fail keeps its running settings.
        const checked = await isolatePractices(next, checkKeys, logger, gen.config);
        return applyReload(target, checked).then((inForce) => observed.reload(inForce));
      });
      reloads = run.catch(() => undefined);
      return run;
    },
    async stop() {
      phase = 'stopping';
      await reloads; // a reload in progress finishes first, so stop() sees every listener
      // No queue CLI changes while stopping: they are answered "busy" (exit 75). The socket, and
      // so the spool lock, stays until everything else is closed (the bottom of the stack).
      await control.stopServing();
      // Deliveries stop at once (they stay queued); listeners let DATA in progress finish meanwhile.
      await Promise.allSettled([scheduler.stop(), ...running.map((r) => r.listener.close())]);
      await parts.unwind();
      logger.info({ event: 'relay.stopped', queued: scheduler.queued }, 'stopped');
    },
  };
}
