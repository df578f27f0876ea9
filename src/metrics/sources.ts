/** What the gauges read at scrape time, all from memory (src/app.ts supplies them). */

/** A message the scheduler holds: waiting (queue) or being delivered (active). */
export interface QueuedMessage {
  workspace: string;
  /** When it entered the queue (ms). */
  since: number;
  /** Its last failure's code when that failure held it, else null. */
  held: string | null;
}

export interface MetricsSources {
  /** The configured workspaces (each gets its zero, so an alert sees a series before trouble). */
  workspaces(): readonly string[];
  queued(): Iterable<{ entry: QueuedMessage; state: 'queue' | 'active' }>;
  /** Messages per workspace in hold/ or dead/ (src/metrics/spool-census.ts). */
  stored(state: 'hold' | 'dead'): ReadonlyMap<string, number>;
  /** Sending users whose mail waits now, and why. */
  pausedUsers(now: number): Iterable<{ user: string; reason: string }>;
  /** Sending users whose pace is below the full rate after Google asked them to slow down. */
  slowedUsers(): Iterable<string>;
  /** The workspace a sending user's address belongs to. */
  workspaceOf(address: string): string | undefined;
  /** SMTP sessions open per listener. */
  listeners(): Iterable<{ name: string; sessions: number }>;
  /** The practice files (include:) and their state: running, disabled (problem), or kept at the last reload (refused). */
  practices(): Iterable<{ file: string; workspaces: readonly string[]; disabled: boolean; reloadRefused: boolean }>;
  /** /healthz and /readyz, as gauges (cached checks: see src/ops/health.ts). */
  health(): Promise<{ healthy: boolean; ready: boolean }>;
}
