/**
 * Gmail SMTP with an app password (smtp.gmail.com 465 implicit TLS, or 587 with STARTTLS
 * required: the password never crosses the network in clear). The authenticated account is the
 * sender of everything (envelope and, see src/smtp/identity.ts, From). The SMTP work itself
 * (streaming from the spool file, SIZE= in MAIL FROM) is smtp-upstream.ts, shared with the
 * XOAUTH2 and relay-service transports.
 */
import type { Logger } from '../log.js';
import { readPasswordFile, type SecretReadOptions, type WorkspaceConfig } from '../config/index.js';
import type { Transport } from './types.js';
import { createSmtpUpstream } from './smtp-upstream.js';

type SmtpSettings = NonNullable<WorkspaceConfig['smtp']>;

export function createSmtpTransport(options: {
  smtp: SmtpSettings;
  keyPath: string;
  logger: Logger;
  /** Upstream connections kept open and reused (a pool), per workspace. */
  maxConnections?: number;
  /** The time a "Retry after" is counted from (default Date.now). */
  now?: () => number;
  /** How its files are read (lastGood: a practice kept on its running settings). */
  files?: SecretReadOptions | undefined;
}): Transport {
  const { smtp } = options;
  const pass = readPasswordFile(smtp.appPasswordFile, `${options.keyPath}.appPasswordFile`, options.files);
  return createSmtpUpstream({
    name: 'smtp',
    server: smtp,
    keyPath: options.keyPath,
    now: options.now,
    files: options.files,
    login: { kind: 'password', user: smtp.user, pass },
    envelopeFrom: () => smtp.user,
    context: () => ({ user: smtp.user, passwordFile: smtp.appPasswordFile }),
    logger: options.logger,
    ...(options.maxConnections ? { maxConnections: options.maxConnections } : {}),
  });
}
