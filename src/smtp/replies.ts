/**
 * Every reply the edge chooses itself, in one place (policy refusals come from src/policy).
 * The enhanced status code (RFC 3463) is part of each reply; see enhanced-codes.ts.
 */
import { SmtpReply } from '../errors.js';

export const REPLIES = {
  /** Client address not in listen[].allow: at connect, then the connection is closed. */
  clientNotAllowed: (address: string) =>
    new SmtpReply('session.refused', 554, '5.7.1', `access denied: ${address} is not in the networks allowed to use this listener`),
  /** listen[].maxConnections reached: at connect. */
  tooManyConnections: () => new SmtpReply('session.too_many_connections', 421, '4.3.2', 'too many connections, try again later'),
  /** listen[].maxConnectionsPerClient reached for this address: at connect. */
  tooManyFromClient: (address: string) =>
    new SmtpReply('session.too_many_from_client', 421, '4.7.0', `too many connections from ${address}, try again later`),
  /** The listener is closing (shutdown): at connect or at any later command but DATA in progress. */
  shuttingDown: () => new SmtpReply('session.shutting_down', 421, '4.3.2', 'shutting down, try again later'),
  /** auth.required and the client did not log in: at MAIL FROM. */
  authRequired: (tlsFirst: boolean) =>
    new SmtpReply('auth.required', 530, '5.7.0', tlsFirst ? 'authentication required: STARTTLS, then AUTH' : 'authentication required'),
  /** Wrong user name or password, or a device of another workspace: at AUTH. */
  authFailed: () => new SmtpReply('auth.failed', 535, '5.7.8', 'authentication credentials invalid'),
  /** SASL PLAIN authorisation identity other than the login name. */
  authzidRefused: () =>
    new SmtpReply('auth.failed', 535, '5.7.8', 'authentication credentials invalid: the authorization identity must be empty or the login name'),
  /** Too many failed logins from this address: at AUTH, without checking the password. */
  authThrottled: (minutes: number) =>
    new SmtpReply('auth.throttled', 454, '4.7.0', `too many failed logins from your address, try again in ${minutes} minute${minutes === 1 ? '' : 's'}`),
  /** The password check itself failed (should not happen). */
  authUnavailable: () => new SmtpReply('auth.error', 454, '4.7.0', 'temporary authentication failure, try again later'),
  /** MAIL FROM ... SMTPUTF8: not offered (addresses must be ASCII; 8-bit headers are fine). */
  smtpUtf8: () =>
    new SmtpReply('message.smtputf8_refused', 555, '5.6.7', 'SMTPUTF8 is not supported: use ASCII (or punycode) addresses; 8-bit headers need no SMTPUTF8'),
  /** The device is over devices[].maxMessagesPerHour: at MAIL FROM. */
  deviceRate: (username: string, max: number) =>
    new SmtpReply('auth.rate_limited', 450, '4.7.1', `device ${username} has sent its ${max} messages this hour, try again later`),
  /** The (mapped) sender is not in devices[].senders. */
  deviceSender: (username: string, sender: string) =>
    new SmtpReply('policy.device_sender_refused', 550, '5.7.1', `device ${username} may not send as <${sender}>`),
  /** The (mapped) sender is not in listen[].senders. */
  listenerSender: (sender: string) => new SmtpReply('policy.listener_sender_refused', 550, '5.7.1', `sender <${sender}> may not use this listener`),
  /** An envelope recipient not in devices[].allowedRecipients: at RCPT TO. */
  deviceRecipient: (username: string, rcpt: string) =>
    new SmtpReply('policy.device_recipient_refused', 550, '5.7.1', `device ${username} may not send to <${rcpt}>`),
  /** A header recipient (To/Cc/Bcc) not in devices[].allowedRecipients: after DATA. */
  deviceHeaderRecipient: (username: string, rcpt: string) =>
    new SmtpReply('policy.device_recipient_refused', 554, '5.7.1', `device ${username} may not send to <${rcpt}> (header recipient)`),
  /** Bare LF or bare CR in DATA (SMTP smuggling, CVE-2023-51764), unless allowBareLineEndings. */
  bareLineEnding: (kind: 'LF' | 'CR') =>
    new SmtpReply('message.bare_line_ending', 554, '5.6.0', `message refused: bare <${kind}> line ending; lines must end with <CR><LF>`),
  /** No transaction (should not happen: smtp-server checks the order itself). */
  badSequence: () => new SmtpReply('session.bad_sequence', 503, '5.5.1', 'need MAIL command first'),
  /** A spool failure outside the write path. */
  localError: () => new SmtpReply('spool.error', 451, '4.3.0', 'local error in processing, try again later'),
} as const;
