/**
 * Google's SMTP front doors, faked with smtp-server on loopback (TLS with a test certificate):
 *
 * - `FakeGmailSmtp` (smtp.gmail.com with XOAUTH2): AUTH XOAUTH2 only; the bearer token must be
 *   one the fake token endpoint issued (FakeGoogle.grantFor: not expired), for the user logging
 *   in, with https://mail.google.com/. Otherwise it answers as Gmail does: a 334 challenge with
 *   {"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"}, then 535 5.7.8.
 * - `FakeSmtpRelay` (smtp-relay.gmail.com): STARTTLS, the client's IP address allowed (or SMTP
 *   AUTH as one user), and the relay service's answers: the daily and peak limits, relay denied.
 */
import { readFileSync } from 'node:fs';
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import type { FakeGoogle } from './fake-google.js';
import { makeTestCert } from './tls.js';

const FULL = 'https://mail.google.com/';

export interface FakeSmtpMessage {
  /** The user that logged in (XOAUTH2 / SMTP AUTH), or '' when none did. */
  user: string;
  from: string;
  to: string[];
  raw: Buffer;
  secure: boolean;
  /** The client's EHLO name. */
  helo: string;
}

type Answer = { code: number; text: string };
const smtpError = (a: Answer) => Object.assign(new Error(a.text), { responseCode: a.code });

abstract class FakeSmtpBase {
  readonly received: FakeSmtpMessage[] = [];
  /** The next DATA ends get these answers instead of 250 (in order). */
  readonly dataAnswers: Answer[] = [];
  readonly ca: string;
  protected server!: SMTPServer;
  port = 0;

  constructor(
    dir: string,
    protected readonly secure: boolean,
  ) {
    const cert = makeTestCert(dir, `google-smtp-${Math.random().toString(36).slice(2)}`);
    this.ca = cert.certFile;
    this.tls = { key: readFileSync(cert.keyFile), cert: readFileSync(cert.certFile) };
  }
  private readonly tls: { key: Buffer; cert: Buffer };

  protected async listen(options: SMTPServerOptions): Promise<void> {
    this.server = new SMTPServer({
      secure: this.secure,
      ...this.tls,
      logger: false,
      // (A test's close does not wait the default 30 s for a relay's pooled connection to end.)
      closeTimeout: 1_000,
      disabledCommands: this.secure ? ['STARTTLS'] : [],
      ...options,
      onData: (stream, session, cb) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          const scripted = this.dataAnswers.shift();
          if (scripted) return cb(smtpError(scripted));
          this.received.push({
            user: typeof session.user === 'string' ? session.user : '',
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            raw: Buffer.concat(chunks),
            secure: session.secure,
            helo: session.hostNameAppearsAs,
          });
          cb(null, `OK ${Date.now()} ${Math.random().toString(36).slice(2, 10)} - gsmtp`);
        });
      },
    });
    this.server.on('error', () => undefined);
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.server.address() as { port: number }).port;
  }

  async close(): Promise<void> {
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

export class FakeGmailSmtp extends FakeSmtpBase {
  /** Logins refused, with why (the token was unknown or expired, another user's, or lacked the scope). */
  readonly refusedLogins: { user: string; why: string }[] = [];
  /** Refuse the next N logins even with a good token (Gmail not taking a token it issued). */
  refuseLogins = 0;

  static async start(google: FakeGoogle, dir: string, options: { secure: boolean }): Promise<FakeGmailSmtp> {
    const f = new FakeGmailSmtp(dir, options.secure);
    await f.listen({
      authMethods: ['XOAUTH2'],
      onAuth(auth, _session, cb) {
        const user = (auth.username ?? '').toLowerCase();
        const grant = auth.method === 'XOAUTH2' ? google.grantFor(`Bearer ${auth.accessToken ?? ''}`) : undefined;
        let why = '';
        if (auth.method !== 'XOAUTH2') why = 'not XOAUTH2';
        else if (!grant) why = 'unknown or expired token';
        else if (grant.sub !== user) why = `a token of ${grant.sub}`;
        else if (!grant.scopes.includes(FULL)) why = `scopes ${grant.scopes.join(' ')}`;
        else if (f.refuseLogins > 0) {
          f.refuseLogins--;
          why = 'refused (scripted)';
        }
        if (!why) return cb(null, { user });
        f.refusedLogins.push({ user, why });
        cb(null, { data: { status: '400', schemes: 'Bearer', scope: FULL } });
      },
      onMailFrom(address, session, cb) {
        if (!session.user) return cb(smtpError({ code: 530, text: '5.7.0 Authentication Required.' }));
        cb();
      },
    });
    return f;
  }
}

export class FakeSmtpRelay extends FakeSmtpBase {
  /** Client addresses the relay service takes mail from without AUTH (Admin console: "allowed IP addresses"). */
  allowedIps = new Set<string>(['127.0.0.1']);
  /** With SMTP AUTH required: the one account and its password. */
  login: { user: string; pass: string } | null = null;
  /** Per envelope sender: the relay service's limit answers at MAIL FROM, one per attempt (in order). */
  readonly limits = new Map<string, ('daily' | 'peak')[]>();
  readonly answered: { from: string; code: number }[] = [];

  static async start(dir: string): Promise<FakeSmtpRelay> {
    const f = new FakeSmtpRelay(dir, false);
    await f.listen({
      authMethods: ['PLAIN', 'LOGIN'],
      authOptional: true,
      onAuth(auth, _session, cb) {
        if (f.login && auth.username === f.login.user && auth.password === f.login.pass) return cb(null, { user: auth.username });
        cb(smtpError({ code: 535, text: '5.7.8 Username and Password not accepted.' }));
      },
      onMailFrom(address, session, cb) {
        const from = address.address.toLowerCase();
        const answer = f.mailFrom(from, session);
        f.answered.push({ from, code: answer?.code ?? 250 });
        cb(answer ? smtpError(answer) : undefined);
      },
    });
    return f;
  }

  private mailFrom(from: string, session: SMTPServerSession): Answer | null {
    const ip = session.remoteAddress.replace(/^::ffff:/, '');
    if (this.login ? !session.user : !this.allowedIps.has(ip)) {
      return { code: 550, text: `5.7.0 Mail relay denied [${ip}]. Invalid credentials for relay for one of the domains in: ${from.split('@')[1]} (as obtained from HELO and MAIL FROM).` };
    }
    const limit = this.limits.get(from)?.shift();
    if (limit === 'daily') return { code: 550, text: '5.4.5 Daily SMTP relay limit exceeded for user. For more information on SMTP relay sending limits please visit https://support.google.com/a/answer/166852' };
    if (limit === 'peak') return { code: 450, text: '4.2.1 Peak SMTP relay limit exceeded for customer. For more information on SMTP relay sending limits please visit https://support.google.com/a/answer/166852' };
    return null;
  }
}
