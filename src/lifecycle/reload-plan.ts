/**
 * What a reload does to the listeners and to the settings read once at start, as a pure function
 * of (what runs, the next config). Listeners are matched on host:port (port 0, any free port: on
 * host and name, so that two such listeners stay apart):
 * - same host:port, and nothing that needs a new socket changed: reloaded in place (certificate,
 *   allow list, limits…: Listener.reload);
 * - same host:port, tls.mode changed (see needsRestart): closed, then opened again on that port;
 * - host:port gone from the config: closed;
 * - host:port new: opened (before anything else changes: a port that cannot be bound refuses
 *   the whole reload, or, when it is a practice's, only that practice's new settings: reload.ts).
 * A changed queue.dir refuses the reload; a changed queue.deliveryThread or queue.dedupeRetention
 * or queue.encryption takes effect at the next restart (named in `restartNeeded`, so it is said, not silently ignored).
 * Carried out by reload.ts; table-tested in test/reload-plan.test.ts.
 */
import path from 'node:path';
import type { Config, ListenerConfig } from '../config/index.js';
import { ConfigError } from '../errors.js';
import { needsRestart } from '../smtp/index.js';

export interface RunningListener {
  /** The listen[] entry it runs with. */
  cfg: ListenerConfig;
}

export interface Running<L extends RunningListener> {
  listeners: readonly L[];
  /** queue.dir, resolved, as started. */
  spoolDir: string;
  /** Settings read once at start, as in effect. */
  deliveryThread: boolean;
  dedupeRetention: number;
  /** Could attempts run on a thread at all (not when the caller replaced transports, file calls or the clock)? */
  threadable: boolean;
  /** queue.encryption.keyFiles as started (keys are read once: a change needs a restart). */
  keyFiles?: readonly string[];
}

export interface ReloadPlan<L extends RunningListener> {
  reload: { running: L; next: ListenerConfig }[];
  reopen: { running: L; next: ListenerConfig }[];
  close: L[];
  open: ListenerConfig[];
  restartNeeded: ('queue.deliveryThread' | 'queue.dedupeRetention' | 'queue.encryption')[];
}

export const listenerKey = (l: Pick<ListenerConfig, 'host' | 'port'>) => `${l.host}:${l.port}`;
/** What a running listener and a next entry are matched on: host:port, and for port 0 (any free port) its name too. */
const matchKey = (l: ListenerConfig) => (l.port === 0 ? `${listenerKey(l)} ${l.name ?? ''}` : listenerKey(l));

export function planReload<L extends RunningListener>(running: Running<L>, next: Config): ReloadPlan<L> {
  if (path.resolve(next.queue.dir) !== running.spoolDir) {
    throw new ConfigError('queue.dir', 'changing the spool directory needs a restart (stop, move the spool, start)');
  }
  const nextByKey = new Map(next.listen.map((l) => [matchKey(l), l]));
  const runningKeys = new Set(running.listeners.map((r) => matchKey(r.cfg)));
  const plan: ReloadPlan<L> = { reload: [], reopen: [], close: [], open: [], restartNeeded: [] };
  for (const r of running.listeners) {
    const cfg = nextByKey.get(matchKey(r.cfg));
    if (cfg === undefined) plan.close.push(r);
    else if (needsRestart(r.cfg, cfg)) plan.reopen.push({ running: r, next: cfg });
    else plan.reload.push({ running: r, next: cfg });
  }
  plan.open = next.listen.filter((l) => !runningKeys.has(matchKey(l)));
  if (running.deliveryThread !== (next.queue.deliveryThread && running.threadable)) plan.restartNeeded.push('queue.deliveryThread');
  if (running.dedupeRetention !== next.queue.dedupeRetention) plan.restartNeeded.push('queue.dedupeRetention');
  if (running.keyFiles && JSON.stringify(running.keyFiles) !== JSON.stringify(next.queue.encryption?.keyFiles ?? [])) plan.restartNeeded.push('queue.encryption');
  return plan;
}
