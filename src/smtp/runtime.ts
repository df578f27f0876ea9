/** What the SMTP stage handlers share within one listener (built by listener.ts). */
import type { SMTPServerSession } from 'smtp-server';
import type { DeviceRate, LoginThrottle } from '../auth/index.js';
import type { Clock } from '../clock.js';
import type { Config, DeviceConfig, ListenerConfig } from '../config/index.js';
import type { SmtpReply } from '../errors.js';
import type { RelayEvents } from '../events.js';
import type { NamedReply } from '../replies/index.js';
import type { ListenerDeps, SessionState } from './types.js';

/**
 * What a refusal is about, beside the reply: logged with message.rejected and reported to the
 * events. `workspace` defaults to the transaction's, the listener's or the device's.
 */
export interface RefuseExtra {
  workspace?: string | undefined;
  queueId?: string;
  mailFrom?: string;
  /** The refused recipient (RCPT). */
  rcpt?: string;
  /** Every recipient of the transaction (DATA). */
  recipients?: readonly string[];
  device?: string;
  [key: string]: unknown;
}

export interface Runtime {
  readonly deps: ListenerDeps;
  /** listen[].name, or host:port: the `listener` label of the metrics. */
  readonly name: string;
  readonly events: RelayEvents;
  /** The current listen[] entry (reload swaps it). */
  listener(): ListenerConfig;
  config(): Config;
  closing(): boolean;
  state(session: SMTPServerSession): SessionState;
  /** Render the refusal, log it (message.rejected), report it and return the reply to send. */
  refuse(session: SMTPServerSession, stage: 'mail' | 'rcpt' | 'data', reply: NamedReply, extra?: RefuseExtra): SmtpReply;
  readonly throttle: LoginThrottle;
  readonly deviceRate: DeviceRate;
  readonly clock: Clock;
  newId(): string;
}

/** The device account this session logged in as (null if none, or if a reload removed it). */
export function deviceOf(rt: Runtime, session: SMTPServerSession): DeviceConfig | null {
  const user: unknown = session.user;
  if (typeof user !== 'string' || user === '') return null;
  return rt.config().devices.find((d) => d.username === user) ?? null;
}
