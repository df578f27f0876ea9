/**
 * Gmail SMTP with XOAUTH2 (`transport: gmail-xoauth2`): smtp.gmail.com (465 implicit TLS, or 587
 * with STARTTLS required), logged in as each sending user with an access token from the
 * workspace's service account (domain-wide delegation, scope https://mail.google.com/: Gmail SMTP
 * takes no narrower one). The envelope is honoured, so envelope-only recipients need no Bcc
 * header (every Bcc header is stripped). A token the token endpoint refuses is classified as
 * such (a revoked delegation holds the mail); a login Gmail refuses even with a new token is
 * `delivery.xoauth2.refused`. The SMTP work is smtp-upstream.ts.
 */
import { FULL_MAIL_SCOPE, type SecretReadOptions, type WorkspaceConfig } from '../config/index.js';
import type { GoogleCredentials } from '../google/index.js';
import type { Logger } from '../log.js';
import { createSmtpUpstream } from './smtp-upstream.js';
import type { Transport } from './types.js';

type Xoauth2Settings = NonNullable<WorkspaceConfig['gmailXoauth2']>;

/** The scopes a gmail-xoauth2 workspace's tokens carry. */
export const XOAUTH2_SCOPES: readonly string[] = [FULL_MAIL_SCOPE];

export function createGmailXoauth2Transport(options: {
  settings: Xoauth2Settings;
  keyPath: string;
  credentials: GoogleCredentials;
  logger: Logger;
  now?: () => number;
  /** How its files are read (lastGood: a practice kept on its running settings). */
  files?: SecretReadOptions | undefined;
}): Transport {
  const { settings, credentials } = options;
  return createSmtpUpstream({
    name: 'gmail-xoauth2',
    server: settings,
    keyPath: options.keyPath,
    now: options.now,
    files: options.files,
    login: {
      kind: 'xoauth2',
      async token(user, renew) {
        const client = credentials.clientFor(user);
        if (renew) {
          const { credentials: c } = await client.refreshAccessToken();
          return { token: c.access_token ?? '', expires: c.expiry_date ?? undefined };
        }
        const { token } = await client.getAccessToken();
        return { token: token ?? '', expires: client.credentials.expiry_date ?? undefined };
      },
    },
    envelopeFrom: (meta) => meta.sender,
    context: (meta) => ({ user: meta.sender, clientId: credentials.clientId, scopes: credentials.scopes }),
    // Start from a fresh client (and token) next time when Google or Gmail did not take the token.
    onFailure: (failure, meta) => {
      if (failure.kind === 'held') credentials.forget(meta.sender);
    },
    logger: options.logger,
  });
}
