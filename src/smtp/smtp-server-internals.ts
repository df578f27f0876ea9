/**
 * Everything the relay relies on inside smtp-server beyond its documented API, in one file:
 *
 * - two prototype patches on SMTPConnection:
 *   `send`: smtp-server prepends its own guess of an RFC 3463 enhanced code (550 → 5.1.1, …) to
 *   every error text, so a reply could not say "550 5.7.1". Our replies carry their enhanced code
 *   as the text's first word (SmtpReply), so for those, and only those, its guess is switched off
 *   (the `context` argument false).
 *   `init`: smtp-server waits a fixed 100 ms before its 220 (to catch early talkers), which caps a
 *   client that opens a connection per message at about 10 a second. The replacement does the
 *   same steps with the delay taken from the server option `greetingDelay` (listen[].greetingDelay;
 *   with 0 the greeting is written as the connection is set up, so no client can talk early).
 * - `server.connect` wrapped per server, to know every connection until its socket has closed
 *   (smtp-server forgets one as soon as it answers 421 or QUIT, while its socket may linger 5 s);
 * - private fields read: SMTPConnection `_socket`, `_closed`, `_dataStream`, `_handlerPending`,
 *   `_upgrading`; SMTPServer `_pendingSockets`; and `server.server` (the net.Server);
 * - `server.options` changed on reload (smtp-server reads them at each use).
 *
 * The guard (installSmtpServerInternals, run by every startListener) checks that the installed
 * smtp-server's code still has each piece this relies on, and refuses to start, naming what
 * changed, when it does not: an upgrade is noticed at start, never as wrong replies or a hung
 * shutdown. We chose this over patch-package: no install-time step, and the check is explicit.
 */
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import { RelayError } from '../errors.js';

type Method = ((...args: unknown[]) => unknown) & { [ORIGINAL_OF]?: Method };
/** On a patched method: the original it replaced (a symbol of the registry, so a second copy of
 * this module, e.g. in a test runner, still finds the original and does not patch twice). */
const ORIGINAL_OF = Symbol.for('workspace-relay.smtp-server.original');
const connectionProto = SMTPConnection.prototype as unknown as Record<'send' | 'init' | '_getEnhancedStatusCode', Method>;
const ORIGINAL = { send: connectionProto.send[ORIGINAL_OF] ?? connectionProto.send, init: connectionProto.init[ORIGINAL_OF] ?? connectionProto.init };

/** The smtp-server code the guard reads, by name. */
export type SmtpServerSources = Record<string, string>;

export function readSmtpServerSources(): SmtpServerSources {
  return {
    SMTPConnection: String(SMTPConnection),
    'SMTPConnection.send': String(ORIGINAL.send),
    'SMTPConnection.init': String(ORIGINAL.init),
    'SMTPConnection._getEnhancedStatusCode': String(connectionProto._getEnhancedStatusCode),
    SMTPServer: String(SMTPServer),
    'SMTPServer.connect': String((SMTPServer.prototype as unknown as Record<'connect', Method>).connect),
  };
}

/** The statements of the original init that the greetingDelay replacement reproduces. */
const INIT_STEPS = [
  'this._setListeners(',
  'this._server.options.maxClients && this._server.connections.size > this._server.options.maxClients',
  "this.send(421, this.name + ' Too many connected clients, try again in a moment', false)",
  'setTimeout(() => this.connectionReady(), 100)',
];

