/**
 * The SMTP way out, shared by the three SMTP transports: Gmail SMTP with an app password
 * (smtp.ts), Gmail SMTP with XOAUTH2 as each sending user (gmail-xoauth2.ts) and Google's SMTP
 * relay service (smtp-relay.ts). They differ in how they log in, whose address is the envelope
 * sender, and which upstream answers mean what (the classification source, `name`); the rest is
 * here, once: TLS required (465 implicit, or STARTTLS required), the envelope carries the
 * recipients (every Bcc header is stripped, so no recipient sees it), pooled connections,
 * recipients refused while others were taken. The message is streamed from the spool file
 * (outgoing-message.ts) into DATA, never held whole (a small one is read in one piece); its size
 * goes in MAIL FROM (SIZE=), so an upstream that cannot take it says so before the upload.
 *
 * Logins:
 * - `password`: one account (app password, or the relay service's SMTP AUTH), one pool;
 * - `xoauth2`: a token per sending user (nodemailer's OAuth2 with a provisionCallback: after a
 *   refused login it asks once for a new token), one pool per user, closed when idle;
 * - `none`: the relay service authenticates the relay by its IP address, one pool.
 *
 * Nothing about the content is logged.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { Readable } from 'node:stream';
import nodemailer, { type Transporter } from 'nodemailer';
import type SMTPPool from 'nodemailer/lib/smtp-pool/index.js';
import { readRemembered, type FileKind, type SecretReadOptions } from '../config/index.js';
import { ConfigError, DeliveryError, errorText } from '../errors.js';
import { classify, type ClassifyContext } from '../failures/index.js';
import type { Logger } from '../log.js';
import type { MessageMeta } from '../spool/index.js';
import { OutgoingMessage } from './outgoing-message.js';
import { transportChanges } from './send-size.js';
import type { DeliveryResult, OutboundMessage, Transport } from './types.js';

export type SmtpLogin =
  | { kind: 'password'; user: string; pass: string }
  | {
      kind: 'xoauth2';
      /** An access token for `user` (a new one when `renew`), and when it expires (ms), if known. */
      token(user: string, renew: boolean): Promise<{ token: string; expires?: number | undefined }>;
    }
  | { kind: 'none' };

export interface UpstreamServer {
  host: string;
  port: number;
  /** Implicit TLS; otherwise STARTTLS is required. */
  secure: boolean;
  /** Extra CA certificate (PEM) to trust (tests, TLS-inspecting proxies). */
  caFile?: string | undefined;
}

export interface SmtpUpstreamOptions {
  /** The transport's name, also the classification source of its failures. */
  name: 'smtp' | 'gmail-xoauth2' | 'smtp-relay';
  /** The config section's server settings (gmailXoauth2, smtpRelay, smtp). */
  server: UpstreamServer;
  /** The section's key path, for errors about its files (e.g. workspaces[0].smtpRelay). */
  keyPath: string;
  /** The time a "Retry after" or the relay service's day is counted from (default Date.now). */
  now?: (() => number) | undefined;
  /** The EHLO name (default: the machine's host name). */
  heloName?: string | undefined;
  login: SmtpLogin;
  /** The envelope sender of a message (the one account, or the message's sending user). */
  envelopeFrom(meta: MessageMeta): string;
  /** What the classifier names in a failure's fix (user, client ID, scopes, password file). */
  context(meta: MessageMeta): ClassifyContext;
  /** Told about every classified failure (e.g. drop a user's cached token after a refused login). */
  onFailure?(failure: DeliveryError, meta: MessageMeta): void;
  logger: Logger;
  /** Connections kept open and reused, per pool (default 3; with xoauth2, per user: 2). */
  maxConnections?: number;
  /** A per-user pool idle this long is closed (xoauth2; default 60 s). */
  idleMs?: number;
  /** How its files are read (lastGood: a practice kept on its running settings). */
  files?: SecretReadOptions | undefined;
}

interface Pool {
  mailer: Transporter<SMTPPool.SentMessageInfo>;
  lastUsed: number;
  inFlight: number;
}

/** Token failures met by nodemailer's provisionCallback, classified, by the error nodemailer passes on. */
type TokenFailures = WeakMap<object, DeliveryError>;

