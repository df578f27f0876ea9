/**
 * One header field that holds an address list, read the way the relay relies on: strictly
 * (address-list.ts, failing closed) and then a second opinion from nodemailer's lenient parser
 * (what the rest of the mail stack uses). The two must find the same addresses, or the field is
 * ambiguous: some mail program could read it another way.
 */
import addressparser from 'nodemailer/lib/addressparser';
import { parseMailbox, type Mailbox } from './address.js';
import { parseAddressList } from './address-list.js';

export type AddressFieldResult =
  /** `ambiguous`: the lenient reading differs (refuse, after saying which address is outside). */
  | { ok: true; mailboxes: Mailbox[]; ambiguous: boolean }
  | { ok: false; reason: string; near?: string };

export function readAddressField(value: string): AddressFieldResult {
  const parsed = parseAddressList(value);
  if (!parsed.ok) return parsed;
  return { ok: true, mailboxes: parsed.mailboxes, ambiguous: !lenientAgrees(value, parsed.mailboxes.map((m) => m.address)) };
}

function lenientAgrees(value: string, strict: string[]): boolean {
  let lenient: string[];
  try {
    lenient = addressparser(value, { flatten: true }).map((a) => parseMailbox(a.address)?.address ?? `\u0000${a.address}`);
  } catch {
    return false;
  }
  const a = [...strict].sort();
  const b = lenient.sort();
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
