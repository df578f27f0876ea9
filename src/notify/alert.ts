/**
 * Alerts for the workspace's admin (`workspaces[].notify`): plain text, sent as the postmaster
 * user, naming what is wrong and the fix. They carry queue ids, envelope addresses and error
 * codes only: never a subject or body.
 */
import { formatDuration } from '../config/index.js';
import { CRLF, encodeText, headerAddress, headerBlock, headerMessageId, oneLine, rfc5322Date } from './mime.js';

/** held: Google refuses it for now; dead: moved to dead/; refused: some recipients refused it for good (it reached the others). */
export type AlertKind = 'held' | 'dead' | 'refused';

export interface AlertInput {
  kind: AlertKind;
  workspace: string;
  /** The relay's host name. */
  hostname: string;
  from: string;
  to: string;
  messageId: string;
  date: Date;
  /** The message that triggered the alert. */
  about: { queueId: string; sender: string; recipients: readonly string[]; attempts: number; nextAttemptAt?: string | undefined };
  code: string;
  reason: string;
  fix?: string | undefined;
  /** Alerts of this kind and code left out since the last one sent (rate limit). */
  suppressed: number;
  /** At most one alert per (workspace, kind, code) in this many ms. */
  interval: number;
  /** The message ran out of time (dead alerts). */
  expired?: boolean;
}

export function alertSubject(input: Pick<AlertInput, 'kind' | 'workspace' | 'code'>): string {
  if (input.kind === 'held') return `[workspace-relay] Mail held in workspace ${input.workspace}: ${input.code}`;
  if (input.kind === 'refused') return `[workspace-relay] Recipients refused in workspace ${input.workspace}: ${input.code}`;
  return `[workspace-relay] Mail moved to dead/ in workspace ${input.workspace}: ${input.code}`;
}

export function buildAlert(input: AlertInput): Buffer {
  const head = headerBlock([
    ['From', `workspace-relay <${headerAddress(input.from)}>`],
    ['To', `<${headerAddress(input.to)}>`],
    ['Subject', alertSubject(input)],
    ['Date', rfc5322Date(input.date)],
    ['Message-ID', `<${headerMessageId(input.messageId)}>`],
    ['Auto-Submitted', 'auto-replied'],
    ['X-Workspace-Relay-Notice', `alert; kind=${input.kind}`],
    ['MIME-Version', '1.0'],
    ['Content-Type', 'text/plain; charset=utf-8'],
  ]);
  const body = encodeText(alertText(input));
  return Buffer.from(`${head}Content-Transfer-Encoding: ${body.encoding}${CRLF}${CRLF}${body.body}`, 'utf8');
}

function alertText(input: AlertInput): string {
  const a = input.about;
  const what =
    input.kind === 'held'
      ? [
          `Mail in workspace ${input.workspace} is held: Google refuses it until an administrator fixes`,
          'something. The relay keeps the mail and retries; nothing is lost until the maximum age.',
        ]
      : input.kind === 'refused'
        ? [
            `A message in workspace ${input.workspace} was refused for good for the recipients below; it reached the others.`,
            'The sender has been sent a delivery-status notice.',
          ]
        : [
          input.expired
            ? `A message in workspace ${input.workspace} ran out of time and was moved to dead/.`
            : `A message in workspace ${input.workspace} failed permanently and was moved to dead/.`,
          'The sender has been sent a delivery-status notice.',
        ];
  const lines = [
    `This is workspace-relay at ${input.hostname}.`,
    '',
    ...what,
    '',
    `  Error:           ${input.code}`,
    `  Reason:          ${oneLine(input.reason, 900)}`,
    ...(input.fix ? [`  Fix:             ${oneLine(input.fix, 900)}`] : []),
    '',
    `  Queue id:        ${a.queueId}`,
    `  Sender:          ${a.sender}`,
    `  Recipients:      ${a.recipients.join(', ')}`,
    `  Attempts:        ${a.attempts}`,
    ...(a.nextAttemptAt ? [`  Next attempt:    ${a.nextAttemptAt}`] : []),
    '',
    input.kind === 'held'
      ? `Once fixed, held mail goes out at its next attempt (or at once: workspace-relay queue retry --all).`
      : input.kind === 'refused'
        ? 'Nothing is kept in dead/ for these recipients: the sender sends it again once the cause is fixed.'
        : `Look with: workspace-relay queue dead. Once the cause is fixed: workspace-relay queue requeue ${a.queueId}.`,
    `You get at most one alert per error every ${formatDuration(input.interval)}; the relay log has every event.`,
  ];
  if (input.suppressed > 0) lines.push('', `${input.suppressed} more like this since the last alert (not sent separately).`);
  return lines.join('\n');
}