export function createSmtpUpstream(options: SmtpUpstreamOptions): Transport {
  const { login } = options;
  const ca = options.server.caFile ? readRemembered(CA_FILE, options.server.caFile, `${options.keyPath}.caFile`, options.files) : undefined;
  const context = (meta: MessageMeta): ClassifyContext => ({ ...options.context(meta), ...(options.now ? { now: options.now } : {}) });
  const perUser = login.kind === 'xoauth2';
  const idleMs = options.idleMs ?? 60_000;
  const pools = new Map<string, Pool>();
  const tokenFailures: TokenFailures = new WeakMap();
  let sweeper: NodeJS.Timeout | undefined;

  function poolFor(meta: MessageMeta): Pool {
    const key = perUser ? meta.sender : '';
    let pool = pools.get(key);
    if (!pool) {
      pool = { mailer: nodemailer.createTransport(settings(options, ca, context(meta), meta, tokenFailures)), lastUsed: Date.now(), inFlight: 0 };
      pools.set(key, pool);
      if (perUser && !sweeper) {
        sweeper = setInterval(() => closeIdle(pools, idleMs), Math.max(1_000, idleMs / 2));
        sweeper.unref();
      }
    }
    return pool;
  }

  return {
    name: options.name,
    async deliver({ meta, message: stored }: OutboundMessage, signal: AbortSignal): Promise<DeliveryResult> {
      signal.throwIfAborted();
      const message = await OutgoingMessage.open(stored, transportChanges(options.name, meta));
      let readFailure: unknown;
      // A byte stream of at most one piece ahead (Readable.from would queue 16 pieces).
      const raw = message.inMemory ?? Readable.from(readOrRemember(message, (err) => (readFailure = err)), { objectMode: false, highWaterMark: 64 * 1024 });
      const pool = poolFor(meta);
      pool.inFlight++;
      try {
        const info = await pool.mailer.sendMail({ envelope: { from: options.envelopeFrom(meta), to: meta.recipients, size: message.size }, raw });
        return result(info);
      } catch (err) {
        // The spool file failed mid-message (held): that, not what nodemailer made of it.
        const failure = tokenFailureOf(tokenFailures, err) ?? classify(readFailure ?? err, { ...context(meta), transport: options.name });
        options.onFailure?.(failure, meta);
        throw failure;
      } finally {
        pool.inFlight--;
        pool.lastUsed = Date.now();
      }
    },
    async close() {
      clearInterval(sweeper);
      for (const p of pools.values()) p.mailer.close();
      pools.clear();
    },
  };
}

/** nodemailer's settings for one pool (`meta`: the message that opens it; xoauth2 logs in as its sender). */
function settings(o: SmtpUpstreamOptions, ca: Buffer | undefined, context: ClassifyContext, meta: MessageMeta, tokenFailures: TokenFailures): SMTPPool.Options {
  const { host, port, secure } = o.server;
  const base: SMTPPool.Options = {
    pool: true,
    maxConnections: o.maxConnections ?? (o.login.kind === 'xoauth2' ? 2 : 3),
    host,
    port,
    secure,
    requireTLS: !secure,
    // (SNI takes a name, not an address: none for an address such as a test's 127.0.0.1.)
    tls: { minVersion: 'TLSv1.2', ...(isIP(host) ? {} : { servername: host }), ...(ca ? { ca } : {}) },
    connectionTimeout: 30_000,
    greetingTimeout: 30_000,
    socketTimeout: 120_000,
    logger: false,
    ...(o.heloName ? { name: o.heloName } : {}),
  };
  const login = o.login;
  if (login.kind === 'password') return { ...base, auth: { user: login.user, pass: login.pass } };
  if (login.kind === 'none') return base;
  const user = meta.sender;
  const ctx = { ...context, transport: undefined };
  return {
    ...base,
    auth: {
      type: 'OAuth2',
      user,
      // nodemailer asks here for the token, and again with renew after Gmail refused one. A
      // failed token request is classified as what it is (delegation, key, clock, network) and
      // found again by the error nodemailer passes on (it rewrites the error's code to EAUTH).
      provisionCallback: (_user: string, renew: boolean, done: (err: Error | null, token?: string, expires?: number) => void) => {
        login.token(user, renew).then(
          ({ token, expires }) => done(null, token, expires),
          (err: unknown) => {
            const carrier = new Error('the access token request failed');
            tokenFailures.set(carrier, classify(err, ctx));
            done(carrier);
          },
        );
      },
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
export const CA_FILE: FileKind<Buffer> = { name: 'ca-certificate', read: readCaFile, parse: (bytes) => bytes };

function readCaFile(file: string, keyPath: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new ConfigError(keyPath, `cannot read ${file}: ${errorText(err)} (a PEM file the relay's user can read)`);
  }
}

function tokenFailureOf(tokenFailures: TokenFailures, err: unknown): DeliveryError | undefined {
  return err !== null && typeof err === 'object' ? tokenFailures.get(err) : undefined;
}

/** Close per-user pools that have been idle for `idleMs` (a Gmail SMTP connection per user is not free). */
function closeIdle(pools: Map<string, Pool>, idleMs: number): void {
  const now = Date.now();
  for (const [key, pool] of pools) {
    if (pool.inFlight === 0 && now - pool.lastUsed >= idleMs) {
      pool.mailer.close();
      pools.delete(key);
    }
  }
}

/**
 * The upstream's queue id, and the recipients refused while the others were taken: the message
 * is sent; the scheduler retries (a copy for the temporary ones) or reports the refused ones (a
 * retry of the whole would reach the others twice).
 */
function result(info: SMTPPool.SentMessageInfo): DeliveryResult {
  const errors = (info as { rejectedErrors?: { recipient?: string; responseCode?: number }[] }).rejectedErrors ?? [];
  const refused = errors
    .filter((e) => typeof e.recipient === 'string')
    .map((e) => ({ recipient: e.recipient!.toLowerCase(), code: e.responseCode, temporary: e.responseCode === undefined || e.responseCode < 500 }));
  const queued = /\s(\S+)\s+-\s+gsmtp/.exec(info.response)?.[1];
  return { providerId: queued ?? info.messageId ?? 'smtp', ...(refused.length ? { refused } : {}) };
}
