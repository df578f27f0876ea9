/**
 * Gmail SMTP with an app password (smtp.gmail.com 465 implicit TLS, or 587 with STARTTLS
 * required: the password never crosses the network in clear). The envelope carries the
 * recipients, so any Bcc header is stripped and no recipient sees it. The authenticated account
 * is the sender. The message is streamed from the spool file (outgoing-message.ts) into the
 * DATA command, never held whole; its size goes in MAIL FROM (SIZE=), so an upstream that
 * cannot take it says so before the upload.
 */
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import nodemailer from 'nodemailer';
import type { Logger } from '../log.js';
import { readSecretFile, type WorkspaceConfig } from '../config/index.js';
import type { DeliveryResult, OutboundMessage, Transport } from './types.js';
import { classify } from '../failures/index.js';
import { OutgoingMessage } from './outgoing-message.js';
import { transportChanges } from './send-size.js';
import { ConfigError, errorText } from '../errors.js';

type SmtpSettings = NonNullable<WorkspaceConfig['smtp']>;

export function createSmtpTransport(options: {
  smtp: SmtpSettings;
  keyPath: string;
  logger: Logger;
  /** Upstream connections kept open and reused (a pool), per workspace. */
  maxConnections?: number;
  /** The time a "Retry after" is counted from (default Date.now). */
  now?: () => number;
}): Transport {
  const { smtp } = options;
  const pass = readSecretFile(smtp.appPasswordFile, `${options.keyPath}.appPasswordFile`).trim();
  const ca = smtp.caFile ? readCaFile(smtp.caFile, `${options.keyPath}.caFile`) : undefined;
  const mailer = nodemailer.createTransport({
    pool: true,
    maxConnections: options.maxConnections ?? 3,
    host: smtp.host,
    port: smtp.port,
    secure: smtp.secure,
    requireTLS: !smtp.secure,
    auth: { user: smtp.user, pass },
    tls: { minVersion: 'TLSv1.2', servername: smtp.host, ...(ca ? { ca } : {}) },
    connectionTimeout: 30_000,
    greetingTimeout: 30_000,
    socketTimeout: 120_000,
    logger: false,
  });
  return {
    name: 'smtp',
    async deliver({ meta, path }: OutboundMessage, signal: AbortSignal): Promise<DeliveryResult> {
      signal.throwIfAborted();
      const message = await OutgoingMessage.open(path, transportChanges('smtp', meta), meta.size);
      let readFailure: unknown;
      // A byte stream of at most one piece ahead (Readable.from would queue 16 pieces).
      const raw = message.inMemory ?? Readable.from(readOrRemember(message, (err) => (readFailure = err)), { objectMode: false, highWaterMark: 64 * 1024 });
      try {
        const info = await mailer.sendMail({
          envelope: { from: smtp.user, to: meta.recipients, size: message.size },
          raw,
        });
        // Some recipients refused, the rest accepted: the message is sent; the scheduler retries
        // or reports the refused ones (a retry of the whole would reach the others twice).
        const errors = ((info as { rejectedErrors?: { recipient?: string; responseCode?: number }[] }).rejectedErrors ?? []);
        const refused = errors
          .filter((e) => typeof e.recipient === 'string')
          .map((e) => ({ recipient: e.recipient!.toLowerCase(), code: e.responseCode, temporary: e.responseCode === undefined || e.responseCode < 500 }));
        const queued = /\s(\S+)\s+-\s+gsmtp/.exec(info.response)?.[1];
        return { providerId: queued ?? info.messageId ?? 'smtp', ...(refused.length ? { refused } : {}) };
      } catch (err) {
        // The spool file failed mid-message (held): that, not what nodemailer made of it.
        throw classify(readFailure ?? err, { user: smtp.user, transport: 'smtp', ...(options.now ? { now: options.now } : {}) });
      }
    },
    async close() {
      mailer.close();
    },
  };
}

/**
 * The message's bytes; a failure to read them is remembered, and the stream ends with an error
 * of its own (nodemailer rewrites the code of the error it is given).
 */
async function* readOrRemember(message: OutgoingMessage, remember: (err: unknown) => void): AsyncGenerator<Buffer> {
  try {
    yield* message.range().chunks();
  } catch (err) {
    remember(err);
    throw new Error('reading the spooled message failed');
  }
}

/** The upstream's CA certificate (PEM): a file that cannot be read is a config error naming the key. */
function readCaFile(file: string, keyPath: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new ConfigError(keyPath, `cannot read ${file}: ${errorText(err)} (a PEM file the relay's user can read)`);
  }
}
