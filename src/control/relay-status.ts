/**
 * `workspace-relay status`, the daemon's side: is it running, since when, where it listens, what
 * waits in the spool (per state, with the oldest), and per workspace its last delivery and why
 * mail is held. Nothing here carries message content: ids, codes, times and the relay's own
 * wording only.
 */
import type { Config } from '../config/index.js';
import type { SpoolState } from '../spool/index.js';
import type { QueueItem } from './protocol.js';

export interface ListenerStatus {
  name: string;
  host: string;
  port: number;
  tls: string;
  sessions: number;
}

export interface StateStatus {
  count: number;
  /** ISO time the oldest message in this state was received; null when empty. */
  oldestReceivedAt: string | null;
}

export interface WorkspaceStatus {
  name: string;
  transport: string;
  /** Messages of this workspace waiting (queue/, active/). */
  waiting: number;
  /** Messages held because an admin must fix something (delegation, key, Gmail off), newest reason first. */
  held: { count: number; code: string; reason: string; fix: string | null; since: string } | null;
  /** Messages an admin put on hold (`queue hold`). */
  adminHeld: number;
  dead: number;
  lastDelivery: { at: string; queueId: string } | null;
  lastFailure: { at: string; code: string; queueId: string } | null;
}

/** A practice file (include:): disabled (`problem`), or running on its previous settings (`refused`). */
export interface PracticeStatus {
  file: string;
  workspaces: string[];
  state: 'running' | 'disabled' | 'kept';
  /** Why it is disabled, or why its new settings were refused at the last reload; null when fine. */
  reason: string | null;
}

export interface RelayStatus {
  running: true;
  pid: number;
  version: string;
  startedAt: string;
  uptimeSeconds: number;
  config: string | null;
  listeners: ListenerStatus[];
  queue: Record<SpoolState, StateStatus>;
  workspaces: WorkspaceStatus[];
  /** Practice files, when the config includes some. */
  practices: PracticeStatus[];
}

export interface StatusSources {
  pid: number;
  version: string;
  startedAt: Date;
  now: Date;
  config: string | null;
  listeners: ListenerStatus[];
  workspaces: { name: string; transport: string }[];
  practices?: PracticeStatus[];
  /** Every message in the spool, in every state. */
  items: QueueItem[];
  activity(workspace: string): {
    lastDelivery: WorkspaceStatus['lastDelivery'];
    lastHeld: { code: string; fix: string | null } | null;
    lastFailure: WorkspaceStatus['lastFailure'];
  };
}

const STATES: readonly SpoolState[] = ['queue', 'active', 'hold', 'dead'];

export function buildStatus(s: StatusSources): RelayStatus {
  const queue = Object.fromEntries(STATES.map((st) => [st, summarize(s.items.filter((m) => m.state === st))])) as Record<SpoolState, StateStatus>;
  const workspaces = s.workspaces.map((w): WorkspaceStatus => {
    const mine = s.items.filter((m) => m.workspace === w.name);
    const waiting = mine.filter((m) => m.state === 'queue' || m.state === 'active');
    const held = waiting.filter((m) => m.lastError?.kind === 'held').sort((a, b) => cmp(b.lastError!.at, a.lastError!.at));
    const activity = s.activity(w.name);
    const newest = held[0]?.lastError;
    return {
      name: w.name,
      transport: w.transport,
      waiting: waiting.length,
      held: newest
        ? {
            count: held.length,
            code: newest.code,
            reason: newest.message,
            fix: activity.lastHeld?.code === newest.code ? activity.lastHeld.fix : null,
            since: held.map((m) => m.lastError!.at).sort(cmp)[0]!,
          }
        : null,
      adminHeld: mine.filter((m) => m.state === 'hold').length,
      dead: mine.filter((m) => m.state === 'dead').length,
      lastDelivery: activity.lastDelivery,
      lastFailure: activity.lastFailure,
    };
  });
  return {
    running: true,
    pid: s.pid,
    version: s.version,
    startedAt: s.startedAt.toISOString(),
    uptimeSeconds: Math.max(0, Math.floor((s.now.getTime() - s.startedAt.getTime()) / 1000)),
    config: s.config,
    listeners: s.listeners,
    queue,
    workspaces,
    practices: s.practices ?? [],
  };
}

function summarize(items: QueueItem[]): StateStatus {
  const oldest = items.map((m) => m.receivedAt).sort(cmp)[0] ?? null;
  return { count: items.length, oldestReceivedAt: oldest };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The practices of the config in force, as `status` shows them. */
export function practiceStatus(config: Config): PracticeStatus[] {
  return (config.practices ?? []).map((p) => ({
    file: p.file,
    workspaces: p.workspaces.map((w) => w.name),
    state: p.problem !== null ? 'disabled' : p.refused !== undefined ? 'kept' : 'running',
    reason: p.problem ?? p.refused ?? null,
  }));
}
