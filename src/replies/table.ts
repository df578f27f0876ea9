/**
 * Every reply the relay chooses itself, in one table: name → reply code, RFC 3463 enhanced code,
 * stable dotted code and text. Policy, the queue's backpressure and the listener's stages return
 * a name and its arguments (NamedReply); only the listener renders them (render.ts). Adding a
 * reply is one entry here. Addresses are shown through show() (printable ASCII, cut short).
 * smtp-server's own replies (greeting, EHLO, 500/501/503 syntax, 421 4.4.2 idle) are not here.
 */
import { entry, show } from './entry.js';

/** Stable codes of policy refusals (also SmtpReply.code). */
export const POLICY_CODES = {
  senderRefused: 'policy.sender_refused',
  senderInvalid: 'policy.sender_invalid',
  recipientRefused: 'policy.recipient_refused',
  recipientInvalid: 'policy.recipient_invalid',
  recipientUnknown: 'policy.recipient_unknown',
  tooManyRecipients: 'policy.too_many_recipients',
  headerRecipientRefused: 'policy.header_recipient_refused',
  headerTooManyRecipients: 'policy.header_too_many_recipients',
  headerMalformed: 'policy.header_malformed',
} as const;

/** Stable codes of From refusals. */
export const FROM_POLICY_CODES = {
  fromRefused: 'policy.from_refused',
  fromUnverifiable: 'policy.from_unverifiable',
} as const;

const P = POLICY_CODES;
const F = FROM_POLICY_CODES;
const INSIDE_ONLY = 'mail is only relayed inside the organisation';
const FIELD_NAMES: Record<string, string> = { to: 'To', cc: 'Cc', bcc: 'Bcc', 'resent-to': 'Resent-To', 'resent-cc': 'Resent-Cc', 'resent-bcc': 'Resent-Bcc' };

const outside = (workspace: string, rcpt: string) => `recipient <${show(rcpt)}> outside ${workspace}: ${INSIDE_ONLY}`;
/** A header recipient refusal: the field (lowercase key) and, when one is known, the address. */
const headerRecipient = (field: string, reason: string, near?: string) =>
  `header recipient${near === undefined ? '' : ` <${show(near)}>`} in ${FIELD_NAMES[field] ?? field} refused: ${reason}`;
const list = (names: readonly string[]) => names.join(', ');
const minutes = (n: number) => `${n} minute${n === 1 ? '' : 's'}`;

