/**
 * MAIL FROM and RCPT TO: who may send, as whom, to whom. The workspace boundary itself is
 * src/policy; this adds what the edge knows: the listener's and the device account's workspace,
 * their sender lists, the device's recipients and rate, AUTH required, SMTPUTF8, backpressure.
 *
 * Policy reads each address as the client wrote it (smtp-server's reading turns A-labels and
 * full-width dots into Unicode), less a source route, which RFC 5321 says to ignore: the address
 * checked is the address stored and delivered to.
 */
import type { SMTPServerAddress, SMTPServerSession } from 'smtp-server';
import type { SmtpReply } from '../errors.js';
import { checkRecipient, decideRecipientExistence, recipientLimitReply, resolveSender, withoutSourceRoute } from '../policy/index.js';
import { disabledWorkspace, unreadablePractices } from '../config/index.js';
import { namedReply, show, smtpReply, type NamedReply } from '../replies/index.js';
import { deviceOf, type Runtime } from './runtime.js';
import { writtenAddressOf } from './smtp-server-internals.js';

/** The envelope address to check and deliver to, and whether a source route was dropped. */
function envelopeAddress(address: SMTPServerAddress) {
  return withoutSourceRoute(writtenAddressOf(address));
}

/** Decide MAIL FROM; on success the transaction is stored in the session state. */
export function onMailFrom(rt: Runtime, address: SMTPServerAddress, session: SMTPServerSession): SmtpReply | null {
  if (rt.closing()) return smtpReply('shuttingDown');
  const listener = rt.listener();
  const config = rt.config();
  const state = rt.state(session);
  state.tx = null;
  const device = deviceOf(rt, session);
  const { address: mailFrom, route } = envelopeAddress(address);
  const refuse = (reply: NamedReply, extra: object = {}) => rt.refuse(session, 'mail', reply, { mailFrom: show(mailFrom), ...extra });
  if (!device && listener.auth.required) {
    const tlsFirst = listener.tls.mode === 'starttls' && !session.secure && !listener.auth.allowPlaintext;
    return refuse(namedReply('authRequired', { tlsFirst }));
  }
  // From this command's own parameters: smtp-server leaves envelope.smtpUtf8 set after a refused MAIL.
  if (address.args && address.args.SMTPUTF8 !== undefined) return refuse(namedReply('smtpUtf8'));
  const busy = rt.deps.admission?.() ?? null;
  if (busy) return refuse(busy);
  if (device && !rt.deviceRate.allows(device.username, device.maxMessagesPerHour)) {
    return refuse(namedReply('deviceRate', { device: device.username, max: device.maxMessagesPerHour! }), { device: device.username });
  }
  // Hosted isolation: a device account is bound to its workspace, a listener to its own.
  const bound = device?.workspace ?? listener.workspace;
  const workspace = bound === undefined ? undefined : config.workspaces.find((w) => w.name === bound);
  // A disabled practice (its own settings failed): 451, so its devices keep the mail and retry.
  const paused = workspace ? undefined : disabledWorkspace(config, bound !== undefined ? { workspace: bound } : { address: mailFrom });
  if (paused !== undefined) return refuse(namedReply('practiceDisabled', { workspace: paused }), { workspace: paused });
  if (bound !== undefined && !workspace) return refuse(namedReply('localError'), { workspace: bound });
  const decision = resolveSender(config, mailFrom, { workspace });
  // While a practice's file cannot be read, a sender the relay cannot place by its domain or
  // senders.map (on a shared listener, no device logged in) may be that practice's: 451, never taken.
  const unplaced = bound === undefined && (!decision.ok || decision.via === 'default') && unreadablePractices(config).length > 0;
  if (unplaced) return refuse(namedReply('senderUnplaced', { sender: mailFrom }));
  if (!decision.ok) return refuse(decision.reply, device ? { device: device.username } : {});
  const limited = rt.deps.practiceAdmission?.(decision.workspace) ?? null;
  if (limited) return refuse(limited, { workspace: decision.workspace.name });
  if (device?.senders && !device.senders.includes(decision.sender)) {
    return refuse(namedReply('deviceSender', { device: device.username, sender: decision.sender }), { device: device.username, sender: decision.sender });
  }
  if (listener.senders && !listener.senders.includes(decision.sender)) {
    return refuse(namedReply('listenerSender', { sender: decision.sender }), { sender: decision.sender });
  }
  state.tx = { workspace: decision.workspace, sender: decision.sender, mailFrom, device, recipients: [] };
  if (route) state.log.info({ event: 'envelope.source_route_ignored', stage: 'mail', address: mailFrom }, 'source route ignored (RFC 5321)');
  return null;
}

/**
 * Decide RCPT TO: the workspace boundary and the device's recipients (policy), then, with
 * `recipientCheck: directory`, whether the address exists (asked of the Directory API without
 * blocking other sessions; the answer is policy's to judge).
 */
export async function onRcptTo(rt: Runtime, address: SMTPServerAddress, session: SMTPServerSession): Promise<SmtpReply | null> {
  if (rt.closing()) return smtpReply('shuttingDown');
  const state = rt.state(session);
  const tx = state.tx;
  if (!tx) return smtpReply('badSequence');
  const { address: rcpt, route } = envelopeAddress(address);
  const refuse = (reply: NamedReply, extra: object = {}) => rt.refuse(session, 'rcpt', reply, { rcpt: show(rcpt), ...extra });
  const max = rt.config().limits.maxRecipients;
  if (session.envelope.rcptTo.length >= max) return refuse(recipientLimitReply(max));
  const decision = checkRecipient(tx.workspace, rcpt);
  if (!decision.ok) return refuse(decision.reply);
  const allowed = tx.device?.allowedRecipients;
  if (tx.device && allowed && !allowed.includes(decision.address)) {
    return refuse(namedReply('deviceRecipient', { device: tx.device.username, rcpt: decision.address }), { device: tx.device.username });
  }
  if (tx.workspace.recipientCheck === 'directory') {
    const directory = rt.deps.recipients?.(tx.workspace.name);
    const answer = directory ? await directory.check(decision.address) : 'unknown';
    const exists = decideRecipientExistence(decision.address, answer);
    if (!exists.ok) return refuse(exists.reply);
  }
  if (!tx.recipients.includes(decision.address)) tx.recipients.push(decision.address);
  if (route) state.log.info({ event: 'envelope.source_route_ignored', stage: 'rcpt', address: decision.address }, 'source route ignored (RFC 5321)');
  return null;
}
