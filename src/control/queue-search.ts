/**
 * `queue find`: which messages match what an admin copied from Google's Email Log Search (a
 * Message-ID, a sender, a recipient). Addresses compare as mailboxes: case-insensitively, with
 * or without <> or a display name, a trailing dot, and an IDN domain as U-label or A-label (the
 * spool keeps A-labels); a Message-ID with or without its <>.
 */
import { parseAddressList } from '../policy/index.js';
import type { MessageMeta } from '../spool/index.js';

export interface QueueQuery {
  messageId?: string | undefined;
  sender?: string | undefined;
  recipient?: string | undefined;
}

const norm = (s: string) => s.trim().toLowerCase();
const bareId = (s: string) => norm(s).replace(/^<|>$/g, '');

/** One address as the spool keeps it; what does not parse as one mailbox compares as typed. */
function addressKey(s: string): string {
  const typed = norm(s).replace(/^<(.*)>$/, '$1').replace(/\.$/, '');
  const parsed = parseAddressList(s.trim().replace(/\.(>?)$/, '$1'));
  return parsed.ok && parsed.mailboxes.length === 1 ? parsed.mailboxes[0]!.address.toLowerCase() : typed;
}

/** What a query looks at: a message's metadata, or a trace record of its acceptance (src/trace). */
export type Searchable = Pick<MessageMeta, 'messageId' | 'sender' | 'mailFrom' | 'from' | 'recipients' | 'headerRecipients' | 'bcc'> & {
  rewrite?: { from?: string | undefined; addMessageId?: string | undefined } | undefined;
};

/** Every given criterion must match (AND). An empty query matches nothing. */
export function matchesQuery(meta: Searchable, q: QueueQuery): boolean {
  if (q.messageId === undefined && q.sender === undefined && q.recipient === undefined) return false;
  const rewrite = meta.rewrite;
  if (q.messageId !== undefined) {
    // the header as received, or the one the relay added when there was none (what Google logs)
    const ids = [meta.messageId, rewrite?.addMessageId].filter((x): x is string => !!x).map(bareId);
    if (!ids.includes(bareId(q.messageId))) return false;
  }
  if (q.sender !== undefined) {
    const senders = [meta.sender, meta.mailFrom, meta.from, rewrite?.from].filter((x): x is string => !!x).map(addressKey);
    if (!senders.includes(addressKey(q.sender))) return false;
  }
  if (q.recipient !== undefined) {
    const rcpts = [...meta.recipients, ...meta.headerRecipients, ...meta.bcc].map(addressKey);
    if (!rcpts.includes(addressKey(q.recipient))) return false;
  }
  return true;
}
