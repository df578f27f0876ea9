/**
 * The ways out (`workspaces[].transport`) and the one fact most of the relay decides by: whether
 * a way out speaks SMTP upstream. The SMTP ones (Gmail SMTP with an app password or XOAUTH2,
 * Google's SMTP relay service) honour the envelope: every Bcc header is stripped, each
 * transaction reaches only its own recipients (no duplicate suppression across transactions),
 * and Gmail SMTP's size limit applies. The Gmail API (and the outbox, its dry run) has no
 * envelope: Gmail delivers to the header recipients, with the envelope-only ones added as Bcc.
 */
export const TRANSPORTS = ['gmail-api', 'smtp', 'gmail-xoauth2', 'smtp-relay', 'outbox'] as const;

/** A way out (Transport['name']). */
export type TransportName = (typeof TRANSPORTS)[number];

/** The ways out that speak SMTP to Google (nodemailer). */
export const SMTP_TRANSPORTS: ReadonlySet<TransportName> = new Set(['smtp', 'gmail-xoauth2', 'smtp-relay']);

/** The envelope decides who gets the message (SMTP); otherwise the headers do (Gmail API). */
export function honoursEnvelope(transport: TransportName): boolean {
  return SMTP_TRANSPORTS.has(transport);
}
