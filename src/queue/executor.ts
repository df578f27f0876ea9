/**
 * One delivery attempt of one queued message, as the scheduler orders it: claim it (queue →
 * active), check it against the current workspaces, send it (with duplicate suppression, see
 * attempt.ts) and, when sent, complete it (remove it from the spool). The scheduler keeps the
 * decisions around it — when, how fast, what a failure means, notices — and the state changes
 * of failures (release, kill, split).
 *
 * Runs in the daemon's thread (`LocalExecutor`) or in the delivery thread (delivery-thread.ts,
 * same class there), where the file work and the send of every attempt leave the listeners'
 * thread alone. A run never rejects: what happened is in the result.
 */
import type { Config } from '../config/index.js';
import { DeliveryError, errorText } from '../errors.js';
import type { Logger } from '../log.js';
import type { Transport } from '../delivery/index.js';
import type { SentLog, Spool, MessageMeta } from '../spool/index.js';
import { attemptDelivery, type AttemptOutcome } from './attempt.js';

export type AttemptRun =
  /** Not in queue/ any more (deleted, or taken by an admin action meanwhile). */
  | { kind: 'not_queued' }
  /** The claim failed (EMFILE, EIO…), before or after its rename. */
  | { kind: 'claim_failed'; error: unknown }
  /** Sent (or suppressed as a duplicate). `completed`: removed from the spool already. */
  | { kind: 'sent'; meta: MessageMeta; outcome: AttemptOutcome; transport: Transport['name']; completed: boolean }
  /** Not sent; the message is in active/ for the scheduler to release or kill. */
  | { kind: 'failed'; meta: MessageMeta; error: unknown };

export interface DeliveryExecutor {
  run(id: string, signal: AbortSignal): Promise<AttemptRun>;
}

export interface LocalExecutorDeps {
  spool: Spool;
  sentLog: SentLog;
  transportFor: (workspace: string) => Transport | undefined;
  /** The workspaces the message is checked against (the current config). */
  workspaces: () => Config['workspaces'];
  logger: Logger;
}

const isNotQueued = (err: unknown) => (err as { code?: unknown }).code === 'spool.not_queued';

/** The first address of the message outside its workspace's current domains, or null. */
function outsideCurrentWorkspace(meta: MessageMeta, workspaces: Config['workspaces']): string | null {
  const ws = workspaces.find((w) => w.name === meta.workspace);
  if (!ws) return null;
  for (const a of [meta.sender, ...meta.recipients, ...meta.headerRecipients, ...meta.bcc]) {
    if (!ws.domains.includes(a.slice(a.lastIndexOf('@') + 1).toLowerCase())) return a;
  }
  return null;
}

export class LocalExecutor implements DeliveryExecutor {
  constructor(private readonly deps: LocalExecutorDeps) {}

  async run(id: string, signal: AbortSignal): Promise<AttemptRun> {
    const { spool, logger } = this.deps;
    let meta: MessageMeta;
    try {
      meta = await spool.claim(id);
    } catch (error) {
      return isNotQueued(error) ? { kind: 'not_queued' } : { kind: 'claim_failed', error };
    }
    const log = logger.child({ queueId: id, workspace: meta.workspace });
    try {
      const transport = this.deps.transportFor(meta.workspace);
      if (!transport) {
        throw new DeliveryError('delivery.no_workspace', 'held', `workspace "${meta.workspace}" is not in the config`, {
          fix: `restore workspace "${meta.workspace}" in the config, or delete the message with the queue CLI`,
        });
      }
      // Accepted under an older config: the boundary is checked again against the current one.
      const outside = outsideCurrentWorkspace(meta, this.deps.workspaces());
      if (outside) {
        throw new DeliveryError('delivery.outside_workspace_now', 'held', `${outside} is no longer inside workspace "${meta.workspace}" (the config changed since the message was accepted)`, {
          fix: `restore the domain in workspace "${meta.workspace}", or delete the message: workspace-relay queue delete ${meta.id}`,
        });
      }
      const outcome = await attemptDelivery({ meta, message: spool.message(meta), transport, sentLog: this.deps.sentLog, signal, logger: log });
      // Partly refused: the scheduler makes the copy for the deferred recipients from the bytes first.
      if (outcome.kind === 'delivered' && outcome.result.refused?.length) {
        return { kind: 'sent', meta, outcome, transport: transport.name, completed: false };
      }
      let completed = true;
      try {
        await spool.complete(id);
      } catch (err) {
        // Sent: a failure to remove it must not count as a failed delivery (and send it again);
        // the scheduler retries the removal.
        log.error({ event: 'queue.state_change_failed', what: 'complete', queueId: id, attempt: 1, err: errorText(err), alert: false }, 'could not complete the message; retrying');
        completed = false;
      }
      return { kind: 'sent', meta, outcome, transport: transport.name, completed };
    } catch (error) {
      return { kind: 'failed', meta, error };
    }
  }
}