/** What each piece relies on: code that must still be in smtp-server, and what uses it. */
export const REQUIREMENTS: readonly { source: string; use: string; needs: readonly string[] }[] = [
  { source: 'SMTPConnection.send', use: 'our own enhanced status codes', needs: ['send(code, data, context)', 'this._getEnhancedStatusCode(code, context)'] },
  { source: 'SMTPConnection._getEnhancedStatusCode', use: 'our own enhanced status codes', needs: ['context === false'] },
  { source: 'SMTPConnection.init', use: 'listen[].greetingDelay', needs: INIT_STEPS },
  { source: 'SMTPConnection', use: 'listen[].greetingDelay', needs: ['_setListeners(callback)', 'connectionReady(next)'] },
  {
    source: 'SMTPConnection',
    use: 'shutdown (which connections wait for the client)',
    needs: ['this._socket = socket', 'this._closed = true', 'this._dataStream = false', 'this._handlerPending = true', 'this._upgrading = true'],
  },
  { source: 'SMTPConnection', use: 'reload (limits read at each use)', needs: ['this._server.options.size', 'socketTimeout(this._server.options)'] },
  { source: 'SMTPServer.connect', use: 'shutdown (every connection until its socket closes)', needs: ['new SMTPConnection(this, socket', 'this.connections.add(connection)'] },
  { source: 'SMTPServer', use: 'shutdown (handshakes in progress, the listening socket)', needs: ['this._pendingSockets = new Map()', 'this.server = net.createServer('] },
];

/** Each requirement the given sources no longer meet, as "source: missing `code` (used for …)". */
export function checkSmtpServerSources(sources: SmtpServerSources): string[] {
  const problems: string[] = [];
  for (const r of REQUIREMENTS) {
    const code = sources[r.source] ?? '';
    for (const s of r.needs) if (!code.includes(s)) problems.push(`${r.source}: missing \`${s}\` (used for ${r.use})`);
  }
  return problems;
}

export function smtpServerVersion(): string {
  return (createRequire(import.meta.url)('smtp-server/package.json') as { version: string }).version;
}

/** Throws (code smtp.internals_changed) when smtp-server's code is not what this relay relies on. */
export function assertSmtpServerInternals(sources: SmtpServerSources = readSmtpServerSources()): void {
  const problems = checkSmtpServerSources(sources);
  if (problems.length === 0) return;
  throw new RelayError(
    'smtp.internals_changed',
    `smtp-server ${smtpServerVersion()} has changed code this relay patches or reads (src/smtp/smtp-server-internals.ts): ${problems.join('; ')}. ` +
      'Install the smtp-server version in package-lock.json (npm ci), or adapt that file and its tests to the new version.',
  );
}

const ENHANCED = /^[245]\.\d{1,3}\.\d{1,3} /;

interface Connection {
  _server: { options: { maxClients?: number; greetingDelay?: number }; connections: Set<unknown> };
  name: string;
  _setListeners(callback: () => void): void;
  send(code: number, data?: unknown, context?: unknown): void;
  connectionReady(): void;
}

/** Run the guard, then install both patches (once). Called by startListener. */
export function installSmtpServerInternals(sources?: SmtpServerSources): void {
  assertSmtpServerInternals(sources);
  if (smtpServerInternalsInstalled()) return;
  const send = ORIGINAL.send;
  const sendPatch: Method = function (this: unknown, code: unknown, data?: unknown, context?: unknown) {
    return send.call(this, code, data, typeof data === 'string' && ENHANCED.test(data) ? false : context);
  };
  const initPatch: Method = function (this: Connection) {
    this._setListeners(() => {
      const options = this._server.options;
      if (options.maxClients && this._server.connections.size > options.maxClients) {
        return this.send(421, `${this.name} Too many connected clients, try again in a moment`, false);
      }
      const delay = options.greetingDelay ?? 100;
      if (delay <= 0) return this.connectionReady();
      setTimeout(() => this.connectionReady(), delay).unref();
    });
  };
  sendPatch[ORIGINAL_OF] = ORIGINAL.send;
  initPatch[ORIGINAL_OF] = ORIGINAL.init;
  connectionProto.send = sendPatch;
  connectionProto.init = initPatch;
}

/** True once both patches are in effect. */
export function smtpServerInternalsInstalled(): boolean {
  return connectionProto.send[ORIGINAL_OF] !== undefined && connectionProto.init[ORIGINAL_OF] !== undefined;
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
