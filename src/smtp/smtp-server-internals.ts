/**
 * Everything the relay relies on inside smtp-server beyond its documented API, in one file:
 *
 * - two prototype patches on SMTPConnection (and a wrapper, below):
 *   `send`: smtp-server prepends its own guess of an RFC 3463 enhanced code (550 → 5.1.1, …) to
 *   every error text, so a reply could not say "550 5.7.1". Our replies carry their enhanced code
 *   as the text's first word (SmtpReply), so for those, and only those, its guess is switched off
 *   (the `context` argument false).
 *   `init`: smtp-server waits a fixed 100 ms before its 220 (to catch early talkers), which caps a
 *   client that opens a connection per message at about 10 a second. The replacement does the
 *   same steps with the delay taken from the server option `greetingDelay` (listen[].greetingDelay;
 *   with 0 the greeting is written as the connection is set up, so no client can talk early).
 * - a wrapper of SMTPConnection `_parseAddressCommand` (MAIL FROM / RCPT TO): it keeps the
 *   address as the client wrote it (smtp-server strips a source route and turns an A-label or a
 *   full-width dot into Unicode, so policy could not check what the client sent), and lets an
 *   unqualified MAIL FROM:<scanner2> through, which smtp-server answers 501 though many scanners
 *   send it (the relay then maps it with senders.map or refuses it with a clear 550);
 * - `server.connect` wrapped per server, to know every connection until its socket has closed
 *   (smtp-server forgets one as soon as it answers 421 or QUIT, while its socket may linger 5 s);
 * - private fields read: SMTPConnection `_socket`, `_closed`, `_dataStream`, `_handlerPending`,
 *   `_upgrading`, `_parser`; SMTPStream (the command parser) `_remainder` (a command line not yet
 *   complete), `_dataMode`, `dataBytes` (for limits.commandTimeout and limits.minDataRate);
 *   SMTPServer `_pendingSockets`; and `server.server` (the net.Server);
 * - `server.options` changed on reload (smtp-server reads them at each use);
 * - SMTPServer `_expectsProxyHeader` and `_handleProxy` replaced per server (takeOverProxyHeaders):
 *   smtp-server reads only PROXY v1, and trusts a list of single addresses; our step
 *   (proxy-protocol.ts) reads v1 and v2, trusts networks, and refuses other peers. It runs where
 *   smtp-server's own does: after accept, under its pre-session guard (`_pendingSockets`, so a
 *   shutdown destroys a socket still in the header), and before an implicit TLS handshake; the
 *   client address goes to SMTPConnection as `socketOptions.remoteAddress` / `remotePort`.
 *
 * The reads of connection and server fields (`server.connect` to the end but the PROXY step's
 * requirements) are in smtp-server-connections.ts, re-exported here, so this file stays the one
 * door to them.
 *
 * The guard (installSmtpServerInternals, run by every startListener) checks that the installed
 * smtp-server's code still has each piece this relies on, and refuses to start, naming what
 * changed, when it does not: an upgrade is noticed at start, never as wrong replies or a hung
 * shutdown. We chose this over patch-package: no install-time step, and the check is explicit.
 */
import { createRequire } from 'node:module';
import { SMTPServer, type SMTPServerAddress } from 'smtp-server';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import { SMTPStream } from 'smtp-server/lib/smtp-stream.js';
import { RelayError } from '../errors.js';

export {
  ConnectionRegistry,
  boundAddress,
  closePort,
  connectionInput,
  sendReply,
  takeOverProxyHeaders,
  updateServerOptions,
  type ConnectionInput,
  type ProxiedSocketOptions,
} from './smtp-server-connections.js';

type Method = ((...args: unknown[]) => unknown) & { [ORIGINAL_OF]?: Method };
/** On a patched method: the original it replaced (a symbol of the registry, so a second copy of
 * this module, e.g. in a test runner, still finds the original and does not patch twice). */
const ORIGINAL_OF = Symbol.for('workspace-relay.smtp-server.original');
type Patched = 'send' | 'init' | '_parseAddressCommand';
const connectionProto = SMTPConnection.prototype as unknown as Record<Patched | '_getEnhancedStatusCode', Method>;
const originalOf = (name: Patched): Method => connectionProto[name][ORIGINAL_OF] ?? connectionProto[name];
const ORIGINAL = { send: originalOf('send'), init: originalOf('init'), _parseAddressCommand: originalOf('_parseAddressCommand') };

/** The smtp-server code the guard reads, by name. */
export type SmtpServerSources = Record<string, string>;

