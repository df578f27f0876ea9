/**
 * What the spool cannot tell, since a delivered message leaves it at once: for `status`, each
 * workspace's last delivery and last held failure with its fix; for `send-test --wait` (the
 * control socket's `outcome`), the recent deliveries by queue id with Google's message id. Kept
 * in memory since the relay started (a restart forgets it; the spool still has every message
 * waiting).
 */
import type { DeliveryError } from '../errors.js';
import type { MessageMeta } from '../spool/index.js';
import type { Delivered, DeliveryObserver } from './observer.js';

/** A message delivered since the relay started. */
export interface DeliveredMessage extends Delivered {
  id: string;
  workspace: string;
  /** ISO time. */
  at: string;
}

/** What the relay remembers of one message since it started: its delivery, or its last failure's fix. */
export interface RememberedMessage {
  delivered?: DeliveredMessage;
  /** The fix of the message's last failure (the spool keeps its code and message, not the fix). */
  lastFailure?: { code: string; fix: string | null };
}

/** How many recent messages are remembered by queue id (a few hundred bytes each). */
export const RECENT_MESSAGES = 1000;

export interface WorkspaceActivity {
  /** The last message delivered (ISO time, queue id), since start. */
  lastDelivery: { at: string; queueId: string } | null;
  /** The last held failure since start: the code, the relay's reason and what the admin must do. */
  lastHeld: { at: string; code: string; reason: string; fix: string | null } | null;
  /** The last permanent failure since start. */
  lastFailure: { at: string; code: string; queueId: string } | null;
}

export class DeliveryTracker {
  private readonly byWorkspace = new Map<string, WorkspaceActivity>();
  /** The last RECENT_MESSAGES messages delivered or failed, oldest first (a Map keeps insertion order). */
  private readonly recent = new Map<string, RememberedMessage>();

  constructor(private readonly now: () => number = Date.now) {}

  activity(workspace: string): WorkspaceActivity {
    return this.byWorkspace.get(workspace) ?? { lastDelivery: null, lastHeld: null, lastFailure: null };
  }

  delivered(meta: MessageMeta, delivered: Delivered = { providerId: null, partial: false }): void {
    const at = this.iso();
    this.update(meta.workspace, { lastDelivery: { at, queueId: meta.id } });
    this.remember(meta.id, { delivered: { id: meta.id, workspace: meta.workspace, at, ...delivered } });
  }

  /** What is remembered of the message with this queue id (recent ones, since the relay started). */
  remembered(id: string): RememberedMessage | undefined {
    return this.recent.get(id);
  }

  /** A failed attempt: its fix, for `outcome` (the spool has the rest). */
  attemptFailed(meta: MessageMeta, error: DeliveryError): void {
    this.remember(meta.id, { lastFailure: { code: error.code, fix: error.fix ?? null } });
  }

  private remember(id: string, what: RememberedMessage): void {
    this.recent.delete(id); // (to the end: the newest)
    this.recent.set(id, what);
    if (this.recent.size > RECENT_MESSAGES) this.recent.delete(this.recent.keys().next().value!);
  }

  held(meta: MessageMeta, error: DeliveryError): void {
    this.update(meta.workspace, { lastHeld: { at: this.iso(), code: error.code, reason: error.message, fix: error.fix ?? null } });
  }

  failed(meta: MessageMeta, error: DeliveryError): void {
    this.update(meta.workspace, { lastFailure: { at: this.iso(), code: error.code, queueId: meta.id } });
  }

  /** `observer` (the notifier) as it was, with this tracker told first (it never throws). */
  observing(observer: DeliveryObserver): DeliveryObserver {
    return {
      delivered: (meta, delivered) => {
        this.delivered(meta, delivered);
        return observer.delivered?.(meta, delivered);
      },
      deferred: (meta, error) => {
        this.attemptFailed(meta, error);
        return observer.deferred?.(meta, error);
      },
      held: (meta, error) => {
        this.held(meta, error);
        this.attemptFailed(meta, error);
        return observer.held?.(meta, error);
      },
      failed: (meta, error, expired, partial) => {
        this.failed(meta, error);
        if (!partial) this.attemptFailed(meta, error);
        return observer.failed?.(meta, error, expired, partial);
      },
    };
  }

  private update(workspace: string, change: Partial<WorkspaceActivity>): void {
    this.byWorkspace.set(workspace, { ...this.activity(workspace), ...change });
  }

  private iso(): string {
    return new Date(this.now()).toISOString();
  }
}
