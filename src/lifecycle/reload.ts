/**
 * Applying a new config to a running relay (SIGHUP), with no message lost: the plan is decided
 * first (reload-plan.ts), then everything that can fail is checked or built before anything
 * changes — keys (transports, send-as verifiers), every listener entry (devices, TLS files), new
 * ports bound — each step pushing its undo on a CleanupStack, so a refused config changes nothing.
 * A practice's new port that cannot be bound is that practice's alone (isolation.ts): it keeps
 * its running settings, or is disabled if it has none, and the rest of the config applies. What
 * is built again for a practice kept on its running settings reads its files (keys, passwords,
 * certificates) as last read good if they were broken in place (src/config/last-good.ts).
 * Once the new config is in force, listeners that go away are closed and those whose socket must
 * change are opened again (with the old settings if the new ones fail, and an alert if neither can).
 */
import type { Clock } from '../clock.js';
import { keptListeners, type Config, type ListenerConfig } from '../config/index.js';
import { errorText } from '../errors.js';
import type { RecipientDirectory, SendAsVerifier } from '../google/index.js';
import type { Logger } from '../log.js';
import type { DeliveryExecutor } from '../queue/index.js';
import type { Listener } from '../smtp/index.js';
import { CleanupStack } from './cleanup-stack.js';
import { checkListeners } from './preflight.js';
import { isolateBindFailure } from './isolation.js';
import { listenerKey, planReload, type ReloadPlan, type Running } from './reload-plan.js';

/** The transports of one config and the executor that runs attempts with them. */
export interface Deliveries {
  executor: DeliveryExecutor;
  /** This config is now the current one (the delivery thread is told). */
  activate(): void;
  close(): Promise<void>;
}

/** What one config puts in force besides the listeners. */
export interface Generation {
  config: Config;
  deliveries: Deliveries;
  verifiers: Map<string, SendAsVerifier>;
  /** recipientCheck: directory, per workspace. */
  recipients: Map<string, RecipientDirectory>;
}

export interface ListenerEntry {
  /** The listen[] entry it was started from (reload matches on host:port). */
  cfg: ListenerConfig;
  listener: Listener;
}

/** Deliveries in flight when a reload replaces their transports finish with them: closed this much later. */
export const PREVIOUS_DELIVERIES_GRACE_MS = 600_000;

export interface ReloadTarget {
  logger: Logger;
  clock: Clock;
  running(): Running<ListenerEntry>;
  current(): Generation;
  /** Build `next`'s deliveries and send-as verifiers (not in use yet). */
  prepare(next: Config): Promise<Generation>;
  /** Put `generation` in force (its deliveries activated). */
  use(generation: Generation): void;
  /** Open a listener; `label` names its entry in errors ("listen[2]"). */
  open(cfg: ListenerConfig, label: string): Promise<ListenerEntry>;
  setListeners(entries: ListenerEntry[]): void;
  /** Log that a listener accepts mail (listener.started). */
  announce(listener: Listener): void;
}

/**
 * Put `next` in force; resolves with the config in force afterwards: `next`, less what a
 * practice's new port that cannot be bound changed (that practice kept on its running settings,
 * or disabled: isolateBindFailure). Anything else that fails refuses the reload, changing nothing.
 */
export async function applyReload(target: ReloadTarget, proposed: Config): Promise<Config> {
  const { logger } = target;
  const previous = target.current();
  planReload(target.running(), proposed); // (a changed queue.dir refuses the reload before any port is bound)
  // (A practice kept on its running settings keeps its certificate and key as last read good.)
  const kept = keptListeners(proposed);
  checkListeners(proposed, kept);
  const undo = new CleanupStack();
  let next = proposed;
  let plan: ReloadPlan<ListenerEntry>;
  const label = (cfg: ListenerConfig) => `listen[${next.listen.indexOf(cfg)}]`;
  const added: ListenerEntry[] = [];
  try {
    next = await openNew(target, proposed, previous.config, added, undo);
    plan = planReload(target.running(), next);
    const generation = await target.prepare(next);
    undo.defer(() => generation.deliveries.close());
    // In-place reloads read the config in force: the old one comes back before they are undone
    // (each listener back on what it ran with: its certificate and key as last read good if need be).
    const reloaded: ListenerEntry[] = [];
    undo.defer(() => {
      target.use(previous);
      for (const r of reloaded.reverse()) r.listener.reload(r.cfg, { lastGood: true });
    });
    target.use(generation);
    for (const { running, next: cfg } of plan.reload) {
      running.listener.reload(cfg, { lastGood: kept.has(cfg) });
      reloaded.push(running);
    }
  } catch (err) {
    await undo.unwind();
    throw err;
  }
  undo.dismiss();
  // Listeners that go away, or whose TLS mode changes (same port: closed, then opened again).
  await Promise.allSettled([...plan.close, ...plan.reopen.map((r) => r.running)].map((r) => r.listener.close()));
  for (const { running, next: cfg } of plan.reopen) {
    try {
      added.push(await target.open(cfg, label(cfg)));
    } catch (err) {
      logger.error({ event: 'listener.reopen_failed', listener: listenerKey(cfg), reason: errorText(err) }, 'listener could not be opened again with its new settings; opening it with the old ones');
      try {
        added.push(await target.open(running.cfg, label(cfg)));
      } catch (again) {
        // The new config is in force by now; what is lost is this one listener. Say so loudly.
        logger.error(
          { event: 'listener.lost', alert: true, listener: listenerKey(cfg), reason: errorText(again) },
          'listener could not be opened again at all: nothing listens there until the next reload or restart',
        );
      }
    }
  }
  added.forEach((r) => target.announce(r.listener));
  target.setListeners([...plan.reload.map(({ running, next: cfg }) => ({ cfg, listener: running.listener })), ...added]);
  // Deliveries in flight finish with the old transports.
  target.clock.setTimeout(() => void previous.deliveries.close(), PREVIOUS_DELIVERIES_GRACE_MS).unref();
  // Read once at start: say so (at every reload until a restart) rather than let a changed value look applied.
  for (const key of plan.restartNeeded) {
    logger.warn({ event: 'config.restart_needed', key }, `${key} changed: it takes effect at the next restart`);
  }
  logger.info({ event: 'config.reloaded', workspaces: next.workspaces.map((w) => w.name) }, 'configuration reloaded');
  return next;
}

/**
 * Bind the ports `next` adds (before anything else changes), each opened listener pushed on
 * `added` and its close on `undo`. A practice's port that cannot be bound changes only that
 * practice (isolateBindFailure); the listeners opened for its refused settings are closed again.
 * Returns the config to go on with; its new ports are exactly those on `added`.
 */
async function openNew(target: ReloadTarget, proposed: Config, running: Config, added: ListenerEntry[], undo: CleanupStack): Promise<Config> {
  let next = proposed;
  for (const cfg of planReload(target.running(), proposed).open) {
    if (!next.listen.includes(cfg)) continue; // its practice was kept on its running settings
    try {
      const entry = await target.open(cfg, `listen[${proposed.listen.indexOf(cfg)}]`);
      added.push(entry);
      undo.defer(() => entry.listener.close({ graceMs: 0 }));
    } catch (err) {
      next = isolateBindFailure(next, cfg, err, target.logger, running);
    }
  }
  const dropped = added.filter((e) => !next.listen.includes(e.cfg));
  await Promise.allSettled(dropped.map((e) => e.listener.close({ graceMs: 0 })));
  added.splice(0, added.length, ...added.filter((e) => next.listen.includes(e.cfg)));
  return next;
}
