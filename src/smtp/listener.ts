/**
 * The SMTP listener: the only module that knows smtp-server. Each SMTP stage becomes a call on
 * policy and spool, and each outcome one explicit reply (smtp-server's defaults differ by stage).
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerAddress, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import type { Config, ListenerConfig, WorkspaceConfig } from '../config/schema.js';
import { SmtpReply, errorText } from '../errors.js';
import type { Logger } from '../log.js';
import { checkHeaders, checkRecipient, parseMailbox, recipientLimitReply, resolveSender } from '../policy/index.js';
import { createQueueId, type Spool } from '../spool/index.js';
import type { MessageMeta } from '../spool/types.js';
import { useOwnEnhancedCodes } from './enhanced-codes.js';
import { receiveFailure, receiveInto } from './receive.js';

export interface ListenerDeps {
  listener: ListenerConfig;
  /** The current config (a function: SIGHUP may swap it). */
  config: () => Config;
  spool: Spool;
  logger: Logger;
  /** Called after a message is committed to the spool (the scheduler picks it up). */
  onAccepted: (meta: MessageMeta) => void;
  now?: () => Date;
  newId?: () => string;
}

export interface Listener {
  readonly address: { host: string; port: number };
  close(): Promise<void>;
}

interface Transaction {
  workspace: WorkspaceConfig;
  sender: string;
  mailFrom: string;
}

export async function startListener(deps: ListenerDeps): Promise<Listener> {
  useOwnEnhancedCodes();
  const { listener, spool, logger } = deps;
  const now = deps.now ?? (() => new Date());
  const newId = deps.newId ?? (() => createQueueId());
  const transactions = new WeakMap<SMTPServerSession, Transaction>();
  const sessionLogs = new Map<string, Logger>();
  let closing = false;
  const config = deps.config();
  const log = (session: SMTPServerSession) => sessionLogs.get(session.id) ?? logger;
  const refuse = (session: SMTPServerSession, stage: string, reply: SmtpReply, extra: object = {}) => {
    log(session).info(
      { event: 'message.rejected', stage, code: reply.responseCode, enhanced: reply.enhanced, reason: reply.reason, ...extra },
      'refused',
    );
    return reply;
  };

  const server = new SMTPServer({
    name: config.hostname,
    banner: 'workspace-relay ESMTP',
    size: config.limits.maxMessageSize,
    rejectOversized: true,
    hideSTARTTLS: listener.tls.mode !== 'starttls',
    hideENHANCEDSTATUSCODES: false,
    hideSMTPUTF8: true,
    hideDSN: true,
    hideREQUIRETLS: true,
    disabledCommands: ['AUTH'],
    authOptional: true,
    disableReverseLookup: true,
    logger: false,
    onConnect(session, callback) {
      if (closing) return callback(new SmtpReply('session.shutting_down', 421, '4.3.2', 'shutting down, try again later'));
      const child = logger.child({ session: session.id, client: session.remoteAddress });
      sessionLogs.set(session.id, child);
      child.info({ event: 'session.connect', listener: `${listener.host}:${listener.port}` }, 'client connected');
      callback();
    },
    onClose(session) {
      log(session).info({ event: 'session.close' }, 'client disconnected');
      sessionLogs.delete(session.id);
    },
    onMailFrom(address: SMTPServerAddress, session, callback) {
      if (closing) return callback(new SmtpReply('session.shutting_down', 421, '4.3.2', 'shutting down, try again later'));
      const decision = resolveSender(deps.config(), address.address);
      if (!decision.ok) return callback(refuse(session, 'mail', decision.reply, { mailFrom: address.address }));
      transactions.set(session, { workspace: decision.workspace, sender: decision.sender, mailFrom: address.address });
      callback();
    },
    onRcptTo(address: SMTPServerAddress, session, callback) {
      const tx = transactions.get(session);
      if (!tx) return callback(new SmtpReply('session.bad_sequence', 503, '5.5.1', 'need MAIL command first'));
      const max = deps.config().limits.maxRecipients;
      if (session.envelope.rcptTo.length >= max) {
        return callback(refuse(session, 'rcpt', recipientLimitReply(max), { rcpt: address.address }));
      }
      const decision = checkRecipient(tx.workspace, address.address);
      if (!decision.ok) return callback(refuse(session, 'rcpt', decision.reply, { rcpt: address.address }));
      callback();
    },
    onData(stream: SMTPServerDataStream, session, callback) {
      acceptData(stream, session).then(
        (reply) => callback(null, reply),
        (err: unknown) => callback(err instanceof SmtpReply ? err : internalError(session, err)),
      );
    },
  });

  const internalError = (session: SMTPServerSession, err: unknown) => {
    log(session).error({ event: 'spool.error', err: errorText(err) }, 'could not store message');
    return new SmtpReply('spool.error', 451, '4.3.0', 'local error in processing, try again later');
  };

  async function acceptData(stream: SMTPServerDataStream, session: SMTPServerSession): Promise<string> {
    const tx = transactions.get(session);
    if (!tx) {
      stream.resume();
      throw new SmtpReply('session.bad_sequence', 503, '5.5.1', 'need MAIL command first');
    }
    const cfg = deps.config();
    const id = newId();
    const recipients = session.envelope.rcptTo.map((r) => parseMailbox(r.address)?.address ?? r.address.toLowerCase());
    const writer = spool.createWriter(id);
    let committed = false;
    try {
      const received = await receiveInto(stream, writer);
      const failure = receiveFailure(received, cfg.limits.maxMessageSize);
      if (failure) {
        if (received.writeError) {
          log(session).error({ event: 'spool.write_failed', queueId: id, err: errorText(received.writeError) }, 'write failed');
        }
        throw refuse(session, 'data', failure, { size: received.size });
      }
      const headers = checkHeaders(tx.workspace, received.header, recipients, cfg.limits.maxRecipients);
      if (!headers.ok) throw refuse(session, 'data', headers.reply, { size: received.size });
      const meta: MessageMeta = {
        version: 1,
        id,
        receivedAt: now().toISOString(),
        workspace: tx.workspace.name,
        mailFrom: tx.mailFrom,
        sender: tx.sender,
        recipients,
        bcc: headers.bcc,
        headerRecipients: headers.headerRecipients,
        messageId: headers.messageId,
        from: headers.from,
        size: writer.size,
        sha256: writer.sha256(),
        client: { address: session.remoteAddress, ...(session.clientHostname ? { hostname: session.clientHostname } : {}) },
        attempts: 0,
        nextAttemptAt: now().toISOString(),
        lastError: null,
      };
      await writer.commit(meta);
      committed = true;
      log(session).info(
        {
          event: 'message.accepted',
          queueId: id,
          messageId: meta.messageId,
          workspace: meta.workspace,
          mailFrom: meta.mailFrom,
          sender: meta.sender,
          recipients: meta.recipients,
          size: meta.size,
        },
        'queued',
      );
      deps.onAccepted(meta);
      return `2.0.0 Ok: queued as ${id}`;
    } finally {
      if (!committed) await writer.abort().catch(() => undefined);
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listener.port, listener.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => logger.warn({ event: 'smtp.error', err: errorText(err) }, 'smtp server error'));
  const bound = server.server.address() as AddressInfo;

  return {
    address: { host: listener.host, port: bound.port },
    async close() {
      closing = true;
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
