/**
 * The daemon's side, in two steps around start-up: `lockSpool` binds the control socket before
 * the spool is opened (recovered), so no queue CLI changes it meanwhile and no second daemon
 * starts on it; `serveQueue` starts answering the queue CLI (and `status`) once the scheduler runs.
 */
import type { Clock } from '../clock.js';
import type { Config } from '../config/index.js';
import type { RelayEvents } from '../events.js';
import type { Logger } from '../log.js';
import type { Spool } from '../spool/index.js';
import { ControlServer } from './control-server.js';
import { createControlHandler, type ControlHandlerOptions } from './dispatch.js';
import { QueueAdmin, type SchedulerLink } from './queue-admin.js';
import { controlSocketPath } from './socket-path.js';
import { buildStatus, type StatusSources } from './relay-status.js';

/** How long a starting daemon waits for a queue CLI that is changing the spool directly. */
export const DAEMON_LOCK_WAIT_MS = 15_000;

export function lockSpool(config: Pick<Config, 'queue' | 'control'>, logger: Logger): Promise<ControlServer> {
  return ControlServer.acquire(controlSocketPath(config), { owner: 'daemon', logger, waitMs: DAEMON_LOCK_WAIT_MS });
}

export function serveQueue(
  control: ControlServer,
  deps: {
    spool: Spool;
    scheduler: SchedulerLink;
    logger: Logger;
    clock?: Clock;
    status?: StatusProvider;
    remembered?: ControlHandlerOptions['remembered'];
    resealOutbox?: () => Promise<number>;
    reload?: ControlHandlerOptions['reload'];
    /** Told of each message an admin deletes (its audit record). */
    events?: Pick<RelayEvents, 'removed'>;
  },
): void {
  const admin = new QueueAdmin({
    spool: deps.spool,
    scheduler: deps.scheduler,
    ...(deps.events ? { events: deps.events } : {}),
    ...(deps.clock ? { clock: deps.clock } : {}),
    ...(deps.resealOutbox ? { resealOutbox: deps.resealOutbox } : {}),
  });
  const status = deps.status;
  const now = () => new Date(deps.clock ? deps.clock.now() : Date.now());
  control.serve(
    createControlHandler(admin, {
      logger: deps.logger,
      ...(deps.remembered ? { remembered: deps.remembered } : {}),
      ...(deps.reload ? { reload: deps.reload } : {}),
      ...(status ? { status: async () => buildStatus({ ...status(), now: now(), items: await admin.list(['queue', 'active', 'hold', 'dead']) }) } : {}),
    }),
  );
}

/** What the daemon knows of itself for `status` (the spool's contents are read on each request). */
export type StatusProvider = () => Omit<StatusSources, 'items' | 'now'>;
