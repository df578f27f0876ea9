/**
 * Google's SMTP relay service (smtp-relay.gmail.com): its own answers about limits and about who
 * may relay, read before the general SMTP rules (gmail-smtp.ts). Google words them:
 *
 * - `550 5.4.5 Daily SMTP relay limit exceeded for user`: the sending user is over its daily
 *   relay limit; its mail waits until the day rolls over (midnight UTC), other users go on;
 * - `450 4.2.1 Peak SMTP relay limit exceeded for customer`: the workspace sends too fast; back off;
 * - `550 5.7.0 Mail relay denied [IP]` / `550 5.7.1 Invalid credentials for relay [IP]`: the
 *   relay's address (or the sender's domain, or the login) is not allowed in the Admin console:
 *   held until an admin fixes the SMTP relay setting.
 *
 * The text is read (the codes alone are shared with other answers) but never copied.
 */
import type { DeliveryError } from '../errors.js';
import type { ClassifyContext } from './context.js';
import { failure } from './failure.js';

export interface SmtpAnswer {
  status: number | undefined;
  enhanced: string | undefined;
  response: string;
  /** "550 5.4.5", for messages and `detail`. */
  reply: string;
}

/** The relay service's own answers; undefined for the others (read by the general SMTP rules). */
export function classifyRelayAnswer(a: SmtpAnswer, ctx: ClassifyContext): DeliveryError | undefined {
  if (a.status === undefined) return undefined;
  const user = ctx.user ?? 'the sending user';
  const facts = { status: a.status, detail: a.reply || undefined };
  const said = a.reply ? ` (${a.reply})` : '';
  if (a.enhanced === '5.4.5' || /daily smtp relay limit/i.test(a.response)) {
    const retryAfter = nextUtcMidnight((ctx.now ?? Date.now)());
    return failure('delivery.relay.daily_limit', `the daily SMTP relay limit of ${user} is reached${said}`, ctx, { ...facts, retryAfter });
  }
  if ((a.enhanced === '4.2.1' && a.status < 500) || /peak smtp relay limit/i.test(a.response)) {
    return failure('delivery.relay.peak_limit', `the SMTP relay service asks the workspace to slow down${said}`, ctx, facts);
  }
  if (/mail relay denied|invalid credentials for relay/i.test(a.response)) {
    return failure('delivery.relay.denied', `the SMTP relay service refused to relay for ${user}${said}`, ctx, facts);
  }
  return undefined;
}

/** The next midnight UTC after `now` (ms): when the relay's daily count starts again. */
export function nextUtcMidnight(now: number): Date {
  const d = new Date(now);
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1));
}
