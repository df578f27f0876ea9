/**
 * What crosses between the daemon and its delivery thread (thread.ts, thread-entry.ts): plain,
 * structured-clone-safe messages. Errors cross as their fields and are rebuilt on arrival, so
 * the scheduler sees the same DeliveryError (kind, fix, retryAfter, outcomeUnknown) it would have
 * seen from a transport in its own thread, and a reload the same ConfigError (key path).
 */
import type { Config } from '../config/schema.js';
import { ConfigError, DeliveryError, type FailureKind } from '../errors.js';
import type { DeliveryResult, OutboundMessage } from './types.js';

/** The part of the config the transports are built from. */
export type TransportConfig = Pick<Config, 'workspaces' | 'google'>;

export type ToThread =
  | { t: 'configure'; gen: number; config: TransportConfig }
  | { t: 'deliver'; id: number; gen: number; workspace: string; message: OutboundMessage }
  | { t: 'abort'; id: number; reason: string }
  | { t: 'close'; gen: number };

export type FromThread =
  | { t: 'configured'; gen: number; error?: WireError }
  | { t: 'closed'; gen: number }
  | { t: 'done'; id: number; result: DeliveryResult }
  | { t: 'failed'; id: number; error: WireError }
  | { t: 'log'; line: string };

export type WireError =
  | {
      type: 'delivery';
      code: string;
      kind: FailureKind;
      message: string;
      fix?: string | undefined;
      status?: number | undefined;
      retryAfter?: number | undefined;
      outcomeUnknown: boolean;
    }
  | { type: 'config'; path: string; message: string }
  | { type: 'other'; message: string; code?: string | undefined };

export function toWire(err: unknown): WireError {
  if (err instanceof DeliveryError) {
    return {
      type: 'delivery',
      code: err.code,
      kind: err.kind,
      message: err.message,
      fix: err.fix,
      status: err.status,
      retryAfter: err.retryAfter?.getTime(),
      outcomeUnknown: err.outcomeUnknown,
    };
  }
  if (err instanceof ConfigError) {
    const prefix = `${err.path}: `;
    return { type: 'config', path: err.path, message: err.path && err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message };
  }
  const code = (err as { code?: unknown } | null)?.code;
  return { type: 'other', message: err instanceof Error ? err.message : String(err), code: typeof code === 'string' ? code : undefined };
}

export function fromWire(w: WireError): Error {
  if (w.type === 'delivery') {
    return new DeliveryError(w.code, w.kind, w.message, {
      fix: w.fix,
      status: w.status,
      retryAfter: w.retryAfter === undefined ? undefined : new Date(w.retryAfter),
      outcomeUnknown: w.outcomeUnknown,
    });
  }
  if (w.type === 'config') return new ConfigError(w.path, w.message);
  return Object.assign(new Error(w.message), w.code ? { code: w.code } : {});
}
