/**
 * Headers a mail client acts on to send mail by itself or on one click: where a reply, a read
 * receipt, a bounce or a list command goes. They are held to the workspace boundary like To and
 * Cc, or staff who press Reply (or a client that sends a receipt) would mail the patient data
 * outside. docs/edge.md lists each with the reason, and the ones left out (Return-Path: Gmail
 * replaces it).
 *
 * - `reply`: a person acts (Reply, Reply All, Unsubscribe): the listener may opt out with
 *   `allowOutsideReplyAddresses` (a documented, explicit key);
 * - `automatic`: a program acts without asking anyone (receipts, bounces): always held.
 */
import type { WorkspaceConfig } from '../config/index.js';
import type { Mailbox } from './address.js';
import { readAddressField } from './address-field.js';
import { type Refusal, refuse } from './decision.js';
import type { HeaderField } from './header-fields.js';
import { readUriList } from './mailto.js';

export interface ActionHeader {
  /** The field name as written in replies and docs. */
  readonly name: string;
  /** addresses: an address list; uris: RFC 2369 <URI> list (mailto: counts); copies: Mail-Copies-To. */
  readonly holds: 'addresses' | 'uris' | 'copies';
  readonly acts: 'reply' | 'automatic';
}

const h = (name: string, holds: ActionHeader['holds'], acts: ActionHeader['acts']): ActionHeader => ({ name, holds, acts });

/** By lowercase field name. */
export const ACTION_HEADERS: ReadonlyMap<string, ActionHeader> = new Map(
  [
    h('Reply-To', 'addresses', 'reply'), // RFC 5322: Reply and Reply All write to it
    h('Mail-Reply-To', 'addresses', 'reply'), // draft-ietf-drums-mail-followup-to: Reply (mutt, Gnus, Thunderbird)
    h('Mail-Followup-To', 'addresses', 'reply'), // the same draft: Reply All / list reply
    h('Resent-Reply-To', 'addresses', 'reply'), // RFC 822 (obsolete, still read by some clients)
    h('Mail-Copies-To', 'copies', 'reply'), // Gnus and slrn: a copy of a follow-up goes there
    h('List-Post', 'uris', 'reply'), // RFC 2369: "Reply to list" (Thunderbird) writes to it
    h('List-Unsubscribe', 'uris', 'reply'), // RFC 2369 / 8058: Gmail's Unsubscribe sends the mailto: itself
    h('List-Subscribe', 'uris', 'reply'),
    h('List-Help', 'uris', 'reply'),
    h('List-Owner', 'uris', 'reply'),
    h('List-Archive', 'uris', 'reply'),
    h('Disposition-Notification-To', 'addresses', 'automatic'), // RFC 8098: read receipts, sent without asking by some clients
    h('Return-Receipt-To', 'addresses', 'automatic'), // pre-MDN receipts (Sendmail, Outlook, Pegasus)
    h('X-Confirm-Reading-To', 'addresses', 'automatic'), // Pegasus Mail's read receipt
    h('Errors-To', 'addresses', 'automatic'), // obsolete bounce address some MTAs still honour
  ].map((x) => [x.name.toLowerCase(), x]),
);

/** Mail-Copies-To keywords (no address). */
const COPIES_KEYWORDS = /^[ \t]*(never|nobody|always|poster)[ \t]*$/i;

export interface ActionHeaderOptions {
  /** listen[].allowOutsideReplyAddresses: `reply` headers may name outside addresses. */
  allowOutsideReply?: boolean | undefined;
}

/** The mailboxes a field names, or why it cannot be read. */
function readField(header: ActionHeader, key: string, value: string): { ok: true; mailboxes: Mailbox[]; ambiguous: boolean } | { ok: false; reason: string } {
  if (header.holds === 'uris') return readUriList(value, key === 'list-post');
  if (header.holds === 'copies' && COPIES_KEYWORDS.test(value)) return { ok: true, mailboxes: [], ambiguous: false };
  return readAddressField(value);
}

/**
 * Refuse the message when a listed header names an address outside the workspace (550 5.7.1
 * naming the header) or cannot be read with certainty; null when every one is fine.
 */
export function checkActionHeaders(workspace: WorkspaceConfig, fields: readonly HeaderField[], options: ActionHeaderOptions = {}): Refusal | null {
  for (const { key, value } of fields) {
    const header = ACTION_HEADERS.get(key);
    if (!header || (header.acts === 'reply' && options.allowOutsideReply)) continue;
    const r = readField(header, key, value);
    if (!r.ok) return refuse('actionHeaderUnreadable', { field: header.name, reason: r.reason });
    const outside = r.mailboxes.find((m) => !workspace.domains.includes(m.domain));
    if (outside) return refuse('actionHeaderOutside', { field: header.name, workspace: workspace.name, address: outside.address, automatic: header.acts === 'automatic' });
    if (r.ambiguous) return refuse('actionHeaderUnreadable', { field: header.name, reason: 'the address list can be read more than one way: write it as Name <user@domain>, separated by commas' });
  }
  return null;
}
