/**
 * The header recipients of a message, checked after DATA. Gmail's users.messages.send has no
 * envelope: it delivers to the To, Cc and Bcc headers, so every header recipient must be inside
 * the workspace too, and envelope recipients missing from the headers must be added as Bcc.
 */
import type { WorkspaceConfig } from '../config/index.js';
import { parseMailbox } from './address.js';
import { parseAddressList } from './address-list.js';
import { readAddressField } from './address-field.js';
import { ACTION_HEADERS, checkActionHeaders, type ActionHeaderOptions } from './action-headers.js';
import { type Refusal, refuse } from './decision.js';
import { splitHeaderFields } from './header-fields.js';

export type HeaderDecision =
  | {
      ok: true;
      /** Unique normalized addresses of To, Cc and Bcc (the fields Gmail delivers to), in order. */
      headerRecipients: string[];
      /** Every address of every recipient field checked (To, Cc, Bcc and the Resent- ones), with its field. */
      checkedRecipients: { field: string; address: string }[];
      /** Normalized envelope recipients that no To, Cc or Bcc header names: add them as Bcc. */
      bcc: string[];
      /** The first mailbox of the first From header, normalized; null when absent or unparseable. */
      from: string | null;
      /** The first Message-ID without its angle brackets; null when absent or unusable. */
      messageId: string | null;
    }
  | Refusal;

/** Fields Gmail delivers to. */
const DELIVERY_FIELDS = new Set(['to', 'cc', 'bcc']);
/** Fields that are checked as strictly, though Gmail does not deliver to them. */
const CHECKED_FIELDS = new Set([...DELIVERY_FIELDS, 'resent-to', 'resent-cc', 'resent-bcc']);

const MAX_MESSAGE_ID = 995;

/** Fields holding addresses: on the way out they are folded at whitespace only, never split. */
export const ADDRESS_FIELDS: ReadonlySet<string> = new Set([...CHECKED_FIELDS, ...ACTION_HEADERS.keys(), 'from', 'sender', 'resent-from', 'resent-sender']);
/** Lines over 998 octets are folded at whitespace on the way out; a longer run has none to fold at. */
const MAX_RUN = 990;
const LONG_RUN = new RegExp(`[^ \\t]{${MAX_RUN + 1},}`);

/**
 * The name of an address field with a run of over 990 octets without whitespace, or null. A line
 * over RFC 5322's 998 octets is folded on the way out at whitespace; such a run would have to be
 * split, and a split inside an address changes the address.
 */
function longAddressLine(headerBlock: Buffer | Uint8Array): string | null {
  const text = Buffer.from(headerBlock).toString('latin1');
  let field = '';
  for (const line of text.split(/\r?\n/)) {
    if (line === '') break;
    if (line[0] !== ' ' && line[0] !== '\t') field = line.slice(0, Math.max(0, line.indexOf(':'))).trim().toLowerCase();
    if (line.length > MAX_RUN && ADDRESS_FIELDS.has(field) && LONG_RUN.test(line)) return field;
  }
  return null;
}

function firstMailbox(value: string): string | null {
  const r = parseAddressList(value);
  return r.ok ? (r.mailboxes[0]?.address ?? null) : null;
}

function messageIdOf(value: string): string | null {
  const v = value.trim();
  const m = /^<([^<>\s]+)>/.exec(v) ?? /^([^<>\s]+)$/.exec(v);
  const id = m?.[1];
  // eslint-disable-next-line no-control-regex
  if (!id || id.length > MAX_MESSAGE_ID || /[\x00-\x1f\x7f]/.test(id)) return null;
  return id;
}

/**
 * Check every address of every To, Cc, Bcc, Resent-To, Resent-Cc and Resent-Bcc field (each
 * occurrence) against the workspace, failing closed on anything that does not parse cleanly,
 * then the headers a mail client acts on (Reply-To, receipts, List-* mailto: …,
 * action-headers.ts), and work out the Bcc list and the recipient count Gmail will see.
 */
export function checkHeaders(
  workspace: WorkspaceConfig,
  headerBlock: Buffer | Uint8Array,
  envelopeRecipients: readonly string[],
  maxRecipients: number,
  options: ActionHeaderOptions = {},
): HeaderDecision {
  const split = splitHeaderFields(headerBlock);
  if (!split.ok) return refuse('headerMalformed', { reason: split.reason });
  const long = longAddressLine(headerBlock);
  if (long) return refuse('headerLongRun', { field: long, max: MAX_RUN });

  const recipients = new Set<string>();
  const checked: { field: string; address: string }[] = [];
  let from: string | null = null;
  let messageId: string | null = null;
  let sawFrom = false;
  let sawMessageId = false;
  for (const { key, value } of split.fields) {
    if (key === 'from' && !sawFrom) {
      sawFrom = true;
      from = firstMailbox(value);
    } else if (key === 'message-id' && !sawMessageId) {
      sawMessageId = true;
      messageId = messageIdOf(value);
    }
    if (!CHECKED_FIELDS.has(key)) continue;
    const parsed = readAddressField(value);
    if (!parsed.ok) return refuse('headerRecipientUnreadable', { field: key, reason: parsed.reason, near: parsed.near });
    for (const m of parsed.mailboxes) {
      if (!workspace.domains.includes(m.domain)) return refuse('headerRecipientOutside', { field: key, workspace: workspace.name, rcpt: m.address });
    }
    if (parsed.ambiguous) return refuse('headerRecipientAmbiguous', { field: key });
    const addresses = parsed.mailboxes.map((m) => m.address);
    for (const address of addresses) checked.push({ field: key, address });
    if (DELIVERY_FIELDS.has(key)) for (const a of addresses) recipients.add(a);
  }
  const action = checkActionHeaders(workspace, split.fields, options);
  if (action) return action;

  const bcc = new Set<string>();
  for (const rcpt of envelopeRecipients) {
    // Checked at RCPT already; checked again so that a caller's mistake cannot add an outside Bcc.
    const m = parseMailbox(rcpt);
    if (!m || !workspace.domains.includes(m.domain)) return refuse('envelopeRecipientOutside', { workspace: workspace.name, rcpt: m?.address ?? rcpt });
    if (!recipients.has(m.address)) bcc.add(m.address);
  }
  if (recipients.size + bcc.size > maxRecipients) {
    return refuse('headerTooManyRecipients', { header: recipients.size, bcc: bcc.size, max: maxRecipients });
  }
  return { ok: true, headerRecipients: [...recipients], checkedRecipients: checked, bcc: [...bcc], from, messageId };
}
