/**
 * What the From policy and the hygiene plan need to know about a received header section: the
 * shape of From (none, one mailbox, unreadable, several), and whether Reply-To, Date and
 * Message-ID are present. Field presence is what counts: a message never gets a second Date or
 * Message-ID field, even when its own is malformed.
 */
import addressparser from 'nodemailer/lib/addressparser';
import { parseAddressList } from './address-list.js';
import { splitHeaderFields } from './header-fields.js';

/**
 * - `none`: no From field (devices often omit it): the relay adds one.
 * - `mailbox`: exactly one From field naming exactly one mailbox.
 * - `unreadable`: a From field whose address cannot be read strictly (or names no one).
 * - `several`: more than one From field, a From with several mailboxes, or a group.
 */
export type FromField = 'none' | 'mailbox' | 'unreadable' | 'several';

export interface HeaderFacts {
  fromField: FromField;
  /** The normalized address of the From mailbox when fromField is `mailbox`, else null. */
  from: string | null;
  /** The shape of Sender, read as From is (`none` when the message has no Sender). */
  senderField: FromField;
  /** The normalized address of the Sender mailbox when senderField is `mailbox`, else null. */
  sender: string | null;
  hasReplyTo: boolean;
  hasDate: boolean;
  hasMessageId: boolean;
}

/** Read the facts from the header section (the bytes up to the first empty line, or more). */
export function readHeaderFacts(headerBlock: Buffer | Uint8Array): HeaderFacts {
  const split = splitHeaderFields(headerBlock);
  const fields = split.ok ? split.fields : [];
  const count = (key: string) => fields.filter((f) => f.key === key).length;
  const { field: fromField, address: from } = readMailboxField(split.ok, fields.filter((f) => f.key === 'from'));
  const { field: senderField, address: sender } = readMailboxField(split.ok, fields.filter((f) => f.key === 'sender'));
  return { fromField, from, senderField, sender, hasReplyTo: count('reply-to') > 0, hasDate: count('date') > 0, hasMessageId: count('message-id') > 0 };
}

/** From or Sender: none, exactly one mailbox, several, or unreadable (also when the section is). */
function readMailboxField(readable: boolean, occurrences: readonly { value: string }[]): { field: FromField; address: string | null } {
  if (!readable) return { field: 'unreadable', address: null };
  if (occurrences.length > 1) return { field: 'several', address: null };
  if (occurrences.length === 0) return { field: 'none', address: null };
  const r = readFrom(occurrences[0]!.value);
  return { field: r.fromField, address: r.from };
}

function readFrom(value: string): { fromField: FromField; from: string | null } {
  const strict = parseAddressList(value);
  if (!strict.ok || strict.mailboxes.length === 0) return { fromField: 'unreadable', from: null };
  if (strict.mailboxes.length > 1 || isGroup(value)) return { fromField: 'several', from: null };
  return { fromField: 'mailbox', from: strict.mailboxes[0]!.address };
}

/** A group (`Team: a@x;`) even of one member: From names mailboxes, not groups. */
function isGroup(value: string): boolean {
  try {
    const entries = addressparser(value);
    return entries.length !== 1 || 'group' in entries[0]!;
  } catch {
    return true;
  }
}
