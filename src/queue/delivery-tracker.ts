/**
 * What `workspace-relay status` tells about each workspace that the spool cannot: when its last
 * delivery went out, and the last held failure with its fix. Kept in memory since the relay
 * started (a restart forgets it; the spool still has every message waiting).
 */
import type { DeliveryError } from '../errors.js';
import type { MessageMeta } from '../spool/types.js';
import type { DeliveryObserver } from './scheduler.js';

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

  constructor(private readonly now: () => number = Date.now) {}

  activity(workspace: string): WorkspaceActivity {
    return this.byWorkspace.get(workspace) ?? { lastDelivery: null, lastHeld: null, lastFailure: null };
  }

  delivered(meta: MessageMeta): void {
    this.update(meta.workspace, { lastDelivery: { at: this.iso(), queueId: meta.id } });
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
      delivered: (meta) => {
        this.delivered(meta);
        return observer.delivered?.(meta);
      },
      deferred: (meta, error) => observer.deferred?.(meta, error),
      held: (meta, error) => {
        this.held(meta, error);
        return observer.held?.(meta, error);
      },
      failed: (meta, error, expired, partial) => {
        this.failed(meta, error);
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
