/**
 * Envelope recipients (RCPT TO): each must be exactly in one of the workspace's domains.
 */
import type { WorkspaceConfig } from '../config/schema.js';
import { checkMailbox } from './address.js';
import { POLICY_CODES, type Refusal, refuse, show } from './decision.js';

export type RecipientDecision = { ok: true; address: string; domain: string } | Refusal;

export const INSIDE_ONLY = 'mail is only relayed inside the organisation';

/** The 550 for an address outside the workspace (also used for header recipients' wording). */
export function outsideReason(workspace: WorkspaceConfig, address: string): string {
  return `recipient <${show(address)}> outside ${workspace.name}: ${INSIDE_ONLY}`;
}

/**
 * Is this envelope recipient inside the workspace? The domain must equal one of
 * `workspace.domains` (A-labels, any case or U-label spelling); subdomains and lookalikes are
 * outside. An address that does not parse is refused with 553 5.1.3, never guessed at.
 */
export function checkRecipient(workspace: WorkspaceConfig, rcpt: string): RecipientDecision {
  const m = checkMailbox(rcpt);
  if (!m.ok) {
    return refuse(
      POLICY_CODES.recipientInvalid,
      553,
      '5.1.3',
      `recipient <${show(rcpt)}> is not a valid address: ${m.reason}`,
    );
  }
  if (!workspace.domains.includes(m.domain)) {
    return refuse(POLICY_CODES.recipientRefused, 550, '5.7.1', outsideReason(workspace, m.address));
  }
  return { ok: true, address: m.address, domain: m.domain };
}

/** The reply to the RCPT beyond `max` (Gmail takes at most 100 recipients per message). */
export function recipientLimitReply(max: number): Refusal['reply'] {
  return refuse(
    POLICY_CODES.tooManyRecipients,
    452,
    '4.5.3',
    `too many recipients: at most ${max} per message, send the rest in another transaction`,
  ).reply;
}
