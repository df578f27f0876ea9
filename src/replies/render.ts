/**
 * A reply by name: what policy, backpressure and the listener's stages return (NamedReply), and
 * the one function that turns it into the SmtpReply the listener sends (renderReply).
 */
import { SmtpReply } from '../errors.js';
import type { NoArgs, ReplyEntry } from './entry.js';
import { REPLIES } from './table.js';

type Table = typeof REPLIES;
export type ReplyName = keyof Table;
export type ReplyArgs<N extends ReplyName> = Table[N] extends ReplyEntry<infer A> ? A : never;
/** The arguments after the name: none for a reply whose text takes none. */
export type ReplyArgList<N extends ReplyName> = ReplyArgs<N> extends NoArgs ? [] : [args: ReplyArgs<N>];

/** A decision to reply: the table entry's name and its arguments. */
export type NamedReply = { [N in ReplyName]: { readonly name: N; readonly args: ReplyArgs<N> } }[ReplyName];

export function namedReply<N extends ReplyName>(name: N, ...args: ReplyArgList<N>): NamedReply {
  return { name, args: args[0] ?? {} } as NamedReply;
}

/** The reply on the wire: code, enhanced code and text from the table. */
export function renderReply(reply: NamedReply): SmtpReply {
  const e = REPLIES[reply.name] as ReplyEntry<unknown>;
  return new SmtpReply(e.code, e.responseCode, e.enhanced, e.text(reply.args));
}

/** namedReply and renderReply in one, for the listener's own replies. */
export function smtpReply<N extends ReplyName>(name: N, ...args: ReplyArgList<N>): SmtpReply {
  return renderReply(namedReply(name, ...args));
}
