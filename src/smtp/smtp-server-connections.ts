/**
 * smtp-server's private connection and server fields, read in one place (listed, with the
 * patches, in smtp-server-internals.ts, whose guard checks they are still there): what a
 * connection's input is doing (for the deadlines), every connection until its socket has closed,
 * the listening socket, and the PROXY step put in smtp-server's place (listen[].proxyProtocol).
 * Imported through smtp-server-internals.ts.
 */
import type { Socket } from 'node:net';
import type { SMTPServer } from 'smtp-server';
import type { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';

/** What a connection's input is doing now, for the deadlines (deadlines.ts). */
export type ConnectionInput =
  /** The client waits for the relay (a handler, the end of DATA, a TLS handshake), or the socket is gone. */
  | { state: 'waiting' }
  /** Between commands: `partial` is a command line begun and not yet complete ('' for none). */
  | { state: 'command'; partial: string }
  /** In DATA: message bytes so far; `behind` when the relay has not taken all it was given (backpressure). */
  | { state: 'data'; bytes: number; behind: boolean };

interface ParserFields {
  _dataMode: boolean;
  _remainder: string;
  dataBytes: number;
  writableLength: number;
}

export function connectionInput(conn: SMTPConnection): ConnectionInput {
  const parser = conn._parser as unknown as ParserFields | false;
  if (!parser || conn._closed || conn._closing || conn._upgrading || conn._handlerPending) return { state: 'waiting' };
  if (parser._dataMode) {
    const stream = conn._dataStream;
    return { state: 'data', bytes: parser.dataBytes, behind: parser.writableLength > 0 || Boolean(stream && stream.writableNeedDrain) };
  }
  if (conn._dataStream) return { state: 'waiting' };
  return { state: 'command', partial: parser._remainder };
}

/**
 * Every connection of a server from accept until its socket has closed (smtp-server forgets a
 * connection as soon as it answers 421 or QUIT, while the socket may linger up to 5 s).
 */
export class ConnectionRegistry {
  private readonly conns = new Set<SMTPConnection>();

  constructor(private readonly server: SMTPServer) {
    const connect = server.connect.bind(server);
    server.connect = (socket, options) => {
      connect(socket, options);
      const conn = [...server.connections].find((c) => c._socket === socket);
      if (conn) this.conns.add(conn);
    };
  }

  /** Connections whose socket is still open (STARTTLS replaces the socket, so ask the connection). */
  get open(): SMTPConnection[] {
    for (const c of this.conns) if (c._closed) this.conns.delete(c);
    return [...this.conns];
  }

  /** Open connections plus sockets still in the implicit TLS handshake. */
  get size(): number {
    return this.open.length + this.server._pendingSockets.size;
  }

  /** Connections smtp-server still serves (not closing). */
  served(): SMTPConnection[] {
    return [...this.server.connections];
  }

  /** Connections smtp-server still serves that owe us input (or are not greeted yet): a 421 interrupts nothing. */
  waitingForClient(): SMTPConnection[] {
    return [...this.server.connections].filter((c) => !c._dataStream && !c._handlerPending && !c._upgrading);
  }

  /** Destroy sockets still in the implicit TLS handshake: they have no session to finish. */
  destroyPending(): void {
    this.server._pendingSockets.forEach((top: Socket) => top.destroy());
  }

  /** Cut every open connection off. */
  destroyOpen(): void {
    for (const conn of this.open) conn._socket.destroy();
  }
}

/** Send one reply line as given (a 421 also closes the connection). */
export function sendReply(conn: SMTPConnection, code: number, message: string): void {
  conn.send(code, message);
}

/** Stop accepting: resolves once the listening socket is closed and every connection is gone. */
export function closePort(server: SMTPServer): Promise<void> {
  return new Promise<void>((resolve) => server.server.close(() => resolve()));
}

/** The listening socket's address. */
export function boundAddress(server: SMTPServer) {
  return server.server.address();
}

/** Change options of a running server (reload): smtp-server reads them at each use. */
export function updateServerOptions(server: SMTPServer, options: object): void {
  Object.assign(server.options, options);
}

/** What a PROXY step gives smtp-server for a connection it accepts (empty: the socket's own address). */
export interface ProxiedSocketOptions {
  remoteAddress?: string;
  remotePort?: number;
}

interface ProxyInternals {
  _expectsProxyHeader(socket: Socket): boolean;
  _handleProxy(socket: Socket, callback: (err: Error | null, socketOptions?: object) => void): void;
}

/**
 * Put our PROXY step in smtp-server's place on this server: while `active()` (asked per accepted
 * connection), `accept` reads the header (or refuses) and resolves the client, or null once it
 * has dropped the socket; otherwise smtp-server's own step runs (which, without useProxy, only
 * names the session).
 */
export function takeOverProxyHeaders(server: SMTPServer, step: { active(): boolean; accept(socket: Socket): Promise<ProxiedSocketOptions | null> }): void {
  const s = server as unknown as ProxyInternals;
  const expects = s._expectsProxyHeader.bind(server);
  const original = s._handleProxy.bind(server);
  s._expectsProxyHeader = (socket) => step.active() || expects(socket);
  s._handleProxy = (socket, callback) => {
    if (!step.active()) return original(socket, callback);
    step.accept(socket).then(
      (client) => (client ? callback(null, client) : callback(new Error('PROXY step dropped the connection'))),
      (err: unknown) => {
        socket.destroy();
        callback(err instanceof Error ? err : new Error(String(err)));
      },
    );
  };
}
