/**
 * `send-test --wait`: follow the message the relay just accepted (its queue id, from the 250
 * reply) over the control socket until Google has it (its message id) or it fails: held (an
 * admin must fix something), dead, or held by an admin. A temporary failure is shown and waited
 * through, up to the time limit: the relay retries it on its schedule.
 */
import { ControlError, controlRequest, shortTime, type MessageOutcome, type QueueItem } from '../control/index.js';
import { codeRow, isFailureCode } from '../failures/index.js';

export type WaitEnd =
  | { outcome: 'delivered'; providerId: string | null; workspace: string; partial: boolean }
  | { outcome: 'held' | 'failed'; code: string; reason: string; fix: string | null; state: string }
  | { outcome: 'admin_hold'; state: 'hold' }
  | { outcome: 'timeout'; state: string | null; code: string | null; reason: string | null; fix: string | null; nextAttemptAt: string | null }
  | { outcome: 'lost'; reason: string };

export interface WaitOptions {
  socketPath: string;
  timeoutMs: number;
  /** Between two questions to the relay (default 250 ms). */
  pollMs?: number;
  /** Told of each failed attempt that the relay will retry (a temporary failure). */
  onDeferred?: (item: QueueItem & { fix?: string | null }) => void;
}

/** How long a message may be neither in the spool nor known as delivered (the moment between the two). */
const LOST_AFTER_MS = 3_000;

export async function waitForDelivery(queueId: string, options: WaitOptions): Promise<WaitEnd> {
  const pollMs = options.pollMs ?? 250;
  const deadline = Date.now() + options.timeoutMs;
  let last: (QueueItem & { fix?: string | null }) | null = null;
  let missingSince: number | null = null;
  let toldAttempts = 0;
  for (;;) {
    let o: MessageOutcome | null = null;
    try {
      o = (await controlRequest(options.socketPath, { op: 'outcome', id: queueId }, { connectTimeoutMs: 5_000, replyTimeoutMs: 15_000 })) as MessageOutcome;
      missingSince = null;
    } catch (err) {
      if (!(err instanceof ControlError)) throw err;
      if (err.code === 'queue.not_found') {
        missingSince ??= Date.now();
        if (Date.now() - missingSince > LOST_AFTER_MS) {
          return { outcome: 'lost', reason: `message ${queueId} is neither in the spool nor delivered by this relay since it started: deleted, or accepted by another relay (--server)` };
        }
      } else if (err.code === 'control.unavailable' || err.code === 'control.not_daemon') {
        return { outcome: 'lost', reason: `no relay answers on ${options.socketPath}: --wait follows the message through the relay's control socket, so run it on the relay's machine with its config` };
      } else if (err.code === 'control.denied') {
        return { outcome: 'lost', reason: `${err.message}: run send-test as the relay's user (sudo -u workspace-relay …) or as root` };
      }
      // busy, timeout: ask again
    }
    if (o?.state === 'delivered') return { outcome: 'delivered', providerId: o.providerId, workspace: o.workspace, partial: o.partial };
    if (o) {
      last = o;
      const e = o.lastError;
      const fix = o.fix ?? (e && isFailureCode(e.code) ? (codeRow(e.code).fix?.({ user: o.sender }) ?? null) : null);
      if (o.state === 'hold') return { outcome: 'admin_hold', state: 'hold' };
      if (o.state === 'dead') return { outcome: 'failed', code: e?.code ?? 'unknown', reason: e?.message ?? 'moved to dead/', fix, state: o.state };
      if (e?.kind === 'held') return { outcome: 'held', code: e.code, reason: e.message, fix, state: o.state };
      if (e && o.attempts > toldAttempts) {
        toldAttempts = o.attempts;
        options.onDeferred?.({ ...o, fix });
      }
    }
    if (Date.now() >= deadline) {
      const e = last?.lastError;
      return {
        outcome: 'timeout',
        state: last?.state ?? null,
        code: e?.code ?? null,
        reason: e?.message ?? null,
        fix: last?.fix ?? null,
        nextAttemptAt: last?.nextAttemptAt ?? null,
      };
    }
    await new Promise((r) => setTimeout(r, Math.min(pollMs, Math.max(0, deadline - Date.now()))));
  }
}

/** The human lines of how the wait ended. */
export function waitLines(queueId: string, end: WaitEnd, timeout: string): string[] {
  const fixLine = (fix: string | null) => (fix ? [`  fix: ${fix}`] : []);
  switch (end.outcome) {
    case 'delivered':
      return [
        end.providerId === null
          ? `delivered: an earlier transaction of the same message already reached every recipient (duplicate suppressed)`
          : `delivered (workspace ${end.workspace}): message id ${end.providerId}`,
        ...(end.partial ? [`  some recipients went on in a copy or a notice: workspace-relay queue list`] : []),
      ];
    case 'held':
      return [`held: ${end.code}: ${end.reason}`, ...fixLine(end.fix), `  the message stays queued and is retried (queue show ${queueId}); fix it, then: workspace-relay queue retry ${queueId}`];
    case 'failed':
      return [`failed: ${end.code}: ${end.reason}`, ...fixLine(end.fix), `  the message is in dead/ (queue show ${queueId})`];
    case 'admin_hold':
      return [`held by an admin: workspace-relay queue release ${queueId}`];
    case 'timeout':
      return [
        `not delivered within ${timeout}${end.code ? `: last attempt ${end.code}: ${end.reason}` : end.state === 'active' ? ': being delivered' : ': not tried yet'}`,
        ...fixLine(end.fix),
        `  the relay keeps trying${end.nextAttemptAt ? ` (next attempt ${shortTime(end.nextAttemptAt)})` : ''}: workspace-relay queue show ${queueId}`,
      ];
    case 'lost':
      return [`cannot follow it: ${end.reason}`];
  }
}
