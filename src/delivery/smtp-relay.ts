/**
 * Google's SMTP relay service (`transport: smtp-relay`): smtp-relay.gmail.com:587, STARTTLS
 * required, the relay known by its IP address (no AUTH) or logged in with SMTP AUTH as one
 * user. Each message goes out with its sending user as the envelope sender, and the envelope is
 * honoured (every Bcc header is stripped). The service's own answers (daily and peak limits,
 * relay denied) are classified in src/failures/smtp-relay.ts; the SMTP work is smtp-upstream.ts.
 */
import { readPasswordFile, type SecretReadOptions, type WorkspaceConfig } from '../config/index.js';
import type { Logger } from '../log.js';
import { createSmtpUpstream, type SmtpLogin } from './smtp-upstream.js';
import type { Transport } from './types.js';

type RelaySettings = NonNullable<WorkspaceConfig['smtpRelay']>;

/** `files`: how its files are read (lastGood: a practice kept on its running settings). */
export function createSmtpRelayTransport(options: { settings: RelaySettings; keyPath: string; logger: Logger; now?: () => number; files?: SecretReadOptions | undefined }): Transport {
  const { settings } = options;
  const login: SmtpLogin =
    settings.user && settings.passwordFile
      ? { kind: 'password', user: settings.user, pass: readPasswordFile(settings.passwordFile, `${options.keyPath}.passwordFile`, options.files) }
      : { kind: 'none' };
  return createSmtpUpstream({
    name: 'smtp-relay',
    server: settings,
    keyPath: options.keyPath,
    now: options.now,
    files: options.files,
    heloName: settings.heloName,
    login,
    envelopeFrom: (meta) => meta.sender,
    context: (meta) => ({ user: meta.sender, ...(settings.passwordFile ? { passwordFile: settings.passwordFile } : {}) }),
    logger: options.logger,
  });
}
