/**
 * Envelope recipients (RCPT TO): each must be exactly in one of the workspace's domains.
 */
import type { WorkspaceConfig } from '../config/index.js';
import { namedReply, type NamedReply } from '../replies/index.js';
import { checkMailbox } from './address.js';
import { type Refusal, refuse } from './decision.js';

export type RecipientDecision = { ok: true; address: string; domain: string } | Refusal;

/**
 * Is this envelope recipient inside the workspace? The domain must equal one of
 * `workspace.domains` (A-labels, any case or U-label spelling); subdomains and lookalikes are
 * outside (550 5.7.1). An address that does not parse is refused with 553 5.1.3, never guessed at.
 */
export function checkRecipient(workspace: WorkspaceConfig, rcpt: string): RecipientDecision {
  const m = checkMailbox(rcpt);
  if (!m.ok) return refuse('recipientInvalid', { rcpt, reason: m.reason });
  if (!workspace.domains.includes(m.domain)) return refuse('recipientOutside', { workspace: workspace.name, rcpt: m.address });
  return { ok: true, address: m.address, domain: m.domain };
}

/** The reply to the RCPT beyond `max` (Gmail takes at most 100 recipients per message). */
export function recipientLimitReply(max: number): NamedReply {
  return namedReply('tooManyRecipients', { max });
}
