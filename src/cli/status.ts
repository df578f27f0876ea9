/**
 * `workspace-relay status`: asks the running relay over its control socket. Exit 0 running, 3 not
 * running, 75 starting or stopping (or no answer), 78 config.
 */
import { ControlError, controlRequest, controlSocketPath, formatDuration, shortTime, table, type RelayStatus } from '../control/index.js';
import type { Config } from '../config/index.js';
import { CliExit, EXIT_FAILURE, EXIT_NOT_RUNNING, EXIT_TEMPFAIL } from './exit-codes.js';

export interface StatusIo {
  out(line: string): void;
  err(line: string): void;
}

export async function statusCommand(config: Config, opts: { json?: boolean }, io: StatusIo, now = new Date()): Promise<void> {
  const socket = controlSocketPath(config);
  let status: RelayStatus;
  try {
    status = (await controlRequest(socket, { op: 'status' }, { connectTimeoutMs: 5_000, replyTimeoutMs: 30_000 })) as RelayStatus;
  } catch (err) {
    if (!(err instanceof ControlError)) throw err;
    const notRunning = err.code === 'control.unavailable' || err.code === 'control.not_daemon';
    const code = notRunning ? EXIT_NOT_RUNNING : ['control.busy', 'control.timeout', 'control.no_answer'].includes(err.code) ? EXIT_TEMPFAIL : EXIT_FAILURE;
    const message = notRunning ? `workspace-relay is not running (nothing answers on ${socket})` : err.message;
    if (opts.json) io.out(JSON.stringify({ running: false, socket, code: err.code, message }, null, 2));
    throw new CliExit(code, opts.json ? '' : message);
  }
  if (opts.json) {
    io.out(JSON.stringify(status, null, 2));
    return;
  }
  for (const line of statusText(status, now)) io.out(line);
}

/** The human view: a few lines an admin reads at a glance. */
export function statusText(s: RelayStatus, now: Date): string[] {
  const age = (iso: string | null) => (iso ? formatDuration(now.getTime() - Date.parse(iso)) : '-');
  const lines = [
    `workspace-relay ${s.version} is running: pid ${s.pid}, up ${formatDuration(s.uptimeSeconds * 1000)} (since ${shortTime(s.startedAt)})`,
    ...(s.config ? [`config    ${s.config}`] : []),
    `listening ${s.listeners.map((l) => `${l.host}:${l.port} (${l.tls}${l.sessions ? `, ${l.sessions} session(s)` : ''})`).join(', ') || 'nowhere'}`,
    '',
    table(
      ['QUEUE', 'MESSAGES', 'OLDEST'],
      (['queue', 'active', 'hold', 'dead'] as const).map((st) => [
        { queue: 'waiting', active: 'delivering', hold: 'held by admin', dead: 'dead' }[st],
        String(s.queue[st].count),
        age(s.queue[st].oldestReceivedAt),
      ]),
    ),
    '',
    table(
      ['WORKSPACE', 'TRANSPORT', 'WAITING', 'LAST DELIVERY', 'HELD'],
      s.workspaces.map((w) => [
        w.name,
        w.transport,
        String(w.waiting),
        w.lastDelivery ? `${age(w.lastDelivery.at)} ago` : 'none since start',
        w.held ? `${w.held.count}: ${w.held.code}` : '-',
      ]),
    ),
  ];
  for (const p of s.practices ?? []) {
    if (p.state === 'disabled') lines.push('', `practice ${p.workspaces.join(', ') || p.file} DISABLED (its clients get temporary errors, its mail waits): ${p.reason}`);
    if (p.state === 'kept') lines.push('', `practice ${p.workspaces.join(', ')}: new settings refused, running on the previous ones: ${p.reason}`);
  }
  for (const w of s.workspaces) {
    if (!w.held) continue;
    lines.push('', `${w.name}: ${w.held.count} message(s) held since ${shortTime(w.held.since)}: ${w.held.code}: ${w.held.reason}`);
    if (w.held.fix) lines.push(`  fix: ${w.held.fix}`);
  }
  return lines;
}
