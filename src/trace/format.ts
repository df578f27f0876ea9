/** `workspace-relay trace` for people: one block per message, its steps in order. Scripts use --json. */
import { shortTime } from '../control/index.js';
import type { AuditRecord } from './audit-record.js';
import type { AttemptRecord } from './records.js';
import type { MessageTrace, TraceResult } from './trace-query.js';

const OUTCOME_TEXT: Record<string, string> = {
  delivered: 'delivered',
  suppressed: 'delivered (an earlier transaction reached every recipient)',
  deferred: 'waiting: the last attempt failed, retried on the schedule',
  rate_limited: 'waiting: Google asked the sending user to slow down',
  held: 'held: an admin must fix something (see the last attempt)',
  failed: 'failed: moved to dead/',
  queued: 'queued: no attempt recorded yet',
  rejected: 'refused: never accepted',
  deleted: 'deleted: removed from the spool undelivered (see its audit line)',
};

/** A plain id in <>; an odd one is kept as its hash (safeMessageId), shown as it is logged. */
const shownId = (id: string) => (id.startsWith('sha256:') ? `${id} (hashed, as in the log)` : `<${id}>`);

function attemptLine(a: AttemptRecord): string[] {
  const when = shortTime(a.at);
  if (a.outcome === 'delivered' || a.outcome === 'suppressed') {
    const id = a.providerId ? `, ${a.transport === 'gmail-api' ? 'Google id' : 'upstream id'} ${a.providerId}` : '';
    return [`  ${a.outcome.padEnd(12)}${when}  via ${a.transport ?? '?'}${id}`];
  }
  const next = a.nextAttemptAt && a.outcome !== 'failed' ? `; next attempt ${shortTime(a.nextAttemptAt)}` : '';
  return [`  ${a.outcome.padEnd(12)}${when}  ${a.code ?? '?'} (${a.kind ?? '?'})${next}`, `${' '.repeat(14)}${a.reason ?? ''}`];
}

/** `queue.delete by root (sudo: alice)`, or `queue.deadRetention`. */
function deletedBy(by: NonNullable<AuditRecord['deletedBy']>): string {
  if (!by.osUser) return by.action;
  return `${by.action} by ${by.osUser}${by.sudoUser ? ` (sudo: ${by.sudoUser})` : ''}`;
}

export function formatTrace(t: MessageTrace): string {
  const lines = [`${t.queueId ?? '(no queue id)'}  ${t.workspace ?? '-'}  ${OUTCOME_TEXT[t.outcome] ?? t.outcome}`];
  const pad = ' '.repeat(14);
  const a = t.accepted;
  if (a) {
    const named = a.client.hostname && a.client.hostname !== `[${a.client.address}]` ? ` (${a.client.hostname})` : '';
    const client = `${a.client.address}${named}`;
    lines.push(`  ${'accepted'.padEnd(12)}${shortTime(a.at)}  from ${client}${a.device ? `, device ${a.device}` : ''} on listener ${a.listener}, ${a.size} bytes`);
    lines.push(`${pad}mail from <${a.mailFrom}>, sent as ${a.sender}${a.from ? `, From ${a.fromRewritten ? `${a.from} → ${a.fromRewritten}` : a.from}` : ''}`);
    lines.push(`${pad}to ${a.recipients.join(', ')}`);
    const others = [...a.headerRecipients, ...a.bcc].filter((r, i, all) => !a.recipients.includes(r) && all.indexOf(r) === i);
    if (others.length) lines.push(`${pad}header recipients also ${others.join(', ')}`);
    lines.push(`${pad}Message-ID ${a.messageId ? `${shownId(a.messageId)}${a.messageIdAdded ? ' (added by the relay)' : ''}` : '-'}`);
  } else if (t.rejected) {
    const r = t.rejected;
    lines.push(`  ${'refused'.padEnd(12)}${shortTime(r.at)}  at ${r.stage.toUpperCase()} from ${r.client.address}${r.device ? `, device ${r.device}` : ''} on listener ${r.listener}: ${r.reply} ${r.reason}`);
    if (r.mailFrom !== undefined) lines.push(`${pad}mail from <${r.mailFrom}>${r.recipients ? ` to ${r.recipients.join(', ')}` : ''}`);
  } else {
    lines.push(`  (its acceptance is not in the trace: older than queue.traceRetention, or a notice the relay wrote)`);
  }
  for (const attempt of t.attempts) lines.push(...attemptLine(attempt));
  for (const audit of t.audits) {
    const to = audit.recipients.length ? `delivered to ${audit.recipients.join(', ')}` : 'delivered to no one';
    const not = audit.undelivered?.length ? `; not to ${audit.undelivered.join(', ')}` : '';
    const by = audit.deletedBy ? ` from ${audit.deletedFrom ?? '?'}/ by ${deletedBy(audit.deletedBy)}` : '';
    lines.push(`  ${'audit'.padEnd(12)}${shortTime(audit.at)}  ${audit.outcome}${by}${audit.code ? ` ${audit.code}` : ''}, ${to}${not}`);
  }
  return lines.join('\n');
}

export function formatTraces(result: TraceResult): string {
  const blocks = result.traces.map(formatTrace);
  if (result.more) blocks.push(`(${result.more} older match${result.more === 1 ? '' : 'es'} not shown: narrow with --since/--until, or raise --limit)`);
  return blocks.join('\n\n');
}
