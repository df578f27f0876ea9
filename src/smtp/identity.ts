/**
 * Who Google sends as, decided at DATA once the headers are known: the listener's fromPolicy
 * (rewrite / impersonate / reject) against the From header, optionally the sender's verified
 * send-as aliases, and the header changes to apply on the way out (From, Reply-To, a missing Date
 * or Message-ID), decided once so every retry sends the same bytes. A Sender header must name an
 * address this client may send as (src/policy/sender-header.ts).
 */
import { randomUUID } from 'node:crypto';
import type { SendAsVerifier } from '../google/index.js';
import { checkSenderHeader, decideFrom, planRewrite, readHeaderFacts, type FromOutcome, type Refusal } from '../policy/index.js';
import type { MessageRewrite } from '../spool/index.js';
import type { Runtime } from './runtime.js';
import type { Transaction } from './types.js';

export type IdentityDecision = { ok: true; sender: string; rewrite: MessageRewrite | undefined; outcome: FromOutcome } | Refusal;

export async function decideIdentity(rt: Runtime, tx: Transaction, header: Buffer): Promise<IdentityDecision> {
  const listener = rt.listener();
  const ws = tx.workspace;
  const facts = readHeaderFacts(header);
  // Gmail SMTP sends everything as its one account; the Gmail API as the mapped user.
  const viaSmtp = ws.transport === 'smtp';
  const sender = viaSmtp ? ws.smtp!.user : tx.sender;
  const verifier: SendAsVerifier | undefined = ws.transport === 'gmail-api' && listener.verifySendAs ? rt.deps.sendAs?.(ws.name) : undefined;
  const aliases = verifier ? await verifier.aliasesOrUnknown(sender) : undefined;
  const mayUse = (address: string) =>
    (!tx.device?.senders || tx.device.senders.includes(address)) && (!listener.senders || listener.senders.includes(address));
  const d = decideFrom({
    workspace: ws,
    sender,
    from: facts.from,
    fromField: facts.fromField,
    // impersonation needs a token per user, which only the Gmail API has
    fromPolicy: viaSmtp && listener.fromPolicy === 'impersonate' ? 'rewrite' : listener.fromPolicy,
    replyToOriginal: listener.replyToOriginal,
    hasReplyTo: facts.hasReplyTo,
    mayUse,
    sendAsAliases: aliases,
    aliasesUnavailable: verifier !== undefined && aliases === undefined,
  });
  if (!d.ok) return d;
  const senderHeader = checkSenderHeader({ workspace: ws, facts, sendAs: d.sendAs, mayUse, sendAsAliases: aliases });
  if (senderHeader) return senderHeader;
  return { ok: true, sender: viaSmtp ? tx.sender : d.sendAs, rewrite: planRewrite({ from: d, facts, now: new Date(rt.clock.now()), randomId: messageIdLeft }), outcome: d.outcome };
}

/** Left part of a Message-ID the relay adds: a random UUID without dashes. */
export function messageIdLeft(): string {
  return randomUUID().replace(/-/g, '');
}
