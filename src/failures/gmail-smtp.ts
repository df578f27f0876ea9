/**
 * Failures from the SMTP upstream (nodemailer: `code` such as EAUTH / ECONNECTION / ETIMEDOUT,
 * `responseCode`, `response`, `command`). 4xx is temporary and 5xx permanent, except:
 * authentication failures are held (the app password is wrong or revoked: an admin must fix
 * it), Gmail's "550 5.4.5 daily sending limit" is a quota (temporary), a 4xx with a 4.7.x status
 * asks the account to slow down (rate limited: the account is paused) and 503 is a bad
 * sequence on our side (temporary). The server's text is not copied: it can quote addresses
 * and header contents; the reply code and enhanced status code are.
 */
import type { DeliveryError } from '../errors.js';
import { DAILY_LIMIT_WAIT_MS, type ClassifyContext } from './context.js';
import { failure } from './failure.js';
import { classifyNetwork } from './network.js';
import { classifyRelayAnswer } from './smtp-relay.js';

const NODEMAILER_CODES = new Set([
  'EAUTH',
  'ENOAUTH',
  'EOAUTH2',
  'ECONNECTION',
  'ESOCKET',
  'EDNS',
  'ETLS',
  'EREQUIRETLS',
  'EPROTOCOL',
  'EENVELOPE',
  'EMESSAGE',
  'ESTREAM',
  'EABORT',
  'EMAXLIMIT',
]);

export interface SmtpErrorLike {
  code?: unknown;
  responseCode?: unknown;
  response?: unknown;
  command?: unknown;
  message?: unknown;
}

export function isSmtpError(err: unknown): err is SmtpErrorLike {
  if (!err || typeof err !== 'object') return false;
  const e = err as SmtpErrorLike;
  return typeof e.responseCode === 'number' || (typeof e.code === 'string' && NODEMAILER_CODES.has(e.code));
}

export function classifySmtp(err: SmtpErrorLike, ctx: ClassifyContext): DeliveryError {
  const status = typeof err.responseCode === 'number' ? err.responseCode : undefined;
  const response = typeof err.response === 'string' ? err.response : '';
  const enhanced = /^\d{3}[ -](\d\.\d{1,3}\.\d{1,3})\b/.exec(response)?.[1];
  const reply = [status, enhanced].filter(Boolean).join(' ');
  const code = typeof err.code === 'string' ? err.code : '';
  const user = ctx.user ?? 'the sending user';
  const facts = { status, detail: reply || code || undefined };
  const said = reply ? ` (${reply})` : '';

  if (ctx.transport === 'smtp-relay') {
    const relay = classifyRelayAnswer({ status, enhanced, response, reply }, ctx);
    if (relay) return relay;
  }
  const authFailure =
    ['EAUTH', 'ENOAUTH', 'EOAUTH2'].includes(code) || status === 535 || status === 534 || status === 530;
  if (authFailure && !(status !== undefined && status >= 400 && status < 500)) {
    // XOAUTH2: nodemailer already asked for a new token once and Gmail refused that one too.
    if (ctx.transport === 'gmail-xoauth2') {
      return failure('delivery.xoauth2.refused', `Gmail SMTP refused the XOAUTH2 login of ${user}${said}`, ctx, facts);
    }
    return failure('delivery.smtp.auth', `the SMTP upstream refused the login of ${user}${said}`, ctx, facts);
  }
  if (status !== undefined && status >= 400 && status < 600) {
    if (enhanced === '5.4.5' || /sending limit|sending quota/i.test(response)) {
      const retryAfter = new Date((ctx.now ?? Date.now)() + DAILY_LIMIT_WAIT_MS);
      return failure('delivery.daily_limit', `the sending limit of ${user} is reached${said}`, ctx, { ...facts, retryAfter });
    }
    if (status < 500 && enhanced?.startsWith('4.7.')) {
      // Gmail's "421 4.7.0 Try again later", "454 4.7.0 Too many login attempts": this account is
      // sending (or logging in) too fast. Pause the account, not just this message.
      return failure('delivery.rate_limited', `the SMTP upstream asks ${user} to slow down${said}`, ctx, facts);
    }
    if (status < 500 || status === 503) {
      return failure('delivery.smtp.temporary', `the SMTP upstream deferred the message${said}`, ctx, facts);
    }
    if (status === 552 || enhanced === '5.3.4' || enhanced === '5.2.3') {
      return failure('delivery.message_too_large', `the SMTP upstream refused the message as too large${said}`, ctx, facts);
    }
    return failure('delivery.smtp.rejected', `the SMTP upstream refused the message${said}`, ctx, facts);
  }
  if (code === 'EMESSAGE' && /size larger than allowed/i.test(String(err.message))) {
    return failure('delivery.message_too_large', 'the message is larger than the SMTP upstream accepts (SIZE)', ctx, facts);
  }
  // A connect-phase failure (DNS, refused, before the greeting) never carried the message.
  const net = classifyNetwork(err, ctx, code !== 'EDNS' && code !== 'ETLS');
  if (net) return net;
  if (code === 'ETLS' || code === 'EREQUIRETLS') {
    return failure('delivery.network.tls', `TLS with the SMTP upstream failed (${code})`, ctx, facts);
  }
  return failure('delivery.unknown', `unrecognised SMTP failure (${code || 'no code'}${reply ? ` ${reply}` : ''})`, ctx, facts);
}
