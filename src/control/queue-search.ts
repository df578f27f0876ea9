/**
 * `queue find`: which messages match what an admin copied from Google's Email Log Search (a
 * Message-ID, a sender, a recipient). Addresses compare case-insensitively; a Message-ID with or
 * without its <>.
 */
import type { MessageMeta } from '../spool/index.js';

export interface QueueQuery {
  messageId?: string | undefined;
  sender?: string | undefined;
  recipient?: string | undefined;
}

const norm = (s: string) => s.trim().toLowerCase();
const bareId = (s: string) => norm(s).replace(/^<|>$/g, '');

/** Every given criterion must match (AND). An empty query matches nothing. */
export function matchesQuery(meta: MessageMeta, q: QueueQuery): boolean {
  if (q.messageId === undefined && q.sender === undefined && q.recipient === undefined) return false;
  const rewrite = (meta as { rewrite?: { from?: string; addMessageId?: string } }).rewrite;
  if (q.messageId !== undefined) {
    // the header as received, or the one the relay added when there was none (what Google logs)
    const ids = [meta.messageId, rewrite?.addMessageId].filter((x): x is string => !!x).map(bareId);
    if (!ids.includes(bareId(q.messageId))) return false;
  }
  if (q.sender !== undefined) {
    const senders = [meta.sender, meta.mailFrom, meta.from, rewrite?.from].filter((x): x is string => !!x).map(norm);
    if (!senders.includes(norm(q.sender))) return false;
  }
  if (q.recipient !== undefined) {
    const rcpts = [...meta.recipients, ...meta.headerRecipients, ...meta.bcc].map(norm);
    if (!rcpts.includes(norm(q.recipient))) return false;
  }
  return true;
}
