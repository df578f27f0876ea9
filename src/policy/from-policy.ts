/**
 * Who Google sends as, and what happens to a From header that is not that user. Gmail silently
 * replaces a From that is not the impersonated user or one of their verified send-as aliases (and
 * still answers 200), so the relay decides From explicitly, per listener `fromPolicy`:
 *
 * - From is the sending user, or one of their verified send-as aliases (when known): unchanged.
 * - No From field (devices often omit it): the relay adds `From: <sender>`, whatever the policy.
 * - `rewrite`: From becomes the sending user, display name kept. With `replyToOriginal` the
 *   original From address goes into Reply-To, when the message has no Reply-To and the original
 *   address is inside the workspace (an outside address there would have staff reply to it).
 * - `impersonate`: send as the From user when it is inside the same workspace (exact domain) and
 *   the client may use it (`mayUse`: listener / device senders). A From inside the workspace that
 *   the client may not use is refused (550: the client claims a colleague's identity). A From
 *   outside the workspace, unreadable or with several mailboxes cannot be impersonated at all
 *   (Google sends only as its own users): it is rewritten as under `rewrite`.
 * - `reject`: 550 5.7.1. When the send-as aliases could not be listed (Google unreachable) the
 *   answer is 451 4.4.3 instead: the From may be a valid alias, and the client tries again later.
 *
 * Pure: no I/O. The aliases come from src/google/send-as.ts, looked up by the caller.
 */
import type { WorkspaceConfig, ListenerConfig } from '../config/index.js';
import { parseMailbox } from './address.js';
import { type Refusal, refuse } from './decision.js';
import type { FromField } from './header-facts.js';

export { readHeaderFacts, type FromField, type HeaderFacts } from './header-facts.js';

export type FromPolicy = ListenerConfig['fromPolicy'];

export { FROM_POLICY_CODES } from './decision.js';

export interface FromPolicyInput {
  workspace: WorkspaceConfig;
  /** The user Google sends as after sender mapping (for transport smtp: workspace.smtp.user). */
  sender: string;
  /** The From mailbox's address (normalized), or null. */
  from: string | null;
  /** The shape of From (readHeaderFacts); default `none` when from is null, else `mailbox`. */
  fromField?: FromField | undefined;
  fromPolicy: FromPolicy;
  /** Listener `replyToOriginal`: with rewrite, keep the original From address in Reply-To. */
  replyToOriginal?: boolean | undefined;
  /** The message has a Reply-To field already (it is then left alone). */
  hasReplyTo?: boolean | undefined;
  /** May this client (listener, device account) send as this address? Asked only for impersonate. */
  mayUse: (address: string) => boolean;
  /** The sender's verified send-as addresses (lowercase), when verifySendAs looked them up. */
  sendAsAliases?: ReadonlySet<string> | undefined;
  /** verifySendAs is on but the aliases could not be listed now (Google down, scope missing). */
  aliasesUnavailable?: boolean | undefined;
}

/** How From was decided (log field `fromOutcome`). */
export type FromOutcome = 'unchanged' | 'alias' | 'added' | 'rewritten' | 'impersonated';

export type FromAccepted = {
  ok: true;
  /** The user Google will send as: store it as meta.sender. */
  sendAs: string;
  /** Replace the From address (or add From when there is none) with this one. */
  rewriteFrom?: { address: string; keepDisplayName: true };
  /** Add `Reply-To: <replyTo>` (the original From address). */
  replyTo?: string;
  outcome: FromOutcome;
};

export type FromDecision = FromAccepted | Refusal;

const norm = (address: string) => parseMailbox(address)?.address ?? address.toLowerCase();

export function decideFrom(input: FromPolicyInput): FromDecision {
  const sender = norm(input.sender);
  const fromField = input.fromField ?? (input.from === null ? 'none' : 'mailbox');
  const from = fromField === 'mailbox' && input.from !== null ? parseMailbox(input.from) : null;

  if (fromField === 'none') return { ok: true, sendAs: sender, rewriteFrom: { address: sender, keepDisplayName: true }, outcome: 'added' };
  if (from?.address === sender) return { ok: true, sendAs: sender, outcome: 'unchanged' };
  if (from && input.sendAsAliases && hasAlias(input.sendAsAliases, from.address)) return { ok: true, sendAs: sender, outcome: 'alias' };

  const inside = from !== null && input.workspace.domains.includes(from.domain);
  switch (input.fromPolicy) {
    case 'reject':
      return rejectFrom(input, fromField, from?.address ?? null, sender);
    case 'impersonate':
      if (from && inside) {
        if (input.mayUse(from.address)) return { ok: true, sendAs: from.address, outcome: 'impersonated' };
        return refuse('fromNotUsable', { from: from.address, sender });
      }
      return rewrite(input, sender, from?.address ?? null, inside);
    case 'rewrite':
      return rewrite(input, sender, from?.address ?? null, inside);
  }
}

function hasAlias(aliases: ReadonlySet<string>, address: string): boolean {
  if (aliases.has(address)) return true;
  for (const a of aliases) if (norm(a) === address) return true;
  return false;
}

function rewrite(input: FromPolicyInput, sender: string, original: string | null, inside: boolean): FromAccepted {
  const out: FromAccepted = { ok: true, sendAs: sender, rewriteFrom: { address: sender, keepDisplayName: true }, outcome: 'rewritten' };
  if (input.replyToOriginal && !input.hasReplyTo && original !== null && inside) out.replyTo = original;
  return out;
}

function rejectFrom(input: FromPolicyInput, fromField: FromField, from: string | null, sender: string): Refusal {
  if (from === null) return refuse('fromUnreadable', { several: fromField === 'several', sender });
  if (input.aliasesUnavailable) return refuse('fromUnverifiable', { from, sender });
  return refuse('fromNotSender', { from, sender, aliasesKnown: input.sendAsAliases !== undefined });
}
