import type { TransportName } from '../config/index.js';

export { SMTP_TRANSPORTS, type TransportName } from '../config/index.js';

/** What classify() needs to know beyond the error itself, to pick the code and name the fix. */
export interface ClassifyContext {
  /** Service-account client ID (names the delegation to fix). */
  clientId?: string;
  /** Scopes the relay asks for (names the delegation to fix). */
  scopes?: readonly string[];
  /**
   * The relay chose the sending scope itself (no gmailApi.scopes): it asked for gmail.send, then
   * https://mail.google.com/, so an unauthorized_client means neither is authorised.
   */
  automaticScopes?: boolean;
  /**
   * Which way out failed: with an SMTP one ('smtp', 'gmail-xoauth2', 'smtp-relay'), errors are
   * read as nodemailer's even without a reply code, and the upstream's own answers (XOAUTH2,
   * the SMTP relay service's limits) get their own codes.
   */
  transport?: TransportName;
  /**
   * What the call was for (default: sending mail). Google's answers to the settings calls mean
   * something else: an S/MIME upload refused, a send-as list the token may not read.
   */
  purpose?: Purpose;
  /** The user Google (or the SMTP upstream) sends as. */
  user?: string;
  /** The file the SMTP app password is read from (named in the fix when known). */
  passwordFile?: string;
  /**
   * Where the failed connection went (host:port), for the network fixes; default: what the error
   * says (the request's URL, the name that did not resolve, the address that refused).
   */
  host?: string;
  /** The proxy the connection went through (HTTPS_PROXY), credentials removed. */
  proxy?: string;
  /** The caller's signal: an abort it caused is `delivery.aborted`, not a timeout. */
  signal?: AbortSignal;
  /** Clock (ms), for Retry-After seconds, the daily-limit wait and the clock offset. */
  now?: () => number;
}

/**
 * send: users.messages.send, Gmail SMTP, a token to send; send-as: sendAs.list; smime:
 * settings.sendAs.smimeInfo; directory: the Admin SDK Directory API (users, groups).
 */
export type Purpose = 'send' | 'send-as' | 'smime' | 'directory';

/** What a fix template may name. */
export type FixFacts = Pick<ClassifyContext, 'clientId' | 'scopes' | 'user' | 'passwordFile' | 'host' | 'proxy'>;

export const DELEGATION_PAGE =
  'Admin console → Security → Access and data control → API controls → Domain-wide delegation';

/** Wait after a daily sending limit when Google names no time. */
export const DAILY_LIMIT_WAIT_MS = 60 * 60 * 1000;