export function readSmtpServerSources(): SmtpServerSources {
  return {
    SMTPConnection: String(SMTPConnection),
    'SMTPConnection.send': String(ORIGINAL.send),
    'SMTPConnection.init': String(ORIGINAL.init),
    'SMTPConnection._getEnhancedStatusCode': String(connectionProto._getEnhancedStatusCode),
    'SMTPConnection._parseAddressCommand': String(ORIGINAL._parseAddressCommand),
    SMTPStream: String(SMTPStream),
    SMTPServer: String(SMTPServer),
    'SMTPServer.connect': String((SMTPServer.prototype as unknown as Record<'connect', Method>).connect),
    'SMTPServer._acceptSocket': String((SMTPServer.prototype as unknown as Record<'_acceptSocket', Method>)._acceptSocket),
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
  {
    source: 'SMTPConnection._parseAddressCommand',
    use: 'addresses as written, unqualified MAIL FROM',
    needs: ['_parseAddressCommand(rawName, rawCommand)', "let parts = command.split(':');", "parts = parts.join(':').trim().split(/\\s+/);", 'if (!/^<[^<>]*>$/.test(address))', "let addressParts = address.split('@');"],
  },
  {
    source: 'SMTPConnection',
    use: 'addresses as written, unqualified MAIL FROM',
    needs: ["this._parseAddressCommand('mail from', command)", "this._parseAddressCommand('rcpt to', command)", 'this._server.onMailFrom(parsed, this.session', 'this._server.onRcptTo(parsed, this.session'],
  },
  {
    source: 'SMTPStream',
    use: 'limits.commandTimeout and limits.minDataRate',
    needs: ["this._remainder = pos < data.length ? data.slice(pos) : '';", 'this._dataMode = true;', 'this._dataMode = false;', 'this.dataBytes += len;'],
  },
  { source: 'SMTPConnection', use: 'limits.commandTimeout and limits.minDataRate', needs: ['this._parser = this._createParser();', 'this._parser = false;', 'this._dataStream = parser.startDataMode('] },
  { source: 'SMTPServer.connect', use: 'shutdown (every connection until its socket closes)', needs: ['new SMTPConnection(this, socket', 'this.connections.add(connection)'] },
  { source: 'SMTPServer', use: 'shutdown (handshakes in progress, the listening socket)', needs: ['this._pendingSockets = new Map()', 'this.server = net.createServer('] },
  {
    source: 'SMTPServer',
    use: 'listen[].proxyProtocol (the PROXY step before the session and before implicit TLS)',
    needs: ['let release = this._acceptSocket(socket, handshake);', 'this._handleProxy(socket, (err, socketOptions) => {', 'this.connect(socket, socketOptions);', 'this._upgrade(socket, (err, tlsSocket) => {', 'this.connect(tlsSocket, socketOptions);'],
  },
  { source: 'SMTPServer._acceptSocket', use: 'listen[].proxyProtocol (guarded until the session starts)', needs: ['!this._expectsProxyHeader(socket)', 'this._pendingSockets.set(socket, socket);'] },
  {
    source: 'SMTPConnection',
    use: 'listen[].proxyProtocol (the client address carried)',
    needs: ['options.id ||', 'this.remoteAddress = normalizeAddress(options.remoteAddress || this._socket.remoteAddress);', 'this.remotePort = Number(options.remotePort || this._socket.remotePort) || 0;'],
  },
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

/** Run the guard, then install the patches (once). Called by startListener. */
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
  const parse = ORIGINAL._parseAddressCommand;
  const parsePatch: Method = function (this: unknown, rawName: unknown, rawCommand: unknown) {
    const written = writtenAddress(rawCommand);
    let parsed = parse.call(this, rawName, rawCommand) as (SMTPServerAddress & Written) | false;
    const mailFrom = text(rawName).trim().toUpperCase() === 'MAIL FROM';
    if (!parsed && mailFrom && written !== null && UNQUALIFIED.test(written)) {
      // smtp-server's own parse of the same command with a placeholder domain (its parameter
      // checks stay its own), then the address as written
      const command = text(rawCommand).replace(`<${written}>`, `<${written}@${PLACEHOLDER_DOMAIN}>`);
      parsed = parse.call(this, rawName, command) as (SMTPServerAddress & Written) | false;
      if (parsed) parsed.address = written;
    }
    if (parsed && written !== null) Object.defineProperty(parsed, WRITTEN, { value: written, enumerable: false });
    return parsed;
  };
  sendPatch[ORIGINAL_OF] = ORIGINAL.send;
  initPatch[ORIGINAL_OF] = ORIGINAL.init;
  parsePatch[ORIGINAL_OF] = ORIGINAL._parseAddressCommand;
  connectionProto.send = sendPatch;
  connectionProto.init = initPatch;
  connectionProto._parseAddressCommand = parsePatch;
}

/** True once the patches are in effect. */
export function smtpServerInternalsInstalled(): boolean {
  return (['send', 'init', '_parseAddressCommand'] as const).every((name) => connectionProto[name][ORIGINAL_OF] !== undefined);
}

const WRITTEN = Symbol.for('workspace-relay.smtp-server.written-address');
type Written = { [WRITTEN]?: string };
const PLACEHOLDER_DOMAIN = 'unqualified.invalid';
/** An unqualified sender as scanners send it: dot-atom text without @ (RFC 5321 allows none, many devices do it). */
const UNQUALIFIED = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}$/;

/** A command line (a Buffer) or name as smtp-server reads it: `(x || '').toString()`. */
const text = (x: unknown): string => (Buffer.isBuffer(x) || typeof x === 'string' ? x.toString() : '');

/** The text between < and > of MAIL FROM / RCPT TO as smtp-server finds it, or null. */
function writtenAddress(rawCommand: unknown): string | null {
  const parts = text(rawCommand).split(':');
  parts.shift();
  const address = parts.join(':').trim().split(/\s+/)[0] ?? '';
  return /^<[^<>]*>$/.test(address) ? address.slice(1, -1) : null;
}

/**
 * The address of MAIL FROM / RCPT TO exactly as the client wrote it between < and > (source
 * route, A-labels, full-width dots and all); smtp-server's `address` is its normalised reading.
 */
export function writtenAddressOf(address: SMTPServerAddress): string {
  return (address as Written)[WRITTEN] ?? address.address;
}
