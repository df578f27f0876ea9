/**
 * `workspace-relay trace`: what happened to the messages that match. A message matches by its
 * acceptance record (queue id, Message-ID, sender, recipient, as `queue find` compares them, and
 * accept time); its attempts are then gathered from that day on. Transactions refused before
 * acceptance match by their envelope too. Two passes over the files, keeping only what matched.
 */
import { matchesQuery, type QueueQuery, type Searchable } from '../control/index.js';
import { safeMessageId } from '../safe-text.js';
import type { AuditRecord } from './audit-record.js';
import type { AcceptedRecord, AttemptOutcome, AttemptRecord, RejectedRecord, TraceRecord } from './records.js';
import { dayOf, type TraceFiles } from './trace-files.js';

export interface TraceQuery extends QueueQuery {
  queueId?: string | undefined;
  /** Accepted (or refused) at or after / before these times (ms). */
  since?: number | undefined;
  until?: number | undefined;
  /** At most this many messages, the most recent (default 50). */
  limit?: number | undefined;
}

export type TraceOutcome = AttemptOutcome | 'queued' | 'rejected' | 'deleted';

export interface MessageTrace {
  queueId: string | null;
  workspace: string | null;
  /** When it was accepted or refused (the first record seen, if the acceptance is not in the trace). */
  at: string;
  /**
   * The last attempt's outcome; `queued`: accepted, no attempt yet (or its record was lost);
   * `deleted`: its last audit record says it was deleted.
   */
  outcome: TraceOutcome;
  accepted: AcceptedRecord | null;
  rejected: RejectedRecord | null;
  attempts: AttemptRecord[];
  /**
   * Its audit records, in order: the one written when it left the queue (delivered, dead or
   * deleted), and more when it came back (a dead message requeued, or deleted later). The last is
   * its end.
   */
  audits: AuditRecord[];
}

export interface TraceResult {
  traces: MessageTrace[];
  /** Matches left out by the limit (older ones). */
  more: number;
}

const searchable = (r: AcceptedRecord | RejectedRecord): Searchable =>
  r.type === 'accepted'
    ? { ...r, ...(r.fromRewritten ? { rewrite: { from: r.fromRewritten } } : {}) }
    : { messageId: null, sender: '', mailFrom: r.mailFrom ?? '', from: null, recipients: r.recipients ?? [], headerRecipients: [], bcc: [] };

function addStep(t: MessageTrace, r: AttemptRecord | AuditRecord): void {
  if (r.type === 'audit') t.audits.push(r);
  else t.attempts.push(r);
}

export async function findTraces(files: TraceFiles, query: TraceQuery): Promise<TraceResult> {
  // Records keep the Message-ID as logged (an odd one hashed): compare the query in that form.
  const q = query.messageId === undefined || /^sha256:/i.test(query.messageId.trim()) ? query : { ...query, messageId: safeMessageId(query.messageId.trim()) ?? query.messageId };
  const hasAddressQuery = q.messageId !== undefined || q.sender !== undefined || q.recipient !== undefined;
  const inRange = (at: string) => {
    const t = Date.parse(at);
    return (q.since === undefined || t >= q.since) && (q.until === undefined || t < q.until);
  };
  const matches = (r: AcceptedRecord | RejectedRecord) =>
    (q.queueId === undefined || r.queueId === q.queueId) && inRange(r.at) && (!hasAddressQuery || matchesQuery(searchable(r), q));
  const byId = new Map<string, MessageTrace>();
  const found: MessageTrace[] = [];
  const entry = (r: TraceRecord): MessageTrace => ({
    queueId: r.queueId ?? null,
    workspace: r.workspace ?? null,
    at: r.at,
    outcome: r.type === 'rejected' ? 'rejected' : 'queued',
    accepted: r.type === 'accepted' ? r : null,
    rejected: r.type === 'rejected' ? r : null,
    attempts: [],
    audits: [],
  });
  // Pass 1: acceptances and refusals in the time range (by queue id: every day, and its attempts).
  const byQueueId = q.queueId !== undefined;
  const from = byQueueId || q.since === undefined ? undefined : dayOf(q.since);
  const to = byQueueId || q.until === undefined ? undefined : dayOf(q.until);
  let firstDay: string | undefined;
  for await (const r of files.read(from, to)) {
    if (r.type === 'attempt' || r.type === 'audit') {
      if (!byQueueId || r.queueId !== q.queueId) continue;
      let t = byId.get(r.queueId);
      if (!t) {
        t = entry(r);
        byId.set(r.queueId, t);
        found.push(t);
      }
      addStep(t, r);
      continue;
    }
    if (!matches(r)) continue;
    const known = r.queueId ? byId.get(r.queueId) : undefined;
    if (known && r.type === 'accepted') Object.assign(known, { accepted: r, at: r.at });
    else if (!known) {
      const t = entry(r);
      if (r.queueId) byId.set(r.queueId, t);
      found.push(t);
    }
    firstDay ??= dayOf(Date.parse(r.at));
  }
  // Pass 2: the attempts of what matched, from the first match's day on.
  if (!byQueueId && byId.size) {
    for await (const r of files.read(firstDay)) {
      if (r.type === 'attempt' || r.type === 'audit') {
        const t = byId.get(r.queueId);
        if (t) addStep(t, r);
      }
    }
  }
  for (const t of found) {
    const last = t.attempts[t.attempts.length - 1];
    if (last) t.outcome = last.outcome;
    if (t.audits.at(-1)?.outcome === 'deleted') t.outcome = 'deleted';
  }
  found.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
  const limit = q.limit ?? 50;
  const more = Math.max(0, found.length - limit);
  return { traces: found.slice(more), more };
}
