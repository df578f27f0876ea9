/**
 * How the queue CLI reaches the spool: through the daemon's control socket when a daemon runs
 * (the daemon owns the spool; its scheduler learns of each change at once), or directly when none
 * does (socket absent, or connection refused). A direct change first binds the control socket
 * itself, as the lock a starting daemon honours (it waits for it), and runs only as the spool
 * directory's owner, so every file it writes stays readable by the relay. Direct reads need no lock.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Clock } from '../clock.js';
import { SpoolKeys } from '../crypt/index.js';
import type { RelayEvents } from '../events.js';
import { Spool, type MessageSource } from '../spool/index.js';
import { controlRequest, type ControlRequestOptions } from './control-client.js';
import { ControlInUse, ControlServer, checkSocketPath, type HandlerResult } from './control-server.js';
import { createControlHandler } from './dispatch.js';
import { ControlError, type ControlRequest, type PingResult } from './protocol.js';
import { QueueAdmin } from './queue-admin.js';

export interface QueueBackend {
  /** `daemon`: through the running relay; `direct`: on the spool files, no relay running. */
  readonly via: 'daemon' | 'direct';
  call(request: ControlRequest, options?: Pick<ControlRequestOptions, 'onBody' | 'replyTimeoutMs'>): Promise<unknown>;
  close(): Promise<void>;
}

export interface OpenBackendOptions {
  socketPath: string;
  spoolDir: string;
  /** queue.dir as written in the config (to explain a relative path that found nothing). */
  spoolDirAsWritten?: string;
  /** Will this session change the spool (then a direct session takes the lock)? */
  change: boolean;
  /** This process's uid (default process.getuid()); a direct change needs the spool's owner. */
  uid?: number;
  clock?: Clock;
  /**
   * queue.encryption's keys: a direct session reads (and writes) sealed files with them. Asked for
   * only then (through the daemon, the daemon reads them): a user who cannot read the key files
   * can still list the queue through the running relay.
   */
  keys?: () => SpoolKeys;
  /** `queue rekey` in a direct session: rewrite the outbox files with the first key. */
  resealOutbox?: (keys: SpoolKeys) => Promise<number>;
  /**
   * A direct change's record of deleted messages (their audit records, as the relay would write
   * them), opened with the spool's keys and closed with the session, before the lock is let go.
   */
  removals?: (keys: SpoolKeys) => RemovalLog;
}

export interface RemovalLog extends Pick<RelayEvents, 'removed'> {
  close(): Promise<void>;
}

export async function openQueueBackend(options: OpenBackendOptions): Promise<QueueBackend> {
  checkSocketPath(options.socketPath);
  const holder = await ping(options.socketPath);
  if (holder?.owner === 'daemon') return daemonBackend(options.socketPath);
  if (holder?.owner === 'cli' && options.change) {
    throw new ControlError('control.busy', `another queue command (pid ${holder.pid}) is changing the spool right now; try again in a moment`);
  }
  return directBackend(options);
}

async function ping(socketPath: string): Promise<PingResult | null> {
  try {
    return (await controlRequest(socketPath, { op: 'ping' }, { replyTimeoutMs: 10_000 })) as PingResult;
  } catch (err) {
    if (err instanceof ControlError && err.code === 'control.unavailable') return null;
    throw err;
  }
}

function daemonBackend(socketPath: string): QueueBackend {
  return {
    via: 'daemon',
    call: (request, options) => controlRequest(socketPath, request, options),
    close: async () => undefined,
  };
}

async function directBackend(options: OpenBackendOptions): Promise<QueueBackend> {
  const st = await stat(options.spoolDir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') {
      const written = options.spoolDirAsWritten;
      const relative =
        written !== undefined && !path.isAbsolute(written)
          ? ` queue.dir ${written} is relative to the directory this command runs in (${process.cwd()}), not to where the relay runs (the systemd unit: /var/lib/workspace-relay): set an absolute queue.dir in the config (e.g. /var/lib/workspace-relay/spool), or run the command from the relay's directory.`
          : ' Has the relay run with this config (queue.dir)?';
      throw new ControlError('queue.no_spool', `no spool at ${options.spoolDir} and no relay running.${relative}`);
    }
    throw err;
  });
  let lock: ControlServer | null = null;
  if (options.change) {
    const uid = options.uid ?? process.getuid?.();
    if (uid !== undefined && uid !== st.uid) {
      throw new ControlError(
        'queue.owner',
        `no relay is running, and the spool ${options.spoolDir} belongs to uid ${st.uid}, not you (uid ${uid}): run this as the relay's user (e.g. sudo -u workspace-relay …) so the files it writes stay readable by the relay`,
      );
    }
    try {
      lock = await ControlServer.acquire(options.socketPath, { owner: 'cli' });
    } catch (err) {
      // a daemon started just now: go through it
      if (err instanceof ControlInUse && err.holder?.owner === 'daemon') return daemonBackend(options.socketPath);
      if (err instanceof ControlInUse) throw new ControlError('control.busy', `${err.message}; try again in a moment`);
      throw err;
    }
  }
  let removals: RemovalLog | undefined;
  try {
    const keys = options.keys?.();
    const spool = await Spool.open(options.spoolDir, { recover: false, ...(keys ? { keys } : {}) });
    const reseal = options.resealOutbox;
    removals = lock ? options.removals?.(keys ?? SpoolKeys.none()) : undefined;
    const admin = new QueueAdmin({
      spool,
      ...(options.clock ? { clock: options.clock } : {}),
      ...(reseal && keys ? { resealOutbox: () => reseal(keys) } : {}),
      ...(removals ? { events: removals } : {}),
    });
    const handler = createControlHandler(admin);
    return {
      via: 'direct',
      async call(request, callOptions) {
        const out: HandlerResult = await handler(request);
        if (out.body) await streamFile(out.body, callOptions?.onBody);
        return out.result;
      },
      close: async () => {
        try {
          await removals?.close();
        } finally {
          await lock?.close();
        }
      },
    };
  } catch (err) {
    await removals?.close().catch(() => undefined);
    await lock?.close();
    throw err;
  }
}

/** The message's bytes (not the spool metadata after them: HandlerResult). */
async function streamFile(body: MessageSource, onBody: ((chunk: Buffer) => void) | undefined): Promise<void> {
  try {
    for await (const chunk of await body.open()) onBody?.(chunk as Buffer);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ControlError('queue.not_found', 'the message was deleted just now');
    throw err;
  }
}
