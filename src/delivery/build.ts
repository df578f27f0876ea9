/**
 * The transports of a config, one per workspace (the daemon's, and the delivery thread's: see
 * src/queue/delivery-thread.ts), and the credentials of its workspaces that send with a
 * service account (gmail-api, gmail-xoauth2; also used by `check`).
 */
import { systemClock, type Clock } from '../clock.js';
import { PASSWORD_FILE, goodFiles, type Config, type GoodFile, type SecretReadOptions, type WorkspaceConfig } from '../config/index.js';
import { SpoolKeys } from '../crypt/index.js';
import { GoogleCredentials, SERVICE_ACCOUNT_KEY_FILE, loadServiceAccountKey } from '../google/index.js';
import type { Logger } from '../log.js';
import { createGmailApiTransport } from './gmail-api.js';
import { XOAUTH2_SCOPES, createGmailXoauth2Transport } from './gmail-xoauth2.js';
import { createOutboxTransport } from './outbox.js';
import { createSmtpRelayTransport } from './smtp-relay.js';
import { CA_FILE } from './smtp-upstream.js';
import { createSmtpTransport } from './smtp.js';
import type { Transport } from './types.js';

const NONE: ReadonlySet<string> = new Set();

/**
 * Credentials of every gmail-api and gmail-xoauth2 workspace, keyed by workspace name. A
 * gmail-api workspace without `scopes:` gets automatic scopes (gmail.send, else
 * https://mail.google.com/: src/google/scope-ladder.ts), its fallback logged to `logger`.
 */
export function buildCredentials(config: Pick<Config, 'workspaces' | 'google'>, logger?: Logger, kept: ReadonlySet<string> = NONE): Map<string, GoogleCredentials> {
  const out = new Map<string, GoogleCredentials>();
  config.workspaces.forEach((w, i) => {
    const credentials = workspaceCredentials(config, i, logger, { lastGood: kept.has(w.name) });
    if (credentials) out.set(w.name, credentials);
  });
  return out;
}

/**
 * The credentials of workspace `i` (its key read and checked: a ConfigError names the key), if it
 * is a gmail-api or gmail-xoauth2 one. A scope fallback is logged to `logger`.
 */
export function workspaceCredentials(config: Pick<Config, 'workspaces' | 'google'>, i: number, logger?: Logger, keyRead: SecretReadOptions = {}): GoogleCredentials | undefined {
  const w = config.workspaces[i]!;
  if (w.transport === 'gmail-api' && w.gmailApi) {
    const key = loadServiceAccountKey(w.gmailApi.serviceAccountKeyFile, `workspaces[${i}].gmailApi.serviceAccountKeyFile`, keyRead);
    const log = logger?.child({ workspace: w.name });
    return new GoogleCredentials({ key, scopes: w.gmailApi.scopes, tokenUrl: config.google.tokenUrl, ...(log ? { logger: log } : {}) });
  }
  if (w.transport === 'gmail-xoauth2' && w.gmailXoauth2) {
    const key = loadServiceAccountKey(w.gmailXoauth2.serviceAccountKeyFile, `workspaces[${i}].gmailXoauth2.serviceAccountKeyFile`, keyRead);
    return new GoogleCredentials({ key, scopes: XOAUTH2_SCOPES, tokenUrl: config.google.tokenUrl });
  }
  return undefined;
}

/**
 * `clock`: the time errors are read against (a "Retry after" in seconds); the delivery thread's
 * is the system clock. `keys`: the spool's (queue.encryption), which the outbox seals its files with.
 * `kept`: the workspaces of practices kept on their running settings at a reload: their files are
 * used as last read good if they no longer hold a good one (src/config/last-good.ts).
 */
export function buildTransports(
  config: Pick<Config, 'workspaces' | 'google'>,
  logger: Logger,
  clock: Clock = systemClock,
  keys: SpoolKeys = SpoolKeys.none(),
  kept: ReadonlySet<string> = NONE,
): Map<string, Transport> {
  const credentials = buildCredentials(config, logger, kept);
  const now = () => clock.now();
  const out = new Map<string, Transport>();
  config.workspaces.forEach((w, i) => {
    const log = logger.child({ workspace: w.name });
    const files = { lastGood: kept.has(w.name) };
    switch (w.transport) {
      case 'gmail-api':
        out.set(w.name, createGmailApiTransport({ credentials: credentials.get(w.name)!, apiRootUrl: config.google.apiRootUrl, resumableAbove: w.gmailApi!.resumableAbove, logger: log, now }));
        return;
      case 'smtp':
        out.set(w.name, createSmtpTransport({ smtp: w.smtp!, keyPath: `workspaces[${i}].smtp`, logger: log, now, files }));
        return;
      case 'gmail-xoauth2':
        out.set(w.name, createGmailXoauth2Transport({ settings: w.gmailXoauth2!, keyPath: `workspaces[${i}].gmailXoauth2`, credentials: credentials.get(w.name)!, logger: log, now, files }));
        return;
      case 'smtp-relay':
        out.set(w.name, createSmtpRelayTransport({ settings: w.smtpRelay!, keyPath: `workspaces[${i}].smtpRelay`, logger: log, now, files }));
        return;
      case 'outbox':
        out.set(w.name, createOutboxTransport({ dir: w.outbox!.dir, logger: log, keys }));
        return;
    }
  });
  return out;
}

/**
 * The files the transports of `kept` (workspaces of practices kept on their running settings)
 * read, as this process last read them good: what a delivery thread (started again, or that never
 * read them good) builds those transports from if the files were broken in place.
 */
export function keptTransportFiles(workspaces: readonly WorkspaceConfig[], kept: ReadonlySet<string>): GoodFile[] {
  const files: { kind: string; file: string }[] = [];
  const add = (kind: string, file: string | undefined) => void (file && files.push({ kind, file }));
  for (const w of workspaces.filter((x) => kept.has(x.name))) {
    add(SERVICE_ACCOUNT_KEY_FILE.name, w.gmailApi?.serviceAccountKeyFile);
    add(SERVICE_ACCOUNT_KEY_FILE.name, w.gmailXoauth2?.serviceAccountKeyFile);
    add(PASSWORD_FILE.name, w.smtp?.appPasswordFile);
    add(PASSWORD_FILE.name, w.smtpRelay?.passwordFile);
    for (const server of [w.smtp, w.gmailXoauth2, w.smtpRelay]) add(CA_FILE.name, server?.caFile);
  }
  return goodFiles(files);
}
