/**
 * The SMTP listener (src/smtp is the only folder that knows smtp-server). Each SMTP stage becomes a call on
 * policy and spool, and each outcome one explicit reply (smtp-server's defaults differ by stage).
 * Connect: closing, allowed networks, connection limits. TLS: none / STARTTLS / implicit.
 * AUTH: device accounts, only after TLS unless auth.allowPlaintext. Then envelope.ts, data.ts.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { DeviceRate, LoginThrottle } from '../auth/index.js';
import { systemClock } from '../clock.js';
import type { ListenerConfig } from '../config/index.js';
import { ConfigError, SmtpReply, errorText } from '../errors.js';
import { NO_EVENTS } from '../events.js';
import type { Logger } from '../log.js';
import { namedReply, renderReply, smtpReply, type NamedReply } from '../replies/index.js';
import { createQueueId } from '../spool/index.js';
import { onAuth } from './auth-handler.js';
import { clientFilter } from './client-networks.js';
import { ConnectionCounter } from './connection-limits.js';
import { acceptData } from './data.js';
import { Deadlines, type Expiry } from './deadlines.js';
import { onMailFrom, onRcptTo } from './envelope.js';
import { checkListenerConfig, disabledCommands, needsRestart, tunables } from './listener-settings.js';
import { deviceOf, type Runtime } from './runtime.js';
import { drainAndClose } from './shutdown.js';
import { proxyStep } from './proxy-protocol.js';
import { ConnectionRegistry, boundAddress, installSmtpServerInternals, sendReply, takeOverProxyHeaders, updateServerOptions } from './smtp-server-internals.js';
import { isLegacyVersion, loadTlsOptions } from './tls-settings.js';
import type { Listener, ListenerDeps, SessionState } from './types.js';

export type { Listener, ListenerDeps } from './types.js';
export { needsRestart } from './listener-settings.js';

export async function startListener(deps: ListenerDeps): Promise<Listener> {
  installSmtpServerInternals();
  const { logger } = deps;
  const name = deps.listener.name ?? `${deps.listener.host}:${deps.listener.port}`;
  const label = deps.label ?? `listen[${name}]`;
  let current = deps.listener;
  const clock = deps.clock ?? systemClock;
  checkListenerConfig(current, deps.config(), label);
  const tls = loadTlsOptions(current, label);
  let allowed = clientFilter(current.allow);
  const counter = new ConnectionCounter();
  const sessions = new Map<string, SessionState>();
  let closing = false;
  let greeting = deps.ready === undefined;
  deps.ready?.then(
    () => (greeting = true),
    () => undefined,
  );

  const warnings = (listener: ListenerConfig) => {
    if (listener.tls.mode !== 'none' && isLegacyVersion(listener.tls.minVersion)) {
      logger.warn(
        { event: 'tls.legacy_enabled', listener: name, minVersion: listener.tls.minVersion, device: listener.tls.legacyDevice },
        `${name} accepts ${listener.tls.minVersion} for ${listener.tls.legacyDevice}: replace or upgrade that device`,
      );
    }
  };

  const events = deps.events ?? NO_EVENTS;
  const rt: Runtime = {
    deps,
    name,
    events,
    listener: () => current,
    config: deps.config,
    closing: () => closing,
    state(session) {
      let s = sessions.get(session.id);
      if (!s) {
        s = { log: logger.child({ session: session.id, client: session.remoteAddress }), client: session.remoteAddress, admitted: false, tx: null };
        sessions.set(session.id, s);
      }
      return s;
    },
    refuse(session, stage, named, extra = {}) {
      const reply = renderReply(named);
      // not rt.state(): a refusal after the client left must not recreate (and leak) its state
      const state = sessions.get(session.id);
      const workspace = extra.workspace ?? state?.tx?.workspace.name ?? current.workspace ?? deviceOf(rt, session)?.workspace;
      (state?.log ?? logger).info(
        { event: 'message.rejected', outcome: 'rejected', stage, code: reply.responseCode, enhanced: reply.enhanced, reason: reply.reason, ...extra, ...(workspace ? { workspace } : {}) },
        'refused',
      );
      events.rejected({
        listener: name,
        workspace,
        stage,
        reason: reply.code,
        responseCode: reply.responseCode,
        enhanced: reply.enhanced,
        client: session.remoteAddress,
        ...(extra.queueId ? { queueId: extra.queueId } : {}),
        mailFrom: extra.mailFrom ?? state?.tx?.mailFrom,
        recipients: extra.recipients ?? (extra.rcpt !== undefined ? [extra.rcpt] : undefined),
        device: extra.device ?? state?.tx?.device?.username,
      });
      return reply;
    },
    throttle: deps.loginThrottle ?? new LoginThrottle({ clock, limits: () => deps.config().auth.throttle }),
    deviceRate: deps.deviceRate ?? new DeviceRate({ clock }),
    clock,
    newId: deps.newId ?? (() => createQueueId(clock.now())),
  };

  const refuseSession = (log: Logger, named: NamedReply, reason: string) => {
    const reply = renderReply(named);
    log.info({ event: 'session.refused', listener: name, reason, code: reply.responseCode, enhanced: reply.enhanced }, 'connection refused');
    events.sessionRefused(name, reply.code);
    return reply;
  };

  /** Admit a connection (closing, allowed networks, connection limits) and greet it. */
  const admit: NonNullable<SMTPServerOptions['onConnect']> = (session, callback) => {
    const state = rt.state(session);
    const listener = current;
    if (closing) return callback(refuseSession(state.log, namedReply('shuttingDown'), 'closing'));
    if (!allowed(session.remoteAddress)) {
      return callback(refuseSession(state.log, namedReply('clientNotAllowed', { address: session.remoteAddress }), 'network'));
    }
    const admission = counter.admit(session.remoteAddress, listener);
    if (admission === 'listener_full') return callback(refuseSession(state.log, namedReply('tooManyConnections'), 'listener_full'));
    if (admission === 'client_full') {
      return callback(refuseSession(state.log, namedReply('tooManyFromClient', { address: session.remoteAddress }), 'client_full'));
    }
    state.admitted = true;
    session.disabledCommands = disabledCommands(listener, deps.config(), session.secure);
    state.log.info({ event: 'session.connect', listener: name, secure: session.secure, ...(listener.workspace ? { workspace: listener.workspace } : {}) }, 'client connected');
    callback();
  };

  const options: SMTPServerOptions = {
    name: deps.config().hostname,
    banner: 'workspace-relay ESMTP',
    secure: current.tls.mode === 'implicit',
    ...tls,
    ...tunables(current, deps.config()),
    // The size check is ours (data.ts, 552 5.3.4, against the limit when DATA began): smtp-server's
    // own would re-check at the end against a limit a reload may have lowered meanwhile.
    rejectOversized: false,
    hideSTARTTLS: current.tls.mode !== 'starttls',
    hideENHANCEDSTATUSCODES: false,
    hideSMTPUTF8: true,
    hideDSN: true,
    hideREQUIRETLS: true,
    authMethods: ['PLAIN', 'LOGIN'],
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    disableReverseLookup: true,
    logger: false,
    onConnect(session, callback) {
      if (greeting) return admit(session, callback);
      // Bound before the relay is ready (start-up): the greeting waits for it (a client that
      // leaves meanwhile has its state removed by onClose, and is not answered).
      const { log } = rt.state(session);
      deps.ready!.then(
        () => sessions.has(session.id) && admit(session, callback),
        () => sessions.has(session.id) && callback(refuseSession(log, namedReply('shuttingDown'), 'closing')),
      );
    },
    onSecure(socket, session, callback) {
      const state = rt.state(session);
      session.disabledCommands = disabledCommands(current, deps.config(), true);
      const protocol = 'getProtocol' in socket ? socket.getProtocol() : null;
      state.log.info({ event: 'session.tls', protocol, cipher: session.tlsOptions ? session.tlsOptions.name : undefined }, 'TLS established');
      callback();
    },
    onClose(session) {
      const state = sessions.get(session.id);
      if (!state) return;
      sessions.delete(session.id);
      if (state.admitted) {
        counter.release(state.client);
        state.log.info({ event: 'session.close', ...(current.workspace ? { workspace: current.workspace } : {}) }, 'client disconnected');
      }
    },
    onAuth(auth, session, callback) {
      onAuth(rt, auth, session, callback);
    },
    onMailFrom(address, session, callback) {
      callback(onMailFrom(rt, address, session));
    },
    onRcptTo(address, session, callback) {
      onRcptTo(rt, address, session).then(
        (reply) => callback(reply),
        () => callback(smtpReply('localError')),
      );
    },
    onData(stream, session, callback) {
      acceptData(rt, stream, session).then(
        (reply) => callback(null, reply),
        (err: unknown) => callback(err instanceof SmtpReply ? err : smtpReply('localError')),
      );
    },
  };
  const server = new SMTPServer(options);
  const registry = new ConnectionRegistry(server);
  // listen[].proxyProtocol: the client address from the balancer's PROXY header (proxy-protocol.ts)
  takeOverProxyHeaders(server, proxyStep({ listener: () => current, config: deps.config, clock, logger, name }));
  // limits.commandTimeout and limits.minDataRate (slowloris): 421 4.4.2, logged, closed
  const deadlines = new Deadlines({
    connections: () => registry.served(),
    limits: () => deps.config().limits,
    clock,
    expire(conn, expiry: Expiry) {
      const log = sessions.get(conn.session.id)?.log ?? logger;
      const reply =
        expiry.kind === 'command' ? smtpReply('commandTimeout', { seconds: Math.round(expiry.ms / 1000) }) : smtpReply('dataTooSlow', { rate: expiry.rate });
      if (expiry.kind === 'command') log.warn({ event: 'session.command_timeout', listener: name, ms: expiry.ms }, 'command line not completed in time: closing');
      else log.warn({ event: 'session.data_too_slow', listener: name, bytes: expiry.bytes, ms: expiry.ms, minRate: expiry.rate }, 'message data too slow: closing');
      sendReply(conn, reply.responseCode, reply.message);
    },
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(current.port, current.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => logger.debug({ event: 'smtp.error', listener: name, err: errorText(err) }, 'smtp connection error'));
  deadlines.start();
  const bound = boundAddress(server) as AddressInfo;
  warnings(current);

  let closed: Promise<void> | null = null;
  return {
    name,
    address: { host: current.host, port: bound.port },
    get sessions() {
      return counter.size;
    },
    reload(listener: ListenerConfig, files = {}) {
      if (needsRestart(current, listener)) {
        throw new ConfigError(label, 'host, port or tls.mode changed: this needs the listener closed and started again');
      }
      const config = deps.config();
      checkListenerConfig(listener, config, label);
      const nextTls = loadTlsOptions(listener, label, files);
      const nextAllowed = clientFilter(listener.allow);
      if (listener.tls.mode !== 'none') server.updateSecureContext({ ...nextTls, ciphers: nextTls.ciphers });
      updateServerOptions(server, { ...tunables(listener, config), name: config.hostname });
      allowed = nextAllowed;
      current = listener;
      logger.info({ event: 'listener.reloaded', listener: name, tls: listener.tls.mode, minVersion: listener.tls.minVersion }, 'listener settings reloaded');
      warnings(listener);
    },
    close(opts = {}) {
      if (!closed) {
        closing = true;
        const graceMs = opts.graceMs ?? deps.config().queue.shutdownTimeout;
        logger.info({ event: 'listener.closing', listener: name, sessions: counter.size, graceMs }, 'closing listener');
        closed = drainAndClose(server, registry, { graceMs, reply: smtpReply('shuttingDown') }).then(({ forced }) => {
          deadlines.stop();
          logger.info({ event: 'listener.closed', listener: name, forced }, 'listener closed');
        });
      }
      return closed;
    },
  };
}
