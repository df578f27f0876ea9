/**
 * DATA: stream the message into the spool (only the header section is kept in memory), refuse
 * bare line endings (or, where a listener allows them, turn them into CRLF first), header
 * recipients and reply headers outside the workspace or the device's list, commit (fsync), then
 * 250 and `message.accepted`, naming everyone Gmail delivers to.
 */
import type { SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import { type WorkspaceConfig, honoursEnvelope, sendLimit } from '../config/index.js';
import { SmtpReply, errorText } from '../errors.js';
import { checkHeaders } from '../policy/index.js';
import { namedReply, renderReply, smtpReply, type NamedReply } from '../replies/index.js';
import { loggedMessageId } from '../safe-text.js';
import type { MessageMeta } from '../spool/index.js';
import { LineEndingCheck, LineEndingNormalizer } from './line-endings.js';
import { messageSizeLimit } from './listener-settings.js';
import { decideIdentity } from './identity.js';
import { receiveFailure, receiveInto } from './receive.js';
import type { RefuseExtra, Runtime } from './runtime.js';

/** Resolves with the 250 text, or rejects with the SmtpReply to send. */
export async function acceptData(rt: Runtime, stream: SMTPServerDataStream, session: SMTPServerSession): Promise<string> {
  const state = rt.state(session);
  const tx = state.tx;
  if (!tx) {
    stream.resume();
    throw smtpReply('badSequence');
  }
  state.tx = null;
  const cfg = rt.config();
  const id = rt.newId();
  const listener = rt.listener();
  // the addresses checked at RCPT (source routes dropped, as written, normalized)
  const recipients = [...tx.recipients];
  const normalizer = listener.allowBareLineEndings ? new LineEndingNormalizer() : null;
  const lineEndings = normalizer ? null : new LineEndingCheck();
  const writer = rt.deps.spool.createWriter(id);
  const log = state.log;
  let committed = false;
  /** A refusal at DATA: about this queue id (never given to the client), its workspace and envelope. */
  const about: RefuseExtra = { queueId: id, workspace: tx.workspace.name, mailFrom: tx.mailFrom, recipients, ...(tx.device ? { device: tx.device.username } : {}) };
  const refuse = (named: NamedReply, extra: RefuseExtra = {}) => rt.refuse(session, 'data', named, { ...about, ...extra });
  try {
    const received = await receiveInto(stream, writer, normalizer ?? lineEndings ?? undefined);
    const failure = receiveFailure(received, messageSizeLimit(rt.listener(), cfg));
    if (failure) {
      if (received.writeError) log.error({ event: 'spool.write_failed', queueId: id, err: errorText(received.writeError) }, 'write failed');
      throw refuse(failure, { size: received.size });
    }
    const bare = lineEndings?.bare;
    if (bare) throw refuse(namedReply('bareLineEnding', { kind: bare }), { size: received.size });
    const headers = checkHeaders(tx.workspace, received.header, recipients, cfg.limits.maxRecipients, { allowOutsideReply: listener.allowOutsideReplyAddresses });
    if (!headers.ok) throw refuse(headers.reply, { size: received.size });
    const allowed = tx.device?.allowedRecipients;
    const forbidden = allowed ? headers.checkedRecipients.find((r) => !allowed.includes(r.address)) : undefined;
    if (tx.device && forbidden !== undefined) {
      const reply = namedReply('deviceHeaderRecipient', { device: tx.device.username, rcpt: forbidden.address, field: forbidden.field });
      throw refuse(reply, { size: received.size });
    }
    const identity = await decideIdentity(rt, tx, received.header);
    if (!identity.ok) throw refuse(identity.reply, { size: received.size, from: headers.from });
    const now = new Date(rt.clock.now()).toISOString();
    const meta: MessageMeta = {
      version: 1,
      id,
      receivedAt: now,
      workspace: tx.workspace.name,
      mailFrom: tx.mailFrom,
      sender: identity.sender,
      recipients,
      bcc: headers.bcc,
      headerRecipients: headers.headerRecipients,
      messageId: headers.messageId,
      from: headers.from,
      size: writer.size,
      sha256: writer.sha256(),
      client: { address: session.remoteAddress, ...(session.clientHostname ? { hostname: session.clientHostname } : {}) },
      // (the audit record's origin: on disk, so a restart before delivery keeps it)
      listener: rt.name,
      ...(tx.device ? { device: tx.device.username } : {}),
      attempts: 0,
      nextAttemptAt: now,
      lastError: null,
      ...(identity.rewrite ? { rewrite: identity.rewrite } : {}),
    };
    const sendSize = outgoingSize(rt, tx.workspace, received.header, meta);
    const limit = sendLimit(tx.workspace.transport);
    if (sendSize !== undefined && sendSize > limit) {
      throw refuse(namedReply('messageTooLargeToSend', { size: sendSize, max: limit }), { size: received.size, sendSize });
    }
    await writer.commit(meta);
    committed = true;
    if (tx.device) rt.deviceRate.record(tx.device.username);
    log.info(
      {
        event: 'message.accepted',
        outcome: 'accepted',
        queueId: id,
        // the Message-ID the message leaves with (the relay's own when it had none), in a safe form
        messageId: loggedMessageId(meta),
        ...(meta.messageId === null && meta.rewrite?.addMessageId ? { messageIdAdded: true } : {}),
        workspace: meta.workspace,
        listener: rt.name,
        mailFrom: meta.mailFrom,
        sender: meta.sender,
        from: meta.from,
        fromOutcome: identity.outcome,
        recipients: meta.recipients,
        deliverTo: deliveredTo(tx.workspace, meta),
        size: meta.size,
        ...(normalizer?.changed ? { lineEndingsNormalized: normalizer.changed } : {}),
        ...(tx.device ? { device: tx.device.username } : {}),
      },
      'queued',
    );
    rt.events.accepted(meta, { listener: rt.name, device: tx.device?.username });
    try {
      rt.deps.onAccepted(meta);
    } catch (err) {
      // It is on disk: the scheduler finds it at the next start. Never a 4xx for committed mail.
      log.error({ event: 'scheduler.enqueue_failed', queueId: id, err: errorText(err) }, 'queued, but the scheduler was not told');
    }
    return renderReply(namedReply('accepted', { queueId: id })).message;
  } catch (err) {
    if (err instanceof SmtpReply) throw err;
    if ((err as { code?: unknown }).code === 'ECONNECTION') {
      log.info({ event: 'message.incomplete', queueId: id }, 'client went away during DATA: nothing kept');
      throw smtpReply('localError');
    }
    log.error({ event: 'spool.error', queueId: id, err: errorText(err) }, 'could not store message');
    throw refuse(namedReply('localError'));
  } finally {
    if (!committed) await writer.abort().catch(() => undefined);
  }
}

/**
 * Everyone Gmail will deliver this message to: through the Gmail API (and the outbox) the To, Cc
 * and Bcc headers plus the envelope-only recipients added as Bcc; through SMTP (Gmail SMTP, the
 * relay service) the envelope (Bcc fields are stripped on the way).
 */
function deliveredTo(workspace: WorkspaceConfig, meta: MessageMeta): string[] {
  if (honoursEnvelope(workspace.transport)) return meta.recipients;
  return [...new Set([...meta.headerRecipients, ...meta.bcc])];
}

/**
 * What the transport will send, or undefined when it cannot be told here (not wired, or a header
 * value delivery would refuse: delivery reports that itself, permanently, naming the fault).
 */
function outgoingSize(rt: Runtime, workspace: WorkspaceConfig, header: Buffer, meta: MessageMeta): number | undefined {
  try {
    return rt.deps.sendSize?.(workspace, header, meta);
  } catch {
    return undefined;
  }
}
