/**
 * What crosses between the daemon and its delivery thread (delivery-thread.ts and its entry):
 * plain, structured-clone-safe messages. Errors cross as their fields and are rebuilt on
 * arrival, so the scheduler sees the same DeliveryError (kind, fix, retryAfter, outcomeUnknown)
 * it would have seen in one thread, and a reload the same ConfigError (key path).
 */
import { keptWorkspaces, type Config, type GoodFile } from '../config/index.js';
import { keptTransportFiles } from '../delivery/index.js';
import { ConfigError, DeliveryError, type FailureKind } from '../errors.js';
import type { FailureCode } from '../failures/index.js';
import type { AttemptRun } from './executor.js';

/**
 * The part of the config the thread builds transports from and checks messages against; `kept`:
 * the workspaces of practices kept on their running settings, built from `lastGood` (their files
 * as last read good) where the files were broken in place since.
 */
export type ThreadConfig = Pick<Config, 'workspaces' | 'google'> & { kept: readonly string[]; lastGood: readonly GoodFile[] };

/** What the thread is sent to build `config` (`lastGood`: the kept practices' files as the daemon last read them good). */
export function threadConfigOf(config: Config): ThreadConfig {
  const kept = keptWorkspaces(config);
  return { workspaces: config.workspaces, google: config.google, kept: [...kept], lastGood: keptTransportFiles(config.workspaces, kept) };
}

export interface ThreadData {
  level: string;
  name: string;
  spoolDir: string;
  dedupeRetentionMs: number;
  /** The spool's keys (queue.encryption), first the one that seals: the thread reads and writes the spool with them. */
  keys: Uint8Array[];
}

export type ToThread =
  | { t: 'configure'; gen: number; config: ThreadConfig }
  | { t: 'activate'; gen: number; level: string }
  | { t: 'run'; id: number; queueId: string }
  | { t: 'abort'; id: number; reason: string }
  | { t: 'close'; gen: number }
  | { t: 'stop' };

export type WireRun =
  | { kind: 'not_queued' }
  | { kind: 'claim_failed'; error: WireError }
  | Extract<AttemptRun, { kind: 'sent' }>
  | { kind: 'failed'; meta: Extract<AttemptRun, { kind: 'failed' }>['meta']; error: WireError };

export type FromThread =
  | { t: 'ready'; error?: WireError }
  /** `lastGood`: the kept workspaces' files as the thread last read them good (for a thread started again). */
  | { t: 'configured'; gen: number; error?: WireError; lastGood?: GoodFile[] }
  | { t: 'closed'; gen: number }
  | { t: 'ran'; id: number; run: WireRun }
  | { t: 'stopped' }
  | { t: 'log'; line: string };

export type WireError =
  | {
      type: 'delivery';
      code: FailureCode;
      kind: FailureKind;
      message: string;
      fix?: string | undefined;
      status?: number | undefined;
      retryAfter?: number | undefined;
      outcomeUnknown: boolean;
    }
  | { type: 'config'; path: string; message: string }
  | { type: 'other'; message: string; code?: string | undefined };

export function runToWire(run: AttemptRun): WireRun {
  if (run.kind === 'claim_failed') return { kind: 'claim_failed', error: toWire(run.error) };
  if (run.kind === 'failed') return { kind: 'failed', meta: run.meta, error: toWire(run.error) };
  return run;
}

export function runFromWire(run: WireRun): AttemptRun {
  if (run.kind === 'claim_failed') return { kind: 'claim_failed', error: fromWire(run.error) };
  if (run.kind === 'failed') return { kind: 'failed', meta: run.meta, error: fromWire(run.error) };
  return run;
}

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
