/**
 * policy: the workspace boundary. Pure functions, no I/O: given config and an envelope (and,
 * after DATA, the header section) decide the workspace, the sending user, and whether every
 * recipient is inside. Each returns a decision ({ ok: true, ... } or { ok: false, reply } where
 * reply names an entry of src/replies), never throws, and fails closed: an address it cannot
 * parse is refused.
 */
export { checkMailbox, parseMailbox, withoutSourceRoute, MAX_ADDRESS, MAX_LOCAL_PART, type Mailbox, type MailboxResult } from './address.js';
export { parseAddressList, type AddressListResult } from './address-list.js';
export { POLICY_CODES, type Refusal } from './decision.js';
export { isWorkspaceDomain, normalizeDomain, workspaceOfDomain, type DomainResult } from './domain.js';
export { splitHeaderFields, type HeaderField, type HeaderFieldsResult } from './header-fields.js';
export { ADDRESS_FIELDS, checkHeaders, type HeaderDecision } from './headers.js';
export { ACTION_HEADERS, checkActionHeaders, type ActionHeader, type ActionHeaderOptions } from './action-headers.js';
export { checkSenderHeader, type SenderHeaderInput } from './sender-header.js';
export { readUriList } from './mailto.js';
export { checkRecipient, recipientLimitReply, type RecipientDecision } from './recipients.js';
export { decideRecipientExistence, type DirectoryAnswer } from './recipient-existence.js';
export { resolveSender, type ResolveSenderOptions, type SenderDecision } from './sender.js';
export * from './from-policy.js';
export { planRewrite, rfc5322Date, type MessageRewrite, type PlanRewriteInput } from './rewrite-plan.js';
