/** Human output of the queue CLI: tables and a detail view. Scripts use --json instead. */
import type { QueueItem } from './protocol.js';

/** 42s, 5m, 2h05m, 3d04h. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, '0')}h`;
}

/** 2024-06-01 12:00:05Z */
export function shortTime(iso: string | undefined | null): string {
  if (!iso) return '-';
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : new Date(t).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

function nextAttempt(item: QueueItem, now: Date): string {
  if (item.state === 'hold') return 'held';
  if (item.state === 'active') return 'delivering';
  if (item.state === 'dead') return '-';
  const wait = Date.parse(item.nextAttemptAt) - now.getTime();
  return wait <= 0 ? 'now' : `in ${formatDuration(wait)}`;
}

function lastError(item: QueueItem, width = 70): string {
  if (!item.lastError) return '-';
  const text = `${item.lastError.code}: ${item.lastError.message}`.replace(/\s+/g, ' ');
  return text.length > width ? `${text.slice(0, width - 1)}…` : text;
}

const age = (item: QueueItem, now: Date) => formatDuration(now.getTime() - Date.parse(item.receivedAt));

/** Columns padded to their widest cell; the last column is left ragged. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** `queue list` / `queue find`. */
export function queueTable(items: QueueItem[], now: Date): string {
  return table(
    ['ID', 'STATE', 'AGE', 'SENDER', 'RCPTS', 'ATTEMPTS', 'NEXT', 'LAST ERROR'],
    items.map((m) => [m.id, m.state, age(m, now), m.sender, String(m.recipients.length), String(m.attempts), nextAttempt(m, now), lastError(m)]),
  );
}

/** `queue dead`: why each one died. */
export function deadTable(items: QueueItem[], now: Date): string {
  return table(
    ['ID', 'AGE', 'SENDER', 'RCPTS', 'ATTEMPTS', 'DIED', 'REASON'],
    items.map((m) => [m.id, age(m, now), m.sender, String(m.recipients.length), String(m.attempts), shortTime(m.lastError?.at), lastError(m, 120)]),
  );
}

/** "3 messages: 2 queued, 1 held". */
export function summary(items: QueueItem[]): string {
  if (!items.length) return 'The queue is empty.';
  const n = (state: string) => items.filter((m) => m.state === state).length;
  const parts = [
    [n('queue'), 'queued'],
    [n('active'), 'being delivered'],
    [n('hold'), 'held'],
    [n('dead'), 'dead'],
  ]
    .filter(([c]) => c)
    .map(([c, what]) => `${c} ${what}`);
  return `${items.length} message${items.length === 1 ? '' : 's'}: ${parts.join(', ')}`;
}

/** ", device ehr on listener front-desk" (absent on notices and on messages accepted by older versions). */
function origin(m: QueueItem): string {
  return `${m.device ? `, device ${m.device}` : ''}${m.listener ? ` on listener ${m.listener}` : ''}`;
}

/** `queue show`: every field an admin needs, one per line. */
export function detail(m: QueueItem, now: Date): string {
  const rows: [string, string][] = [
    ['id', m.id],
    ['state', m.state === 'hold' ? 'hold (held by an admin: `queue release ID` to send it)' : m.state],
    ['received', `${shortTime(m.receivedAt)} (${age(m, now)} ago) from ${m.client.address}${m.client.hostname ? ` (${m.client.hostname})` : ''}${origin(m)}`],
    ['workspace', m.workspace],
    ['mail from', m.mailFrom || '<>'],
    ['sender', `${m.sender} (Google sends as this user)`],
    ['from header', m.from ?? '-'],
    ['message-id', m.messageId ?? '-'],
    ['recipients', m.recipients.join(', ')],
    ['header rcpts', m.headerRecipients.join(', ') || '-'],
    ['added bcc', m.bcc.join(', ') || '-'],
    ['size', `${m.size} bytes`],
    ['sha256', m.sha256],
    ['attempts', String(m.attempts)],
    ['next attempt', m.state === 'queue' ? `${shortTime(m.nextAttemptAt)} (${nextAttempt(m, now)})` : nextAttempt(m, now)],
    ['last error', m.lastError ? `${m.lastError.code} (${m.lastError.kind}, ${shortTime(m.lastError.at)}): ${m.lastError.message}` : '-'],
  ];
  if (m.requeuedAt) rows.push(['requeued', shortTime(m.requeuedAt)]);
  if (m.notification) rows.push(['notification', `${m.notification} (sent by the relay itself)`]);
  if (m.delayNotified) rows.push(['delay notice', 'sent to the sender']);
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${`${k}:`.padEnd(width + 2)}${v}`).join('\n');
}
