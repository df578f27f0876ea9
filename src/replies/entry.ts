/**
 * One entry of the reply table (table.ts): the reply code, the RFC 3463 enhanced status code, a
 * stable dotted code (SmtpReply.code) and the text, built from the entry's named arguments.
 */
import { withoutQuotedText } from '../safe-text.js';

/** The arguments of an entry whose text takes none. */
export type NoArgs = Record<string, never>;

export interface ReplyEntry<A> {
  /** Stable dotted name (SmtpReply.code), e.g. `policy.recipient_refused`. */
  readonly code: string;
  /** The SMTP reply code, e.g. 550. */
  readonly responseCode: number;
  /** The RFC 3463 enhanced status code, e.g. `5.7.1`; its class agrees with responseCode. */
  readonly enhanced: string;
  /** The human text after the enhanced code: names the reason and, where there is one, the fix. */
  readonly text: (args: A) => string;
}

export function entry<A extends object = NoArgs>(code: string, responseCode: number, enhanced: string, text: (args: A) => string): ReplyEntry<A> {
  return { code, responseCode, enhanced, text };
}

const MAX_SHOWN = 120;

/**
 * An address (or a piece of one) as it may appear in a reply: quoted strings replaced by `"..."`
 * (a quoted local part may hold a patient's name), printable ASCII only, so a hostile value cannot
 * inject a line break or a second reply, and cut short when long.
 */
export function show(value: string): string {
  const printable = withoutQuotedText(value).replace(/[^\x20-\x7e]/g, '?');
  return printable.length > MAX_SHOWN ? `${printable.slice(0, MAX_SHOWN)}...` : printable;
}
