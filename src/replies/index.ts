/**
 * replies: every SMTP reply the relay chooses, as one table of named entries (table.ts). A leaf
 * module like config, log and errors: policy (pure) and the queue's backpressure return names
 * from it without knowing the listener, and the listener (src/smtp) renders them. See
 * docs/replies.md.
 */
export { show, type NoArgs, type ReplyEntry } from './entry.js';
export { FROM_POLICY_CODES, POLICY_CODES, REPLIES } from './table.js';
export { namedReply, renderReply, smtpReply, type NamedReply, type ReplyArgList, type ReplyArgs, type ReplyName } from './render.js';
