/**
 * queue.deadRetention (default 30 days): dead messages (dead/, and unreadable entries set aside
 * there) and the dry-run outbox's files are removed once they are that old, each removal logged
 * (queue ids and workspaces, never content) and, for a dead message, in its audit record (the
 * outbox file's message had its own when it was "delivered" there). Run once at start and then hourly; 0 keeps them
 * until an admin deletes them. What deletion can and cannot promise on SSDs, copy-on-write file
 * systems and snapshots: docs/encryption.md.
 */
import type { Clock, Timer } from '../clock.js';
import type { Config } from '../config/index.js';
import { pruneOutbox } from '../delivery/index.js';
import { errorText } from '../errors.js';
import type { RelayEvents } from '../events.js';
import type { Logger } from '../log.js';
import { expireDead, type Spool } from '../spool/index.js';

export interface RetentionDeps {
  spool: Spool;
  config: () => Pick<Config, 'queue' | 'workspaces'>;
  logger: Logger;
  clock: Clock;
  /** Told of each dead message removed (its audit record: outcome deleted, by queue.deadRetention). */
  events?: Pick<RelayEvents, 'removed'>;
}

export const RETENTION_SWEEP_MS = 3_600_000;

/** One sweep: resolves how many dead messages and outbox files it removed. */
export async function sweepRetention(deps: RetentionDeps): Promise<{ dead: number; outbox: number }> {
  const config = deps.config();
  const keep = config.queue.deadRetention;
  if (!keep) return { dead: 0, outbox: 0 };
  const cutoff = deps.clock.now() - keep;
  const removed = await expireDead(deps.spool, cutoff);
  for (const e of removed) {
    deps.logger.info({ event: 'retention.dead_removed', queueId: e.id, workspace: e.workspace, diedAt: e.diedAt }, 'dead message removed: older than queue.deadRetention');
    if (e.meta) deps.events?.removed(e.meta, { action: 'queue.deadRetention', state: 'dead' });
  }
  let outbox = 0;
  for (const w of config.workspaces) {
    if (w.transport !== 'outbox' || !w.outbox) continue;
    const names = await pruneOutbox(w.outbox.dir, cutoff);
    outbox += names.length;
    if (names.length) {
      deps.logger.info(
        { event: 'retention.outbox_removed', workspace: w.name, files: names.length, queueIds: names.map((n) => n.replace(/\.eml$/, '')) },
        'outbox files removed: older than queue.deadRetention',
      );
    }
  }
  return { dead: removed.length, outbox };
}

/** Sweep now and every hour until the timer is cancelled; a failed sweep is logged and tried again next hour. */
export function startRetention(deps: RetentionDeps): Timer {
  let current: Promise<unknown> = Promise.resolve();
  const run = () => {
    current = current.then(() =>
      sweepRetention(deps).catch((err: unknown) => deps.logger.warn({ event: 'retention.failed', err: errorText(err) }, 'retention sweep failed: will try again')),
    );
  };
  run();
  return deps.clock.setInterval(run, RETENTION_SWEEP_MS).unref();
}
