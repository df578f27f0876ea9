/** The listener's public face and what it needs (see listener.ts). */
import type { DeviceRate, LoginThrottle } from '../auth/index.js';
import type { Clock } from '../clock.js';
import type { Config, DeviceConfig, ListenerConfig, SecretReadOptions, WorkspaceConfig } from '../config/index.js';
import type { SendAsVerifier } from '../google/index.js';
import type { RelayEvents } from '../events.js';
import type { RecipientDirectory } from '../google/index.js';
import type { Logger } from '../log.js';
import type { NamedReply } from '../replies/index.js';
import type { Spool, MessageMeta } from '../spool/index.js';

export interface ListenerDeps {
  listener: ListenerConfig;
  /** The current config (a function: SIGHUP may swap it). Devices, workspaces and limits are read per use. */
  config: () => Config;
  spool: Spool;
  logger: Logger;
  /** Called after a message is committed to the spool (the scheduler picks it up). */
  onAccepted: (meta: MessageMeta) => void;
  /**
   * Backpressure, asked at every MAIL FROM: a reply (e.g. spoolDiskFull, 452 4.3.1) refuses the
   * transaction; null lets it go on.
   */
  admission?: () => NamedReply | null;
  /**
   * A practice's own limits, asked once MAIL FROM's workspace is known (workspaces[].limits:
   * practiceQueueFull 452 4.3.1, practiceRate 450 4.7.1); null lets it go on.
   */
  practiceAdmission?: (workspace: WorkspaceConfig) => NamedReply | null;
  /** Failed logins per client address; share one between listeners. Default: one per listener. */
  loginThrottle?: LoginThrottle;
  /** Messages per device per hour; share one between listeners. Default: one per listener. */
  deviceRate?: DeviceRate;
  /**
   * Bytes the workspace's transport will send of a message (its header changes included), from
   * the header section DATA kept and the metadata (src/delivery/send-size.ts): DATA refuses a
   * message above the transport's limit (config/send-limits.ts). Unset: not checked.
   */
  sendSize?: (workspace: WorkspaceConfig, header: Buffer, meta: MessageMeta) => number;
  /** The send-as verifier of a gmail-api workspace (for listeners with verifySendAs). */
  sendAs?: (workspace: string) => SendAsVerifier | undefined;
  /**
   * Greet clients only once this resolves (start-up: bound first, greeting once the spool is
   * recovered and the scheduler runs); a client that connected meanwhile waits for its greeting,
   * and gets 421 4.3.2 if it rejects (the start failed). Default: greet at once.
   */
  ready?: Promise<unknown>;
  /** Told of each acceptance and refusal (metrics, trace). Default: no one. */
  events?: RelayEvents;
  /** The recipient directory of a workspace with recipientCheck: directory (asked at RCPT). */
  recipients?: (workspace: string) => RecipientDirectory | undefined;
  /** Names the listener in errors about its config, e.g. "listen[0]". */
  label?: string;
  /** receivedAt, the Date header added, queue ids (default: the system clock). */
  clock?: Clock;
  newId?: () => string;
}

export interface Listener {
  /** listen[].name, or host:port. */
  readonly name: string;
  readonly address: { host: string; port: number };
  /** Sessions admitted and not yet closed. */
  readonly sessions: number;
  /**
   * Apply a changed listen[] entry without rebinding: certificate and key (read again), minimum
   * TLS version, allow, auth, workspace, senders, allowBareLineEndings, connection limits,
   * greetingDelay; and limits.maxMessageSize / idleTimeout from config(). Throws a ConfigError
   * (and keeps the old settings) when the new entry is invalid or host, port or tls.mode changed
   * (see needsRestart: close this listener and start a new one). `files.lastGood`: the listener
   * of a practice kept on its running settings, whose certificate and key are kept as last read
   * good if the files no longer hold a usable pair.
   */
  reload(listener: ListenerConfig, files?: SecretReadOptions): void;
  /**
   * Stop accepting, answer waiting connections 421 4.3.2, let DATA in progress finish; resolves
   * when every session is gone, or after graceMs (default queue.shutdownTimeout) with the rest
   * destroyed. Idempotent.
   */
  close(options?: { graceMs?: number }): Promise<void>;
}

export interface Transaction {
  workspace: WorkspaceConfig;
  sender: string;
  mailFrom: string;
  /** The device account that logged in, when one did. */
  device: DeviceConfig | null;
  /** Envelope recipients as checked at RCPT (normalized): what the message is delivered to. */
  recipients: string[];
}

export interface SessionState {
  log: Logger;
  client: string;
  /** Counted against the connection limits (released at close). */
  admitted: boolean;
  tx: Transaction | null;
}
