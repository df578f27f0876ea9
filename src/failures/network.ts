/**
 * Network failures: always temporary. What matters is whether the provider may already have
 * the message: a refused or unresolvable connection never carried it; a connection that dropped
 * or timed out after the request started may have (`outcomeUnknown`).
 */
import type { DeliveryError } from '../errors.js';
import type { ClassifyContext } from './context.js';
import { failure } from './failure.js';

/** The name does not resolve (DNS). */
const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'EDNS']);
/** No route: the machine's network, or a firewall answering "unreachable". */
const UNREACHABLE_CODES = new Set(['EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN', 'EADDRNOTAVAIL']);
/**
 * The certificate presented is not one this machine trusts, or not valid now (the clock). A
 * firewall or proxy that inspects HTTPS presents its own certificate: the handshake fails.
 */
const TLS_CODES = new Set([
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
]);
/** The connection was never made: nothing was sent. */
const CONNECT_CODES = new Set(['ECONNREFUSED', ...DNS_CODES, ...UNREACHABLE_CODES, ...TLS_CODES]);
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
  /** Where the failed connection went, as the errors say (a name, else an address), with the port. */
  host: string | undefined;
}

/** Codes, names and syscalls along the cause chain (gaxios wraps node-fetch wraps node:net). */
export function errorFacts(err: unknown): Facts {
  const facts: Facts = { codes: [], names: [], messages: [], syscalls: [], host: undefined };
  let target: string | undefined;
  let hostname: string | undefined;
  let address: string | undefined;
  let port: string | undefined;
  const seen = new Set<unknown>();
  let cur: unknown = err;
  while (cur && typeof cur === 'object' && !seen.has(cur) && seen.size < 6) {
    seen.add(cur);
    const e = cur as Record<string, unknown>;
    for (const k of ['code', 'originalCode']) if (typeof e[k] === 'string') facts.codes.push(e[k]);
    if (typeof e.name === 'string') facts.names.push(e.name);
    if (typeof e.message === 'string') facts.messages.push(e.message);
    for (const k of ['syscall', 'erroredSysCall']) if (typeof e[k] === 'string') facts.syscalls.push(e[k]);
    target ??= urlHost(e.config);
    hostname ??= typeof e.hostname === 'string' ? e.hostname : undefined;
    address ??= typeof e.address === 'string' ? e.address : undefined;
    port ??= typeof e.port === 'number' || typeof e.port === 'string' ? String(e.port) : undefined;
    cur = e.cause ?? e.error;
  }
  const name = hostname ?? address;
  facts.host = target ?? (name && port ? `${name.includes(':') ? `[${name}]` : name}:${port}` : name);
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
  // (nodemailer's ESOCKET carries the cause in originalCode: the cause names the fix)
  const code = f.codes.find((c) => CONNECT_CODES.has(c)) ?? f.codes.find((c) => DROP_CODES.has(c));
  const facts = { detail: code, outcomeUnknown: sending && !connectPhase };
  const host = ctx.host ?? f.host;
  const fixFacts = { ...ctx, host };
  const to = host ? ` ${host}` : '';
  if (aborted || code === 'ETIMEDOUT' || code === 'ESOCKETTIMEDOUT') {
    return failure('delivery.timeout', `the request${host ? ` to ${host}` : ''} timed out${code ? ` (${code})` : ''}`, fixFacts, facts);
  }
  if (code && DNS_CODES.has(code)) return failure('delivery.network.dns', `cannot resolve${to ? ` ${host!.replace(/:\d+$/, '')}` : ' the host name'} (${code})`, fixFacts, facts);
  if (code === 'ECONNREFUSED') return failure('delivery.network.refused', `the connection${host ? ` to ${host}` : ''} was refused (${code})`, fixFacts, facts);
  if (code && UNREACHABLE_CODES.has(code)) return failure('delivery.network.unreachable', `no route to${to || ' the host'} (${code})`, fixFacts, facts);
  if (code && TLS_CODES.has(code)) return failure('delivery.network.tls', `TLS${host ? ` with ${host}` : ''} failed: the certificate is not trusted here (${code})`, fixFacts, facts);
  const hangUp = f.messages.some((m) => /socket hang up|other side closed|premature close/i.test(m));
  if (!code && !hangUp) return undefined;
  return failure('delivery.network', `the connection${host ? ` to ${host}` : ''} was lost (${code ?? 'socket hang up'})`, fixFacts, facts);
}

/** host:port of a request's URL (gaxios puts the request in `config`). */
function urlHost(config: unknown): string | undefined {
  const url = (config as { url?: unknown } | undefined)?.url;
  const text = url instanceof URL ? url.href : typeof url === 'string' ? url : undefined;
  if (!text || !URL.canParse(text)) return undefined;
  const u = new URL(text);
  return `${u.hostname}:${u.port || (u.protocol === 'https:' ? '443' : '80')}`; // (an IPv6 hostname keeps its [])
}
