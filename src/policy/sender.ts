/**
 * Which workspace a message belongs to and which user Google sends it as, decided from the
 * envelope sender (MAIL FROM). Order: senders.map, then the address itself when it is in a
 * workspace domain, then senders.default. Never guesses between workspaces. A sender without a
 * domain (`scanner2`, as many scanners send) is only ever mapped, never defaulted.
 */
import type { Config, WorkspaceConfig } from '../config/index.js';
import { checkMailbox, parseMailbox } from './address.js';
import { type Refusal, refuse } from './decision.js';
import { workspaceOfDomain } from './domain.js';

export type SenderDecision =
  | {
      ok: true;
      workspace: WorkspaceConfig;
      /** The workspace user Google sends as (normalized address). */
      sender: string;
      /** How it was decided: a senders.map entry, the address itself, or senders.default. */
      via: 'map' | 'address' | 'default';
    }
  | Refusal;

export type ResolveSenderOptions = {
  /** The listener's workspace, when the listener is bound to one: only it is considered. */
  workspace?: WorkspaceConfig | undefined;
};

const names = (ws: readonly WorkspaceConfig[]) => ws.map((w) => w.name);

/** Does a senders.map key (as written in config) name this MAIL FROM? Case-insensitive, and
 * equal when both parse to the same normalized address (e.g. U-label vs A-label domain). */
function keyMatches(key: string, mailFrom: string, normalized: string | null): boolean {
  if (key.toLowerCase() === mailFrom.toLowerCase()) return true;
  return normalized !== null && parseMailbox(key)?.address === normalized;
}

function fromDefault(candidates: readonly WorkspaceConfig[], sender: string): SenderDecision {
  const withDefault = candidates.filter((w) => w.senders.default !== null);
  if (withDefault.length === 1) {
    const w = withDefault[0]!;
    return { ok: true, workspace: w, sender: w.senders.default!, via: 'default' };
  }
  if (withDefault.length > 1) return refuse('senderDefaultAmbiguous', { sender, workspaces: names(withDefault) });
  if (sender === '') return refuse('nullSenderNoDefault');
  return refuse('senderNotServed', { sender });
}

/**
 * Decide the workspace and the sending user for an envelope sender ("" is the null sender).
 * With `opts.workspace` only that workspace's mapping, domains and default are used.
 */
export function resolveSender(config: Pick<Config, 'workspaces'>, mailFrom: string, opts: ResolveSenderOptions = {}): SenderDecision {
  const candidates = opts.workspace ? [opts.workspace] : config.workspaces;
  const parsed = mailFrom === '' ? null : checkMailbox(mailFrom);
  const normalized = parsed?.ok ? parsed.address : null;
  const address = normalized ?? mailFrom;

  const mapped: { workspace: WorkspaceConfig; sender: string }[] = [];
  for (const w of candidates) {
    for (const [key, user] of Object.entries(w.senders.map)) {
      if (keyMatches(key, mailFrom, normalized)) mapped.push({ workspace: w, sender: user });
    }
  }
  const distinct = new Set(mapped.map((m) => `${m.workspace.name}\n${m.sender}`));
  if (distinct.size > 1) {
    const workspaces = [...new Set(mapped.map((m) => m.workspace.name))];
    return refuse('senderMappedTwice', { sender: address, workspaces });
  }
  if (mapped.length > 0) return { ok: true, workspace: mapped[0]!.workspace, sender: mapped[0]!.sender, via: 'map' };

  if (mailFrom === '') return fromDefault(candidates, '');
  // `scanner2`: a device without a domain; only an explicit senders.map entry can say who that is
  if (!mailFrom.includes('@')) return refuse('senderUnqualified', { sender: mailFrom });
  if (!parsed?.ok) return refuse('senderInvalid', { sender: address, reason: parsed?.reason ?? 'unparseable' });
  const owner = workspaceOfDomain(config, parsed.domain) ?? (opts.workspace?.domains.includes(parsed.domain) ? opts.workspace : null);
  if (owner) {
    if (candidates.some((w) => w.name === owner.name)) {
      return { ok: true, workspace: owner, sender: parsed.address, via: 'address' };
    }
    return refuse('senderOtherWorkspace', { sender: address, owner: owner.name, workspaces: names(candidates) });
  }
  return fromDefault(candidates, address);
}
