/**
 * The scheduler's DeliveryObserver for notices (issue 3 part 3):
 * - failed (permanent, or max age reached): a failure DSN to the sender, and a "dead" alert to
 *   the workspace's `notify` admin;
 * - deferred / held: once a message has waited `queue.delayWarning`, one "delayed" DSN to the
 *   sender (meta.delayNotified); held also alerts the admin;
 * - never anything about a message the relay generated itself (meta.notification): Gmail has no
 *   null sender, so that flag is what stops loops. A failed notice goes to dead/ silently.
 * Notices are sent as the workspace's postmaster user (not as the failing sender, whose
 * delegation may be what broke), spooled like any message, and handed to `enqueue`.
 * Admin alerts: at most one per (workspace, kind, error code) per `alertInterval`, in memory.
 */
import { systemClock, type Clock } from '../clock.js';
import type { Config, WorkspaceConfig } from '../config/index.js';
import { errorText, type DeliveryError } from '../errors.js';
import type { Logger } from '../log.js';
import { parseMailbox } from '../policy/index.js';
import type { DeliveryObserver } from '../queue/index.js';
import { createQueueId, type Spool, type MessageMeta } from '../spool/index.js';
import { buildAlert, type AlertKind } from './alert.js';
import { buildDsn, type DsnKind } from './dsn.js';
import { AlertLimiter } from './rate-limit.js';
import { readHeaderSection, safeHeadersOf } from './safe-headers.js';
import { delayStatus, failureStatus } from '../failures/index.js';

export const DEFAULT_ALERT_INTERVAL = 60 * 60 * 1000;

export interface NotifierDeps {
  spool: Pick<Spool, 'createWriter' | 'message'>;
  config: () => Config;
  logger: Logger;
  /** Deliver a committed notice: wire `scheduler.enqueue`. */
  enqueue: (meta: MessageMeta) => void;
  clock?: Clock;
  newId?: (now: number) => string;
  /** At most one admin alert per (workspace, kind, error code) in this many ms (default 1 h). */
  alertInterval?: number;
}

type NoticeKind = NonNullable<MessageMeta['notification']>;

/** The user a workspace's notices are sent as: `postmaster`, default postmaster@<first domain>. */
export function postmasterOf(w: Pick<WorkspaceConfig, 'postmaster' | 'domains'>): string {
  return w.postmaster ?? `postmaster@${w.domains[0]}`;
}

export class Notifier implements DeliveryObserver {
  private readonly clock: Clock;
  private readonly newId: (now: number) => string;
  private readonly limiter: AlertLimiter;
  private readonly interval: number;

  constructor(private readonly deps: NotifierDeps) {
    this.clock = deps.clock ?? systemClock;
    this.newId = deps.newId ?? createQueueId;
    this.interval = deps.alertInterval ?? DEFAULT_ALERT_INTERVAL;
    this.limiter = new AlertLimiter(this.interval, this.clock);
  }

  async deferred(meta: MessageMeta, error: DeliveryError): Promise<void> {
    await this.guard(meta, 'delay', () => this.delayNotice(meta, error));
  }

  async held(meta: MessageMeta, error: DeliveryError): Promise<void> {
    await this.guard(meta, 'delay', () => this.delayNotice(meta, error));
    await this.guard(meta, 'alert', () => this.alert('held', meta, error, false));
  }

  /**
   * Rejects with the file-system error (an errno `code`: ENOSPC, EIO…) when the failure notice
   * could not be written to the spool: the caller then keeps the message queued rather than
   * move it to dead/ with its bounce lost (Postfix keeps it deferred the same way).
   */
  async failed(meta: MessageMeta, error: DeliveryError, expired: boolean, partial = false): Promise<void> {
    try {
      await this.failureNotice(meta, error, expired, partial);
    } catch (err) {
      if (isFileSystemError(err)) throw err;
      this.deps.logger.error({ event: 'notify.error', kind: 'failure', about: meta.id, err: errorText(err) }, 'could not queue a notice');
    }
    await this.guard(meta, 'alert', () => this.alert(partial ? 'refused' : 'dead', meta, error, expired));
  }