export const REPLIES = {
  // --- connect (listen[].allow, connection limits), any stage -------------------------------
  /** Client address not in listen[].allow: at connect, then the connection is closed. */
  clientNotAllowed: entry('session.refused', 554, '5.7.1', (a: { address: string }) =>
    `access denied: ${a.address} is not in the networks allowed to use this listener`),
  /** listen[].maxConnections reached: at connect. */
  tooManyConnections: entry('session.too_many_connections', 421, '4.3.2', () => 'too many connections, try again later'),
  /** listen[].maxConnectionsPerClient reached for this address: at connect. */
  tooManyFromClient: entry('session.too_many_from_client', 421, '4.7.0', (a: { address: string }) => `too many connections from ${a.address}, try again later`),
  /** The listener is closing (shutdown): at connect or at any later command but DATA in progress. */
  shuttingDown: entry('session.shutting_down', 421, '4.3.2', () => 'shutting down, try again later'),
  /** listen[].proxyProtocol: a peer not in proxyProtocol.trusted (a device connecting around the balancer): then closed. */
  proxyOnly: entry('proxy.untrusted_peer', 554, '5.7.1', () => 'this listener takes connections only through its load balancer'),
  /** listen[].proxyProtocol: a trusted balancer sent no PROXY header in time (send-proxy missing on its side): then closed. */
  proxyHeaderMissing: entry('proxy.header_missing', 421, '4.7.0', () => 'no PROXY protocol header from the load balancer, closing connection'),
  /** No transaction (should not happen: smtp-server checks the order itself). */
  badSequence: entry('session.bad_sequence', 503, '5.5.1', () => 'need MAIL command first'),
  /** A command line not complete limits.commandTimeout after its first byte (slowloris): then closed. */
  commandTimeout: entry('session.command_timeout', 421, '4.4.2', (a: { seconds: number }) =>
    `command line not completed within ${a.seconds} seconds, closing connection`),
  /** DATA slower than limits.minDataRate after its first 30 s (slowloris): then closed, nothing kept. */
  dataTooSlow: entry('session.data_too_slow', 421, '4.4.2', (a: { rate: number }) =>
    `message data arriving slower than ${a.rate} bytes per second, closing connection`),
  /** The client's practice is disabled (its own settings failed: key, certificate, file): until fixed. */
  practiceDisabled: entry('practice.disabled', 451, '4.3.0', (a: { workspace: string }) =>
    `the relay is paused for ${a.workspace} until an administrator fixes its settings, try again later`),
  /**
   * A practice's file cannot be read (src/config/practice-state.ts unreadablePractices): a sender
   * on a shared listener that the relay cannot place by its domain or senders.map may be that
   * practice's. Temporary, so its devices keep the mail; never accepted for anyone.
   */
  senderUnplaced: entry('practice.unreadable', 451, '4.3.0', (a: { sender: string }) => `cannot check sender <${show(a.sender)}> now, try again later`),
  /** The practice's workspaces[].limits.queued messages wait for delivery. */
  practiceQueueFull: entry('practice.queue_full', 452, '4.3.1', (a: { workspace: string }) =>
    `too much mail of ${a.workspace} waiting for delivery, try again later`),
  /** The practice accepted workspaces[].limits.acceptedPerHour messages in the last hour. */
  practiceRate: entry('practice.rate_limited', 450, '4.7.1', (a: { workspace: string; max: number }) =>
    `${a.workspace} has sent its ${a.max} messages this hour, try again later`),
  /** A local failure outside the write path (spool, or a workspace a reload removed). */
  localError: entry('spool.error', 451, '4.3.0', () => 'local error in processing, try again later'),

  // --- AUTH ------------------------------------------------------------------------------------
  /** Wrong user name or password, or a device of another workspace. */
  authFailed: entry('auth.failed', 535, '5.7.8', () => 'authentication credentials invalid'),
  /** SASL PLAIN authorisation identity other than the login name. */
  authzidRefused: entry('auth.failed', 535, '5.7.8', () =>
    'authentication credentials invalid: the authorization identity must be empty or the login name'),
  /** Too many failed logins from this address (auth.throttle.addressFailures): refused without checking the password. */
  authThrottled: entry('auth.throttled', 454, '4.7.0', (a: { minutes: number }) =>
    `too many failed logins from your address, try again in ${minutes(a.minutes)}`),
  /** Too many failed logins for this user name from this address (auth.throttle.failures): refused without checking the password. */
  authThrottledUser: entry('auth.throttled', 454, '4.7.0', (a: { minutes: number }) =>
    `too many failed logins for this user name from your address, try again in ${minutes(a.minutes)}`),
  /** The password is right, but the device's practice is disabled (its own settings failed): until fixed. */
  authPracticeDisabled: entry('practice.disabled', 454, '4.7.0', (a: { workspace: string }) =>
    `the relay is paused for ${a.workspace} until an administrator fixes its settings, try again later`),
  /**
   * A failed login on a shared listener while a practice's file cannot be read: it may be one of
   * that practice's devices. Worded as authUnavailable: a client cannot tell a wrong name from a
   * wrong password, nor that a practice is broken.
   */
  authPracticeUnreadable: entry('practice.unreadable', 454, '4.7.0', () => 'temporary authentication failure, try again later'),
  /** The password check itself failed (should not happen). */
  authUnavailable: entry('auth.error', 454, '4.7.0', () => 'temporary authentication failure, try again later'),

  // --- MAIL FROM: the edge ------------------------------------------------------------------------
  /** auth.required and the client did not log in. */
  authRequired: entry('auth.required', 530, '5.7.0', (a: { tlsFirst: boolean }) =>
    a.tlsFirst ? 'authentication required: STARTTLS, then AUTH' : 'authentication required'),
  /** MAIL FROM ... SMTPUTF8: not offered (addresses must be ASCII; 8-bit headers are fine). */
  smtpUtf8: entry('message.smtputf8_refused', 555, '5.6.7', () =>
    'SMTPUTF8 is not supported: use ASCII (or punycode) addresses; 8-bit headers need no SMTPUTF8'),
  /** Backpressure: the spool's file system is below queue.minFreeSpace. */
  spoolDiskFull: entry('spool.disk_full', 452, '4.3.1', () => 'insufficient system storage, try again later'),
  /** Backpressure: queue.maxQueued messages wait for delivery. */
  spoolQueueFull: entry('spool.queue_full', 452, '4.3.1', () => 'too much mail waiting for delivery, try again later'),
  /** The device is over devices[].maxMessagesPerHour. */
  deviceRate: entry('auth.rate_limited', 450, '4.7.1', (a: { device: string; max: number }) =>
    `device ${a.device} has sent its ${a.max} messages this hour, try again later`),
  /** The (mapped) sender is not in devices[].senders. */
  deviceSender: entry('policy.device_sender_refused', 550, '5.7.1', (a: { device: string; sender: string }) =>
    `device ${a.device} may not send as <${a.sender}>`),
  /** The (mapped) sender is not in listen[].senders. */
  listenerSender: entry('policy.listener_sender_refused', 550, '5.7.1', (a: { sender: string }) => `sender <${a.sender}> may not use this listener`),

  // --- MAIL FROM: which workspace and user (src/policy/sender.ts) ---------------------------
  /** Not in a workspace domain, not mapped, and no senders.default. */
  senderNotServed: entry(P.senderRefused, 550, '5.7.1', (a: { sender: string }) =>
    `sender <${show(a.sender)}> is not in a Google Workspace domain this relay serves (map it in senders.map or set senders.default)`),
  /** The null sender <>, not mapped, and no senders.default. */
  nullSenderNoDefault: entry(P.senderRefused, 550, '5.7.1', () =>
    'the null sender <> has no Google Workspace user to send as (set senders.default, or map "" in senders.map)'),
  /** Not in a workspace domain, and several candidate workspaces have senders.default. */
  senderDefaultAmbiguous: entry(P.senderRefused, 550, '5.7.1', (a: { sender: string; workspaces: readonly string[] }) =>
    `sender <${show(a.sender)}> is not in a workspace domain and several workspaces (${list(a.workspaces)}) have senders.default: map it in senders.map of one workspace, or bind the listener to a workspace`),
  /** senders.map names this sender more than once, for different users. */
  senderMappedTwice: entry(P.senderRefused, 550, '5.7.1', (a: { sender: string; workspaces: readonly string[] }) =>
    `sender <${show(a.sender)}> is mapped more than once in senders.map (workspace ${list(a.workspaces)}) to different users: keep one entry`),
  /** In another workspace's domain than the one(s) this listener serves. */
  senderOtherWorkspace: entry(P.senderRefused, 550, '5.7.1', (a: { sender: string; owner: string; workspaces: readonly string[] }) =>
    `sender <${show(a.sender)}> belongs to workspace ${a.owner}, but this listener serves workspace ${list(a.workspaces)}`),
  /** MAIL FROM without a domain (`scanner2`) that no senders.map entry of this listener maps. */
  senderUnqualified: entry(P.senderRefused, 550, '5.7.1', (a: { sender: string }) =>
    `sender <${show(a.sender)}> has no domain and is not mapped here: map it in senders.map of this listener's workspace, or set a full address on the device`),
  /** MAIL FROM does not parse (and is not mapped as written). */
  senderInvalid: entry(P.senderInvalid, 553, '5.1.7', (a: { sender: string; reason: string }) =>
    `sender <${show(a.sender)}> is not a valid address: ${a.reason} (fix the device's sender address, or map it as written in senders.map)`),

  // --- RCPT TO ---------------------------------------------------------------------------------
  /** The recipient does not parse (src/policy/address.ts says why). */
  recipientInvalid: entry(P.recipientInvalid, 553, '5.1.3', (a: { rcpt: string; reason: string }) =>
    `recipient <${show(a.rcpt)}> is not a valid address: ${a.reason}`),
  /** The recipient's domain is not one of the workspace's domains. */
  recipientOutside: entry(P.recipientRefused, 550, '5.7.1', (a: { workspace: string; rcpt: string }) => outside(a.workspace, a.rcpt)),
  /** recipientCheck: directory, and the Directory API knows no user, alias or group of this address. */
  recipientUnknown: entry(P.recipientUnknown, 550, '5.1.1', (a: { rcpt: string }) =>
    `recipient <${show(a.rcpt)}> does not exist in this organisation: check the address`),
  /** The RCPT beyond limits.maxRecipients (Gmail takes at most 100 per message). */
  tooManyRecipients: entry(P.tooManyRecipients, 452, '4.5.3', (a: { max: number }) =>
    `too many recipients: at most ${a.max} per message, send the rest in another transaction`),
  /** An envelope recipient not in devices[].allowedRecipients. */
  deviceRecipient: entry('policy.device_recipient_refused', 550, '5.7.1', (a: { device: string; rcpt: string }) =>
    `device ${a.device} may not send to <${a.rcpt}>`),

  // --- DATA: receiving -----------------------------------------------------------------------
  /** More than limits.maxMessageSize bytes (the rest is read and discarded). */
  messageTooLarge: entry('message.too_large', 552, '5.3.4', (a: { max: number }) => `message exceeds the maximum size of ${a.max} bytes`),
  /**
   * The message as it would be sent (the relay's headers added: Bcc, From, Date, Message-ID) is
   * larger than the workspace's transport sends (Gmail: 35 MB; config/send-limits.ts).
   */
  messageTooLargeToSend: entry('message.too_large_to_send', 552, '5.3.4', (a: { size: number; max: number }) =>
    `message too large to send: ${a.size} bytes with the headers the relay adds, Gmail takes at most ${a.max}`),
  /** A header section larger than the relay reads (src/smtp/receive.ts). */
  headerTooLarge: entry('message.header_too_large', 552, '5.3.4', (a: { max: number }) => `header section exceeds ${a.max} bytes`),
  /** A write to the spool failed (ENOSPC, EIO…): nothing is kept. */
  spoolWriteFailed: entry('spool.write_failed', 451, '4.3.0', () => 'could not store the message, try again later'),
  /** Bare LF or bare CR (SMTP smuggling, CVE-2023-51764), unless allowBareLineEndings. */
  bareLineEnding: entry('message.bare_line_ending', 554, '5.6.0', (a: { kind: 'LF' | 'CR' }) =>
    `message refused: bare <${a.kind}> line ending; lines must end with <CR><LF>`),

  // --- DATA: the header section (src/policy/headers.ts) --------------------------------------
  /** The header section cannot be split into fields safely. */
  headerMalformed: entry(P.headerMalformed, 554, '5.6.0', (a: { reason: string }) => a.reason),
  /** An address field with a run too long to fold at whitespace on the way out. */
  headerLongRun: entry(P.headerMalformed, 554, '5.6.0', (a: { field: string; max: number }) =>
    `the ${a.field} header has a run of over ${a.max} octets without a space: it cannot be folded safely`),
  /** A To/Cc/Bcc/Resent-* field that does not read strictly (`near`: the address text, if any). */
  headerRecipientUnreadable: entry(P.headerRecipientRefused, 554, '5.7.1', (a: { field: string; reason: string; near?: string }) =>
    headerRecipient(a.field, a.reason, a.near)),
  /** A header recipient outside the workspace. */
  headerRecipientOutside: entry(P.headerRecipientRefused, 554, '5.7.1', (a: { field: string; workspace: string; rcpt: string }) =>
    headerRecipient(a.field, `outside workspace ${a.workspace}, ${INSIDE_ONLY}`, a.rcpt)),
  /** The strict and the lenient address parser read the field differently. */
  headerRecipientAmbiguous: entry(P.headerRecipientRefused, 554, '5.7.1', (a: { field: string }) =>
    headerRecipient(a.field, 'the address list can be read more than one way: write it as Name <user@domain>, separated by commas')),
  /** An envelope recipient outside the workspace, seen again at DATA (a caller's mistake). */
  envelopeRecipientOutside: entry(P.recipientRefused, 554, '5.7.1', (a: { workspace: string; rcpt: string }) =>
    `envelope ${outside(a.workspace, a.rcpt)}`),
  /** Header recipients plus envelope-only (Bcc) recipients exceed limits.maxRecipients. */
  headerTooManyRecipients: entry(P.headerTooManyRecipients, 554, '5.5.3', (a: { header: number; bcc: number; max: number }) =>
    `too many recipients for Gmail: ${a.header} header recipients plus ${a.bcc} envelope-only recipients exceed ${a.max}`),
  /** A header recipient (To, Cc, Bcc, Resent-To/Cc/Bcc) not in devices[].allowedRecipients. */
  deviceHeaderRecipient: entry('policy.device_recipient_refused', 554, '5.7.1', (a: { device: string; rcpt: string; field: string }) =>
    `device ${a.device} may not send to <${a.rcpt}> (header recipient in ${FIELD_NAMES[a.field] ?? a.field})`),
  /** Reply-To, Disposition-Notification-To, a List-* mailto: … names an address outside (src/policy/action-headers.ts). */
  actionHeaderOutside: entry('policy.action_header_refused', 550, '5.7.1', (a: { field: string; workspace: string; address: string; automatic: boolean }) =>
    `the ${a.field} header names <${show(a.address)}> outside workspace ${a.workspace}: ${a.automatic ? 'a mail program would send there by itself' : 'replies would leave the organisation'}; ${INSIDE_ONLY}`),
  /** One of those headers cannot be read with certainty. */
  actionHeaderUnreadable: entry('policy.action_header_refused', 550, '5.7.1', (a: { field: string; reason: string }) =>
    `the ${a.field} header cannot be read with certainty: ${a.reason}`),
  /** Sender names an address this client may not send as (src/policy/sender-header.ts). */
  senderHeaderNotUsable: entry(F.fromRefused, 550, '5.7.1', (a: { address: string; sender: string }) =>
    `the Sender header <${show(a.address)}> is not an address this client may send as: remove it, or write Sender: <${show(a.sender)}>`),
  /** Sender names no mailbox, several, or cannot be read. */
  senderHeaderUnreadable: entry(F.fromRefused, 550, '5.7.1', (a: { sender: string }) =>
    `the Sender header must name exactly one mailbox: remove it, or write Sender: <${show(a.sender)}>`),

  // --- DATA: From (src/policy/from-policy.ts) ------------------------------------------------
  /** impersonate: a From inside the workspace that this client may not use. */
  fromNotUsable: entry(F.fromRefused, 550, '5.7.1', (a: { from: string; sender: string }) =>
    `From <${show(a.from)}> is not a sender this client may use: send as <${show(a.sender)}>, or add the address to the listener's or device account's senders`),
  /** reject: From names several mailboxes, or cannot be read as one address. */
  fromUnreadable: entry(F.fromRefused, 550, '5.7.1', (a: { several: boolean; sender: string }) =>
    `the From header ${a.several ? 'names more than one mailbox' : 'cannot be read as one address'}: write From: <${show(a.sender)}>`),
  /** reject: From is not the sending user (nor, when known, one of its send-as aliases). */
  fromNotSender: entry(F.fromRefused, 550, '5.7.1', (a: { from: string; sender: string; aliasesKnown: boolean }) =>
    `From <${show(a.from)}> is not the sending user <${show(a.sender)}>: set the device's From to <${show(a.sender)}>${a.aliasesKnown ? ' or one of its verified send-as addresses' : ''}, or use fromPolicy rewrite`),
  /** reject with verifySendAs: the aliases could not be listed now (Google unreachable). */
  fromUnverifiable: entry(F.fromUnverifiable, 451, '4.4.3', (a: { from: string; sender: string }) =>
    `cannot check now whether From <${show(a.from)}> is a send-as address of <${show(a.sender)}>: try again later`),

  // --- DATA: accepted --------------------------------------------------------------------------
  /** The message is on disk (fsynced): only then. */
  accepted: entry('message.accepted', 250, '2.0.0', (a: { queueId: string }) => `Ok: queued as ${a.queueId}`),
} as const;
