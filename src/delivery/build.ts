/**
 * The transports of a config, one per workspace (the daemon's, and the delivery thread's: see
 * thread.ts), and the credentials of its gmail-api workspaces (also used by `check`).
 */
import { systemClock, type Clock } from '../clock.js';
import type { Config } from '../config/index.js';
import { GoogleCredentials, loadServiceAccountKey } from '../google/index.js';
import type { Logger } from '../log.js';
import { createGmailApiTransport } from './gmail-api.js';
import { createOutboxTransport } from './outbox.js';
import { createSmtpTransport } from './smtp.js';
import type { Transport } from './types.js';

/** Credentials of every gmail-api workspace, keyed by workspace name. */
export function buildCredentials(config: Pick<Config, 'workspaces' | 'google'>): Map<string, GoogleCredentials> {
  const out = new Map<string, GoogleCredentials>();
  config.workspaces.forEach((w, i) => {
    const credentials = workspaceCredentials(config, i);
    if (credentials) out.set(w.name, credentials);
  });
  return out;
}

/** The credentials of workspace `i` (its key read and checked: a ConfigError names the key), if it is a gmail-api one. */
export function workspaceCredentials(config: Pick<Config, 'workspaces' | 'google'>, i: number): GoogleCredentials | undefined {
  const w = config.workspaces[i]!;
  if (w.transport !== 'gmail-api' || !w.gmailApi) return undefined;
  const key = loadServiceAccountKey(w.gmailApi.serviceAccountKeyFile, `workspaces[${i}].gmailApi.serviceAccountKeyFile`);
  return new GoogleCredentials({ key, scopes: w.gmailApi.scopes, tokenUrl: config.google.tokenUrl });
}

/** `clock`: the time errors are read against (a "Retry after" in seconds); the delivery thread's is the system clock. */
export function buildTransports(config: Pick<Config, 'workspaces' | 'google'>, logger: Logger, clock: Clock = systemClock): Map<string, Transport> {
  const credentials = buildCredentials(config);
  const out = new Map<string, Transport>();
  config.workspaces.forEach((w, i) => {
    const log = logger.child({ workspace: w.name });
    if (w.transport === 'gmail-api') {
      out.set(w.name, createGmailApiTransport({ credentials: credentials.get(w.name)!, apiRootUrl: config.google.apiRootUrl, resumableAbove: w.gmailApi!.resumableAbove, logger: log, now: () => clock.now() }));
    } else if (w.transport === 'smtp') {
      out.set(w.name, createSmtpTransport({ smtp: w.smtp!, keyPath: `workspaces[${i}].smtp`, logger: log, now: () => clock.now() }));
    } else {
      out.set(w.name, createOutboxTransport({ dir: w.outbox!.dir, logger: log }));
    }
  });
  return out;
}
