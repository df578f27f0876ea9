/** A listen[] entry read against the whole config: checks (at start and every reload) and derived settings. */
import { parsePasswordHash } from '../auth/index.js';
import { type Config, type ListenerConfig, sendLimit } from '../config/index.js';
import { ConfigError } from '../errors.js';

/** Device accounts that may log in on this listener (all, or those of its workspace). */
export function listenerDevices(listener: ListenerConfig, config: Config) {
  return config.devices.filter((d) => listener.workspace === undefined || d.workspace === listener.workspace);
}

export function checkListenerConfig(listener: ListenerConfig, config: Config, label: string): void {
  config.devices.forEach((d, i) => {
    if (!parsePasswordHash(d.passwordHash)) {
      throw new ConfigError(`devices[${i}].passwordHash`, 'not a valid scrypt hash: use the output of `workspace-relay hash-password`');
    }
  });
  if (!listener.auth.required) return;
  if (listenerDevices(listener, config).length === 0) {
    const which = listener.workspace === undefined ? '' : ` of workspace "${listener.workspace}"`;
    throw new ConfigError(`${label}.auth.required`, `no device account${which} can log in here: add one under devices, or set auth.required: false`);
  }
  if (listener.tls.mode === 'none' && !listener.auth.allowPlaintext) {
    throw new ConfigError(
      `${label}.auth.required`,
      'AUTH is only offered over TLS: set tls.mode to starttls or implicit (with certFile and keyFile), or auth.allowPlaintext: true on a trusted network',
    );
  }
}

/** Changes that need the port closed and opened again (a new listener), not a reload. */
export function needsRestart(before: ListenerConfig, after: ListenerConfig): boolean {
  return before.host !== after.host || before.port !== after.port || before.tls.mode !== after.tls.mode;
}

/** Commands a session may not use: STARTTLS unless offered, AUTH unless a device could log in. */
export function disabledCommands(listener: ListenerConfig, config: Config, secure: boolean): string[] {
  const out: string[] = [];
  if (listener.tls.mode !== 'starttls' || secure) out.push('STARTTLS');
  if (listenerDevices(listener, config).length === 0 || !(secure || listener.auth.allowPlaintext)) out.push('AUTH');
  return out;
}

/**
 * The largest message this listener takes (EHLO SIZE, and DATA's limit): limits.maxMessageSize,
 * but never more than the largest message its workspaces' transports can send (Gmail: 35 MB).
 */
export function messageSizeLimit(listener: ListenerConfig, config: Config): number {
  const served = config.workspaces.filter((w) => listener.workspace === undefined || w.name === listener.workspace);
  // (None served: the listener of a disabled practice, which refuses every MAIL FROM with 451.)
  const sendable = served.length ? Math.max(...served.map((w) => sendLimit(w.transport))) : Infinity;
  return Math.min(config.limits.maxMessageSize, sendable);
}

/** smtp-server options that follow the listen[] entry and limits (set at start and on reload). */
export function tunables(listener: ListenerConfig, config: Config) {
  return {
    size: messageSizeLimit(listener, config),
    socketTimeout: config.limits.idleTimeout,
    allowInsecureAuth: listener.auth.allowPlaintext,
    greetingDelay: listener.greetingDelay,
    // A backstop counted from accept (our own limits are counted from onConnect, after the delay).
    maxClients: listener.maxConnections * 2,
  };
}