  private async guard(meta: MessageMeta, kind: NoticeKind, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.deps.logger.error({ event: 'notify.error', kind, about: meta.id, err: errorText(err) }, 'could not queue a notice');
    }
  }

  private async delayNotice(meta: MessageMeta, error: DeliveryError): Promise<void> {
    if (meta.delayNotified) return;
    const q = this.deps.config().queue;
    const since = Date.parse(meta.requeuedAt ?? meta.receivedAt);
    if (this.clock.now() - since < q.delayWarning) return;
    if (meta.notification) {
      this.deps.logger.debug({ event: 'notify.suppressed', kind: 'delay', about: meta.id, reason: 'about_notification' }, 'no notice about a notice');
      return;
    }
    if (meta.mailFrom === '') {
      // MAIL FROM:<> (a device's own bounce or report): no notices go back (RFC 5321 §6.1).
      this.deps.logger.debug({ event: 'notify.suppressed', kind: 'delay', about: meta.id, reason: 'null_sender' }, 'no delay notice for a null sender');
      return;
    }
    await this.sendDsn('delay', meta, meta.sender, {
      status: delayStatus(error.code),
      code: error.code,
      reason: error.message,
      fix: error.fix,
      willRetryUntil: new Date(since + q.maxAge),
    });
    meta.delayNotified = true;
  }

  private async failureNotice(meta: MessageMeta, error: DeliveryError, expired: boolean, partial: boolean): Promise<void> {
    if (this.suppressedAboutNotice(meta, 'failure')) return;
    const ws = this.workspace(meta, 'failure');
    if (!ws) return;
    const code = expired ? 'delivery.expired' : error.code;
    // The sending user does not exist: a notice to it cannot arrive; the admin (or postmaster) gets
    // it. So does the failure of mail sent with MAIL FROM:<>, which never goes back to its sender
    // (RFC 5321 §6.1; Postfix's "double bounce" to postmaster).
    const toAdmin = (!expired && error.code === 'delivery.no_such_user') || meta.mailFrom === '';
    const to = toAdmin ? (ws.notify ?? postmasterOf(ws)) : meta.sender;
    await this.sendDsn('failure', meta, to, {
      status: failureStatus(code),
      code,
      reason: expired ? (meta.lastError?.message ?? error.message) : error.message,
      fix: error.fix,
      expired,
      partial,
    });
  }

  private async alert(kind: AlertKind, meta: MessageMeta, error: DeliveryError, expired: boolean): Promise<void> {
    if (this.suppressedAboutNotice(meta, 'alert')) return;
    const ws = this.workspace(meta, 'alert');
    if (!ws?.notify) return;
    const code = expired ? 'delivery.expired' : error.code;
    const key = `${ws.name}\u0000${kind}\u0000${code}`;
    const slot = this.limiter.take(key);
    if (!slot.ok) {
      this.deps.logger.info({ event: 'notify.suppressed', kind: 'alert', alert: kind, about: meta.id, code, reason: 'rate_limited' }, 'an alert for this error was sent recently');
      return;
    }
    try {
      const cfg = this.deps.config();
      await this.spoolNotice('alert', meta, ws, ws.notify, (id, messageId, date) =>
        buildAlert({
          kind,
          workspace: ws.name,
          hostname: cfg.hostname,
          from: postmasterOf(ws),
          to: ws.notify!,
          messageId,
          date,
          about: { queueId: meta.id, sender: meta.sender, recipients: meta.recipients, attempts: meta.attempts, nextAttemptAt: kind === 'held' ? meta.nextAttemptAt : undefined },
          code,
          reason: expired ? (meta.lastError?.message ?? error.message) : error.message,
          fix: error.fix,
          suppressed: slot.suppressed,
          interval: this.interval,
          expired,
        }),
        { alert: kind, code },
      );
    } catch (err) {
      this.limiter.undo(key, slot.suppressed);
      throw err;
    }
  }

  private async sendDsn(
    kind: DsnKind,
    meta: MessageMeta,
    to: string,
    d: { status: string; code: string; reason: string; fix: string | undefined; willRetryUntil?: Date; expired?: boolean; partial?: boolean },
  ): Promise<void> {
    const ws = this.workspace(meta, kind);
    if (!ws) return;
    const cfg = this.deps.config();
    const headers = safeHeadersOf(await readHeaderSection(this.deps.spool.message(meta)), meta);
    const lastAttempt = meta.lastError ? new Date(meta.lastError.at) : undefined;
    await this.spoolNotice(kind, meta, ws, to, (_id, messageId, date) =>
      buildDsn({
        kind,
        reportingMta: cfg.hostname,
        from: postmasterOf(ws),
        to,
        messageId,
        date,
        original: { queueId: meta.id, arrivalDate: new Date(meta.receivedAt), sender: meta.sender, recipients: meta.recipients, headers, attempts: meta.attempts },
        ...d,
        lastAttempt,
      }),
      { code: d.code },
    );
  }

  /** Write the notice to the spool as the postmaster user and hand it to the scheduler. */
  private async spoolNotice(
    kind: NoticeKind,
    about: MessageMeta,
    ws: WorkspaceConfig,
    to: string,
    build: (id: string, messageId: string, date: Date) => Buffer,
    logFields: Record<string, unknown>,
  ): Promise<void> {
    const from = postmasterOf(ws);
    for (const address of [from, to]) {
      const m = parseMailbox(address);
      if (!m || !ws.domains.includes(m.domain)) {
        this.deps.logger.error(
          { event: 'notify.suppressed', kind, about: about.id, to, reason: 'outside_workspace', address },
          `not sending a notice: ${address} is not in workspace ${ws.name}'s domains`,
        );
        return;
      }
    }
    const now = this.clock.now();
    const id = this.newId(now);
    const messageId = `${id}.${kind}@${messageIdDomain(this.deps.config().hostname)}`;
    const date = new Date(now);
    const bytes = build(id, messageId, date);
    const iso = date.toISOString();
    const meta: MessageMeta = {
      version: 1,
      id,
      receivedAt: iso,
      workspace: ws.name,
      mailFrom: '',
      sender: from,
      recipients: [to],
      bcc: [],
      headerRecipients: [to],
      messageId,
      from,
      size: 0,
      sha256: '',
      client: { address: 'local' },
      attempts: 0,
      nextAttemptAt: iso,
      lastError: null,
      notification: kind,
    };
    const writer = this.deps.spool.createWriter(id);
    let stored: MessageMeta;
    try {
      await writer.write(bytes);
      stored = await writer.commit(meta);
    } catch (err) {
      await writer.abort();
      throw err;
    }
    this.deps.logger.info(
      { event: 'notify.sent', queueId: id, kind, about: about.id, workspace: ws.name, sender: from, to, size: stored.size, ...logFields },
      `queued a ${kind} notice`,
    );
    this.deps.enqueue(stored);
  }

  private suppressedAboutNotice(meta: MessageMeta, kind: NoticeKind): boolean {
    if (!meta.notification) return false;
    this.deps.logger.info(
      { event: 'notify.suppressed', kind, about: meta.id, reason: 'about_notification', notification: meta.notification },
      'no notice about a notice',
    );
    return true;
  }

  private workspace(meta: MessageMeta, kind: NoticeKind | DsnKind): WorkspaceConfig | undefined {
    const ws = this.deps.config().workspaces.find((w) => w.name === meta.workspace);
    if (!ws) {
      this.deps.logger.warn({ event: 'notify.suppressed', kind, about: meta.id, reason: 'no_workspace', workspace: meta.workspace }, 'the workspace is not in the config');
    }
    return ws;
  }
}

/** The host name as the right side of a Message-ID (anything odd becomes `-`). */
function messageIdDomain(hostname: string): string {
  const clean = hostname.toLowerCase().replace(/[^a-z0-9.-]/g, '-').replace(/^[.-]+|[.-]+$/g, '');
  return clean || 'workspace-relay.invalid';
}

/** An error from the file system (errno code such as ENOSPC, EIO, EDQUOT, EROFS). */
export function isFileSystemError(err: unknown): boolean {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && /^E[A-Z]+$/.test(code);
}
