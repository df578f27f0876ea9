/**
 * Network failures: always temporary. What matters is whether the provider may already have
 * the message: a refused or unresolvable connection never carried it; a connection that dropped
 * or timed out after the request started may have (`outcomeUnknown`).
 */
import type { DeliveryError } from '../errors.js';
import type { ClassifyContext } from './context.js';
import { failure } from './failure.js';

/** The connection was never made: nothing was sent. */
const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_FAIL',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENETDOWN',
  'EADDRNOTAVAIL',
  'EDNS',
  'CERT_HAS_EXPIRED',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  // A firewall that inspects HTTPS presents its own certificate: the handshake fails, nothing is sent.
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
]);
/** The connection broke or stalled: the request may have reached the provider. */
const DROP_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'ECONNABORTED',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'ECONNECTION',
  'ESOCKET',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'ERR_STREAM_PREMATURE_CLOSE',
]);
const ABORT_NAMES = new Set(['AbortError', 'TimeoutError', 'ABORT_ERR', 'EABORT']);

interface Facts {
  codes: string[];
  names: string[];
  messages: string[];
  syscalls: string[];
}

/** Codes, names and syscalls along the cause chain (gaxios wraps node-fetch wraps node:net). */
export function errorFacts(err: unknown): Facts {
  const facts: Facts = { codes: [], names: [], messages: [], syscalls: [] };
  const seen = new Set<unknown>();
  let cur: unknown = err;
  while (cur && typeof cur === 'object' && !seen.has(cur) && seen.size < 6) {
    seen.add(cur);
    const e = cur as Record<string, unknown>;
    for (const k of ['code', 'originalCode']) if (typeof e[k] === 'string') facts.codes.push(e[k]);
    if (typeof e.name === 'string') facts.names.push(e.name);
    if (typeof e.message === 'string') facts.messages.push(e.message);
    for (const k of ['syscall', 'erroredSysCall']) if (typeof e[k] === 'string') facts.syscalls.push(e[k]);
    cur = e.cause ?? e.error;
  }
  return facts;
}

/**
 * A DeliveryError for a network failure, or undefined if `err` is not one. `sending`: whether
 * the failed request carried the message (false for the token endpoint).
 */
export function classifyNetwork(err: unknown, ctx: ClassifyContext, sending: boolean): DeliveryError | undefined {
  const f = errorFacts(err);
  const aborted = f.names.some((n) => ABORT_NAMES.has(n)) || f.codes.some((c) => ABORT_NAMES.has(c));
  if (ctx.signal?.aborted && (aborted || f.codes.length === 0)) {
    return failure('delivery.aborted', 'delivery was stopped (shutdown or time limit)', ctx, { outcomeUnknown: sending });
  }
  const connectPhase = f.codes.some((c) => CONNECT_CODES.has(c)) || f.syscalls.includes('connect');
  const code = f.codes.find((c) => CONNECT_CODES.has(c) || DROP_CODES.has(c));
  const facts = { detail: code, outcomeUnknown: sending && !connectPhase };
  if (aborted || code === 'ETIMEDOUT' || code === 'ESOCKETTIMEDOUT') {
    return failure('delivery.timeout', `the request timed out${code ? ` (${code})` : ''}`, ctx, facts);
  }
  const hangUp = f.messages.some((m) => /socket hang up|other side closed|premature close/i.test(m));
  if (!code && !hangUp) return undefined;
  return failure('delivery.network', `network error (${code ?? 'socket hang up'})`, ctx, facts);
}
