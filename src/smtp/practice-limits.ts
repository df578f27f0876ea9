/**
 * workspaces[].limits, asked at MAIL FROM once the workspace is known: `queued` (its messages
 * waiting or being delivered: 452 4.3.1) and `acceptedPerHour` (a sliding hour, in memory:
 * 450 4.7.1). Only that practice is answered so; the others go on. The relay-wide backpressure
 * (queue.maxQueued, queue.minFreeSpace) is src/queue/backpressure.ts.
 */
import { DeviceRate } from '../auth/index.js';
import type { Clock } from '../clock.js';
import type { WorkspaceConfig } from '../config/index.js';
import { namedReply, type NamedReply } from '../replies/index.js';

export class PracticeLimits {
  /** (The device accounts' sliding hour, counted per workspace name.) */
  private readonly accepted: DeviceRate;

  constructor(private readonly deps: { clock: Clock; queuedOf: (workspace: string) => number }) {
    this.accepted = new DeviceRate({ clock: deps.clock });
  }

  /** The reply refusing a new message of `w` now, or null. */
  check(w: WorkspaceConfig): NamedReply | null {
    const { queued, acceptedPerHour } = w.limits;
    if (queued !== undefined && this.deps.queuedOf(w.name) >= queued) return namedReply('practiceQueueFull', { workspace: w.name });
    if (!this.accepted.allows(w.name, acceptedPerHour)) return namedReply('practiceRate', { workspace: w.name, max: acceptedPerHour! });
    return null;
  }

  /** A message of `w` was accepted (counted only when the workspace has an hourly limit). */
  record(w: WorkspaceConfig | undefined): void {
    if (w?.limits.acceptedPerHour !== undefined) this.accepted.record(w.name);
  }
}
