/**
 * Composition root: wires config, spool, scheduler, transports and listeners together. Everything
 * else receives its collaborators as arguments, so tests build the real thing with fakes only at
 * the edges (Google, the clock).
 */
import path from 'node:path';
import type { Config, WorkspaceConfig } from './config/schema.js';
import { createGmailApiTransport } from './delivery/gmail-api.js';
import { createOutboxTransport } from './delivery/outbox.js';
import { createSmtpTransport } from './delivery/smtp.js';
import type { Transport } from './delivery/types.js';
import { GoogleCredentials, loadServiceAccountKey } from './google/index.js';
import type { Logger } from './log.js';
import { Scheduler } from './queue/index.js';
import { SentLog, Spool } from './spool/index.js';
import { startListener, type Listener } from './smtp/index.js';

export interface RelayOptions {
  config: Config;
  logger: Logger;
  now?: () => number;
  /** Replace the transport of a workspace (benchmarks); default: built from config. */
  transportFactory?: (workspace: WorkspaceConfig, index: number) => Transport;
}

export interface Relay {
  readonly listeners: readonly Listener[];
  readonly spool: Spool;
  readonly scheduler: Scheduler;
  config(): Config;
  /** Close listeners, abort deliveries (they stay queued), close transports. */
  stop(): Promise<void>;
}

/** Credentials of every gmail-api workspace, keyed by workspace name (also used by `check`). */
export function buildCredentials(config: Config): Map<string, GoogleCredentials> {
  const out = new Map<string, GoogleCredentials>();
  config.workspaces.forEach((w, i) => {
    if (w.transport !== 'gmail-api' || !w.gmailApi) return;
    const key = loadServiceAccountKey(w.gmailApi.serviceAccountKeyFile, `workspaces[${i}].gmailApi.serviceAccountKeyFile`);
    out.set(w.name, new GoogleCredentials({ key, scopes: w.gmailApi.scopes, tokenUrl: config.google.tokenUrl }));
  });
  return out;
}

export function buildTransports(config: Config, logger: Logger): Map<string, Transport> {
  const credentials = buildCredentials(config);
  const out = new Map<string, Transport>();
  config.workspaces.forEach((w, i) => {
    const log = logger.child({ workspace: w.name });
    if (w.transport === 'gmail-api') {
      out.set(w.name, createGmailApiTransport({ credentials: credentials.get(w.name)!, apiRootUrl: config.google.apiRootUrl, logger: log }));
    } else if (w.transport === 'smtp') {
      out.set(w.name, createSmtpTransport({ smtp: w.smtp!, keyPath: `workspaces[${i}].smtp`, logger: log }));
    } else {
      out.set(w.name, createOutboxTransport({ dir: w.outbox!.dir, logger: log }));
    }
  });
  return out;
}

export async function startRelay(options: RelayOptions): Promise<Relay> {
  const { logger } = options;
  const config = options.config;
  const transports = options.transportFactory
    ? new Map(config.workspaces.map((w, i) => [w.name, options.transportFactory!(w, i)]))
    : buildTransports(config, logger);
  const spoolDir = path.resolve(config.queue.dir);
  const spool = await Spool.open(spoolDir, { logger });
  const sentLog = await SentLog.open(spoolDir, { retentionMs: config.queue.dedupeRetention });
  const scheduler = new Scheduler({
    spool,
    sentLog,
    transportFor: (name) => transports.get(name),
    config: () => config,
    logger,
    ...(options.now ? { now: options.now } : {}),
  });
  await scheduler.start();
  const listeners: Listener[] = [];
  try {
    for (const l of config.listen) {
      listeners.push(
        await startListener({ listener: l, config: () => config, spool, logger, onAccepted: (meta) => scheduler.enqueue(meta) }),
      );
    }
  } catch (err) {
    await Promise.allSettled(listeners.map((l) => l.close()));
    await scheduler.stop();
    throw err;
  }
  const pruneTimer = setInterval(() => void sentLog.prune().catch(() => undefined), 3_600_000);
  pruneTimer.unref();
  for (const l of listeners) {
    logger.info({ event: 'listener.started', host: l.address.host, port: l.address.port }, `listening on ${l.address.host}:${l.address.port}`);
  }
  return {
    listeners,
    spool,
    scheduler,
    config: () => config,
    async stop() {
      clearInterval(pruneTimer);
      await Promise.allSettled(listeners.map((l) => l.close()));
      await scheduler.stop();
      await Promise.allSettled([...transports.values()].map(async (t) => t.close?.()));
      logger.info({ event: 'relay.stopped', queued: scheduler.queued }, 'stopped');
    },
  };
}
