/**
 * Delivery-status notifications (RFC 3464): multipart/report; report-type=delivery-status, with
 * 1. a human-readable text/plain part,
 * 2. a message/delivery-status part (Reporting-MTA, Arrival-Date; per recipient
 *    Final-Recipient, Action, Status, Diagnostic-Code with our code and reason),
 * 3. a text/rfc822-headers part with only the safe headers of the original (safe-headers.ts).
 * Never the original's Subject, body or attachment names. Auto-Submitted: auto-replied (RFC 3834).
 */
import { CRLF, asciiLine, encodeText, isAscii, headerAddress, headerBlock, headerMessageId, newBoundary, oneLine, rfc5322Date } from './mime.js';
import { renderSafeHeaders, type SafeHeaders } from './safe-headers.js';

export type DsnKind = 'failure' | 'delay';

export interface DsnOriginal {
  queueId: string;
  /** When the relay accepted it (Arrival-Date). */
  arrivalDate: Date;
  /** The Workspace user it was to be sent as. */
  sender: string;
  /** Envelope recipients: one per-recipient block each. */
  recipients: readonly string[];
  headers: SafeHeaders;
  attempts: number;
}

export interface DsnInput {
  kind: DsnKind;
  /** The relay's host name: `Reporting-MTA: dns; <reportingMta>`. */
  reportingMta: string;
  /** The postmaster user the notice is sent as. */
  from: string;
  /** Who gets the notice. */
  to: string;
  /** The notice's own Message-ID, without <>. */
  messageId: string;
  date: Date;
  original: DsnOriginal;
  /** RFC 3463 status: 5.x.x for a failure, 4.x.x for a delay. */
  status: string;
  /** Our error code (e.g. delivery.message_rejected) and our reason; never a provider's raw text. */
  code: string;
  reason: string;
  /** What an administrator must do, when known. */
  fix?: string | undefined;
  lastAttempt?: Date | undefined;
  /** Delay notices: when the relay gives up. */
  willRetryUntil?: Date | undefined;
  /** Failure notices: the message ran out of time (max age) rather than being refused. */
  expired?: boolean;
  /**
   * Failure notices: only these recipients refused it, for good; it reached the others, and
   * nothing is kept in dead/ to send again.
   */
  partial?: boolean;
  /** Tests only: a fixed boundary. */
  boundary?: string;
}

export const DSN_SUBJECT: Record<DsnKind, string> = {
  failure: 'Undeliverable: your message could not be delivered',
  delay: 'Delayed: your message has not been delivered yet',
};

/** The notice as bytes ready for the spool (CRLF line endings). */
export function buildDsn(input: DsnInput): Buffer {
  const boundary = input.boundary ?? newBoundary();
  const orig = input.original;
  const origId = orig.headers.messageId ? headerMessageId(orig.headers.messageId) : null;
  const head = headerBlock([
    ['From', `Mail Delivery System <${headerAddress(input.from)}>`],
    ['To', `<${headerAddress(input.to)}>`],
    ['Subject', DSN_SUBJECT[input.kind]],
    ['Date', rfc5322Date(input.date)],
    ['Message-ID', `<${headerMessageId(input.messageId)}>`],
    ...(origId ? ([['In-Reply-To', `<${origId}>`], ['References', `<${origId}>`]] as const) : []),
    ['Auto-Submitted', 'auto-replied'],
    ['X-Workspace-Relay-Notice', `${input.kind}; queue-id=${asciiLine(orig.queueId, 64)}`],
    ['MIME-Version', '1.0'],
    ['Content-Type', `multipart/report; report-type=delivery-status; boundary="${boundary}"`],
  ]);
  const human = encodeText(humanText(input));
  const headers = renderSafeHeaders(orig.headers);
  const headersEncoding = isAscii(headers) ? '7bit' : '8bit';
  const parts = [
    `--${boundary}${CRLF}Content-Type: text/plain; charset=utf-8${CRLF}Content-Transfer-Encoding: ${human.encoding}${CRLF}Content-Description: Notification${CRLF}${CRLF}${human.body}`,
    `--${boundary}${CRLF}Content-Type: message/delivery-status${CRLF}Content-Description: Delivery report${CRLF}${CRLF}${statusFields(input)}`,
    `--${boundary}${CRLF}Content-Type: text/rfc822-headers${CRLF}Content-Transfer-Encoding: ${headersEncoding}${CRLF}Content-Description: Headers of the message (no subject, no body)${CRLF}${CRLF}${headers}`,
  ];
  return Buffer.from(`${head}${CRLF}This is a MIME-encapsulated delivery status notification.${CRLF}${CRLF}${parts.join(CRLF)}${CRLF}--${boundary}--${CRLF}`, 'utf8');
}

