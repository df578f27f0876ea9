/**
 * listen[].proxyProtocol on a running listener: decides, per accepted connection, whether it
 * must open with a PROXY header (from a `trusted` balancer) or be refused (anyone else), reads the
 * header (proxy-reader.ts) and logs a dropped connection under a stable event. The result is the
 * client address smtp-server's session takes as its own (session.remoteAddress).
 */
import type { Socket } from 'node:net';
import type { Clock } from '../clock.js';
import type { Config, ListenerConfig } from '../config/index.js';
import type { Logger } from '../log.js';
import { smtpReply } from '../replies/index.js';
import { clientFilter, type ClientFilter } from './client-networks.js';
import { readProxyHeader } from './proxy-reader.js';

const REPLY_LINGER_MS = 1000;

export interface ProxyStepDeps {
  listener: () => ListenerConfig;
  config: () => Config;
  clock: Clock;
  logger: Logger;
  /** The listener's name in logs. */
  name: string;
}

/** The client as the session will see it (undefined: the connection's own address). */
export interface ProxiedClient {
  remoteAddress?: string;
  remotePort?: number;
}

export interface ProxyStep {
  /** Whether connections must go through the PROXY step now (reload may turn it on or off). */
  active(): boolean;
  /** Read the header, or refuse; null when the connection was dropped (and logged). */
  accept(socket: Socket): Promise<ProxiedClient | null>;
}

export function proxyStep(deps: ProxyStepDeps): ProxyStep {
  let filterFor: ListenerConfig['proxyProtocol'] | undefined;
  let trusted: ClientFilter = () => false;
  const trustedNow = (): ClientFilter => {
    const p = deps.listener().proxyProtocol;
    if (p !== filterFor) {
      filterFor = p;
      trusted = clientFilter(p?.trusted ?? []);
    }
    return trusted;
  };

  const drop = (socket: Socket, event: string, reason: string, reply: { responseCode: number; message: string } | null) => {
    deps.logger.warn({ event, listener: deps.name, peer: socket.remoteAddress ?? null, reason }, 'connection dropped before the SMTP session');
    socket.on('error', () => undefined);
    if (!reply || !socket.writable) return void socket.destroy();
    socket.end(`${reply.responseCode} ${reply.message}\r\n`);
    // a peer that keeps its side open is cut off once the reply has had time to leave (a socket
    // matter, on Node's timer like smtp-server's own socket timeouts, not the relay's Clock)
    setTimeout(() => socket.destroy(), REPLY_LINGER_MS).unref();
  };

  return {
    active: () => deps.listener().proxyProtocol !== undefined,
    async accept(socket) {
      const peer = socket.remoteAddress ?? '';
      if (!trustedNow()(peer)) {
        drop(socket, 'proxy.untrusted_peer', 'not in proxyProtocol.trusted', smtpReply('proxyOnly'));
        return null;
      }
      const limits = deps.config().limits;
      const outcome = await readProxyHeader(socket, { clock: deps.clock, timeoutMs: limits.commandTimeout || limits.idleTimeout });
      if (!outcome.ok) {
        // a reply reaches the client through a balancer that lacks send-proxy; a broken header is not answered
        drop(socket, outcome.event, outcome.reason, outcome.event === 'proxy.header_invalid' ? null : smtpReply('proxyHeaderMissing'));
        return null;
      }
      if (outcome.address === null) {
        deps.logger.debug({ event: 'proxy.local', listener: deps.name, peer, version: outcome.version }, "the balancer's own connection");
        return {};
      }
      deps.logger.debug({ event: 'proxy.client', listener: deps.name, peer, client: outcome.address, version: outcome.version }, 'client address from the PROXY header');
      return { remoteAddress: outcome.address, remotePort: outcome.port ?? 0 };
    },
  };
}
