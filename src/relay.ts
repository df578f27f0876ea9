/** The running relay's face (src/app.ts builds it): what the CLI, the tests and the benchmarks hold. */
import type { Clock } from './clock.js';
import type { Config, WorkspaceConfig } from './config/index.js';
import type { ReloadResult } from './control/index.js';
import type { Transport } from './delivery/index.js';
import type { RecipientCheckStats } from './google/index.js';
import type { Logger } from './log.js';
import type { OpsListener } from './observability.js';
import type { DeliveryThread, Scheduler } from './queue/index.js';
import type { Listener } from './smtp/index.js';
import type { Spool, SpoolFs } from './spool/index.js';

export interface RelayOptions {
  config: Config;
  logger: Logger;
  /** Time and timers of every part (tests drive a TestClock); default: the system clock. */
  clock?: Clock;
  /** Replace the spool's file-system calls (tests inject ENOSPC); default: the real ones. */
  spoolFs?: Partial<SpoolFs>;
  /** Free bytes under the spool (tests); default: statfs. */
  freeBytes?: (dir: string) => Promise<number>;
  /** Replace the transport of a workspace (benchmarks); default: built from config. */
  transportFactory?: (workspace: WorkspaceConfig, index: number) => Transport;
  /** The config file it was loaded from, for `status`. */
  configPath?: string;
  /** Reload the config as SIGHUP does, for `workspace-relay reload` (src/cli/serve.ts supplies it). */
  reloadRequest?: () => Promise<ReloadResult>;
}

export interface Relay {
  readonly listeners: readonly Listener[];
  readonly spool: Spool;
  readonly scheduler: Scheduler;
  /** The delivery thread, when attempts run in one (queue.deliveryThread). */
  readonly deliveryThread: DeliveryThread | null;
  /** The operations listener (/metrics, /healthz, /readyz); null with `http: null`. */
  readonly http: OpsListener | null;
  config(): Config;
  /**
   * Apply a new config (SIGHUP): policy, listeners and credentials, with no message lost. Throws
   * (and keeps the old config) when the new one cannot be applied.
   */
  reload(next: Config): Promise<void>;
  /** Close listeners, abort deliveries (they stay queued), close transports. */
  stop(): Promise<void>;
  /** recipientCheck: directory counters per workspace (since the last reload). */
  recipientCheckStats(): Map<string, RecipientCheckStats>;
}
