/**
 * listen[].proxyProtocol at accept: a connection from a trusted balancer must open with a PROXY
 * header (v1 or v2, proxy-header.ts), whose client address the session then uses (allow lists,
 * connection limits, the login throttle, logs, the spool's client); any other peer is refused,
 * header or not (a listener with proxyProtocol serves only its balancers).
 *
 * The header is read byte-bounded (MAX_HEADER_BYTES) and time-bounded (limits.commandTimeout, or
 * limits.idleTimeout when that is 0) on the relay's Clock; nothing after it is consumed, so the
 * session (or an implicit TLS listener's handshake) starts on the next byte.
 */
import type { Socket } from 'node:net';
import type { Clock } from '../clock.js';
import { MAX_HEADER_BYTES, parseProxyHeader } from './proxy-header.js';

export type ProxyOutcome =
  /** `address` null: the balancer's own connection (LOCAL / UNKNOWN, e.g. a health check). */
  | { ok: true; version: 1 | 2; address: string | null; port: number | null }
  | { ok: false; event: ProxyFailure; reason: string };

/** Stable log events of a connection the PROXY step drops. */
export type ProxyFailure = 'proxy.untrusted_peer' | 'proxy.header_invalid' | 'proxy.header_timeout' | 'proxy.header_missing';

export interface ProxyReadOptions {
  clock: Clock;
  timeoutMs: number;
}

/** Read the header from a trusted balancer's connection; leaves every byte after it unread. */
export function readProxyHeader(socket: Socket, options: ProxyReadOptions): Promise<ProxyOutcome> {
  return new Promise((resolve) => {
    let got = Buffer.alloc(0);
    let settled = false;
    const finish = (outcome: ProxyOutcome) => {
      if (settled) return;
      settled = true;
      timer.cancel();
      socket.off('readable', onReadable);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', onError);
      resolve(outcome);
    };
    const onReadable = () => {
      let chunk: Buffer | null;
      while (!settled && (chunk = socket.read() as Buffer | null) !== null) {
        got = Buffer.concat([got, chunk]);
        const header = parseProxyHeader(got.subarray(0, MAX_HEADER_BYTES));
        if (header.kind === 'incomplete') continue;
        if (header.kind === 'invalid') return finish({ ok: false, event: 'proxy.header_invalid', reason: header.reason });
        const rest = got.subarray(header.length);
        if (rest.length > 0) socket.unshift(rest);
        if (header.kind === 'local') return finish({ ok: true, version: header.version, address: null, port: null });
        return finish({ ok: true, version: header.version, address: header.address, port: header.port });
      }
    };
    const onEnd = () => finish({ ok: false, event: 'proxy.header_missing', reason: got.length ? 'closed inside the PROXY header' : 'closed before sending a PROXY header' });
    const onError = () => onEnd();
    const timer = options.clock.setTimeout(
      () => finish({ ok: false, event: got.length ? 'proxy.header_timeout' : 'proxy.header_missing', reason: `no complete PROXY header within ${options.timeoutMs} ms` }),
      options.timeoutMs,
    );
    timer.unref();
    socket.on('readable', onReadable);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
    socket.on('error', onError);
  });
}
