/**
 * The Sender header: who sent the message on the author's behalf (RFC 5322 3.6.2). Mail programs
 * show it ("sent by … on behalf of …"), so a client may only name an address it may send as: the
 * user Google sends as, one of its verified send-as aliases (when known), or an address inside
 * the workspace that the listener's and device account's `senders` allow (the same rule as a
 * From under fromPolicy impersonate). Pure: the caller knows the aliases and `mayUse`.
 */
import type { WorkspaceConfig } from '../config/index.js';
import { parseMailbox } from './address.js';
import { type Refusal, refuse } from './decision.js';
import type { HeaderFacts } from './header-facts.js';

export interface SenderHeaderInput {
  workspace: WorkspaceConfig;
  facts: Pick<HeaderFacts, 'senderField' | 'sender'>;
  /** The user Google sends as (after the From decision). */
  sendAs: string;
  /** May this client (listener, device account) send as this address? */
  mayUse: (address: string) => boolean;
  /** The sending user's verified send-as aliases, when looked up. */
  sendAsAliases?: ReadonlySet<string> | undefined;
}

/** null when the message has no Sender or one this client may use; else the refusal. */
export function checkSenderHeader(input: SenderHeaderInput): Refusal | null {
  const { senderField, sender } = input.facts;
  if (senderField === 'none') return null;
  if (senderField !== 'mailbox' || sender === null) return refuse('senderHeaderUnreadable', { sender: input.sendAs });
  const m = parseMailbox(sender);
  if (!m) return refuse('senderHeaderUnreadable', { sender: input.sendAs });
  if (m.address === parseMailbox(input.sendAs)?.address) return null;
  if (input.sendAsAliases && [...input.sendAsAliases].some((a) => parseMailbox(a)?.address === m.address)) return null;
  if (input.workspace.domains.includes(m.domain) && input.mayUse(m.address)) return null;
  return refuse('senderHeaderNotUsable', { address: m.address, sender: input.sendAs });
}
