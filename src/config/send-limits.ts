/**
 * The largest message each way out can send, counted on what is sent (the relay's header
 * changes included), so DATA can refuse what could never go out instead of bouncing it later.
 */
import { SMTP_TRANSPORTS, type TransportName } from './transports.js';

/** Gmail API `users.messages.send`: the media upload's maximum ("35 MB", 35 MiB). */
export const GMAIL_API_MAX_MESSAGE = 36_700_160;

/** Gmail SMTP: the SIZE smtp.gmail.com (and smtp-relay.gmail.com) advertises. */
export const GMAIL_SMTP_MAX_MESSAGE = 35_882_577;

/** The largest message a workspace's transport sends (the outbox mirrors the Gmail API). */
export function sendLimit(transport: TransportName): number {
  return SMTP_TRANSPORTS.has(transport) ? GMAIL_SMTP_MAX_MESSAGE : GMAIL_API_MAX_MESSAGE;
}