/** The message/delivery-status content: per-message fields, then one block per recipient. */
function statusFields(input: DsnInput): string {
  const orig = input.original;
  const action = input.kind === 'failure' ? 'failed' : 'delayed';
  const diagnostic = asciiLine(`${input.code}: ${input.reason}`, 900);
  const perMessage = [
    `Reporting-MTA: dns; ${asciiLine(input.reportingMta, 255)}`,
    `X-Workspace-Relay-Queue-ID: ${asciiLine(orig.queueId, 64)}`,
    `Arrival-Date: ${rfc5322Date(orig.arrivalDate)}`,
  ];
  const blocks = orig.recipients.map((r) => {
    const lines = [
      `Final-Recipient: rfc822; ${headerAddress(r)}`,
      `Action: ${action}`,
      `Status: ${input.status}`,
      `Diagnostic-Code: X-workspace-relay; ${diagnostic}`,
    ];
    if (input.lastAttempt) lines.push(`Last-Attempt-Date: ${rfc5322Date(input.lastAttempt)}`);
    if (input.kind === 'delay' && input.willRetryUntil) lines.push(`Will-Retry-Until: ${rfc5322Date(input.willRetryUntil)}`);
    return lines.map((l) => l + CRLF).join('');
  });
  return [perMessage.map((l) => l + CRLF).join(''), ...blocks].join(CRLF);
}

function humanText(input: DsnInput): string {
  const o = input.original;
  const about = [
    o.headers.messageId ? `  Message-ID:      <${o.headers.messageId}>` : null,
    `  Accepted:        ${rfc5322Date(o.arrivalDate)}`,
    `  Sent as:         ${o.sender}`,
    `  Recipients:      ${o.recipients.join(', ')}`,
    `  Relay queue id:  ${o.queueId}`,
  ].filter((l): l is string => l !== null);
  const reason = `Reason: ${oneLine(input.reason, 900)} [${input.code}, status ${input.status}]`;
  const fix = input.fix ? ['', `For your administrator: ${oneLine(input.fix, 900)}`] : [];
  const lines =
    input.kind === 'failure'
      ? [
          `This is the mail relay at ${input.reportingMta}.`,
          '',
          input.partial
            ? 'Your message could not be delivered to the recipients below, and the relay will not try again for them. It was delivered to its other recipients.'
            : input.expired
              ? `Your message could not be delivered: the relay kept trying (${o.attempts} attempts) and has now given up.`
              : 'Your message could not be delivered, and the relay will not try again.',
          '',
          ...about,
          '',
          reason,
          ...fix,
          '',
          ...(input.partial
            ? ['Nothing is kept to send again: once the cause is fixed, send it again to these recipients.']
            : [
                'The message is kept for your administrator, who can send it again once the cause is',
                `fixed (workspace-relay queue dead; workspace-relay queue requeue ${o.queueId}).`,
              ]),
        ]
      : [
          `This is the mail relay at ${input.reportingMta}.`,
          '',
          'Your message has not been delivered yet. The relay keeps trying',
          input.willRetryUntil ? `until ${rfc5322Date(input.willRetryUntil)}; you do not need to send it again.` : 'for now; you do not need to send it again.',
          'You will get another notice only if it fails for good.',
          '',
          ...about,
          '',
          `Last ${reason.charAt(0).toLowerCase()}${reason.slice(1)}`,
          ...fix,
        ];
  lines.push('', 'This notice does not contain the subject or the body of your message.');
  return lines.join('\n');
}
