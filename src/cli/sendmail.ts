/**
 * `workspace-relay sendmail`: a sendmail-compatible entry point for local programs and cron (and
 * the relay installed as /usr/sbin/sendmail: invoked under that name it is this command). It
 * reads one message on stdin and submits it over SMTP to the relay's own listener (the config's
 * first listener a local program can use, or --server), so the same policy applies as to any
 * device: workspace boundary, sender mapping, From policy, recipient check.
 *
 * Exit codes are sendmail's (sysexits.h): 0 taken; 64 usage; 65 the message refused (DATA 5xx,
 * too large); 67 an address refused (MAIL FROM or RCPT 5xx; the others still get the message,
 * as with sendmail); 75 try again later (the relay unreachable, any 4xx); 78 the config. Silent
 * when all went well; each refusal is one line on stderr.
 */
import os from 'node:os';
import nodemailer from 'nodemailer';
import addressparser from 'nodemailer/lib/addressparser';
import { configErrorReport, loadConfig, type Config } from '../config/index.js';
import { ConfigError } from '../errors.js';
import { clientFilter } from '../smtp/index.js';
import { chooseConfig } from './context.js';
import { CliExit, EXIT_CONFIG, EXIT_DATAERR, EXIT_NOUSER, EXIT_OK, EXIT_SOFTWARE, EXIT_TEMPFAIL, EXIT_USAGE } from './exit-codes.js';
import { SendmailUsageError, parseSendmailArgs } from './sendmail-args.js';
import { prepareMessage, readMessage } from './sendmail-message.js';

export interface SendmailDeps {
  stdin: AsyncIterable<Buffer | string>;
  stderr(line: string): void;
  env: NodeJS.ProcessEnv;
  /** The local user (the default envelope sender is user@hostname). */
  user?: () => string;
}

interface Target {
  host: string;
  port: number;
  implicitTls: boolean;
  plain: boolean;
}

/** Run sendmail with these arguments; resolves with the exit code. */
export async function sendmail(argv: readonly string[], deps: SendmailDeps): Promise<number> {
  const say = (line: string) => deps.stderr(`sendmail: ${line}`);
  let args;
  try {
    args = parseSendmailArgs(argv);
  } catch (err) {
    if (!(err instanceof SendmailUsageError)) throw err;
    say(`${err.message}; usage: sendmail [-t] [-i] [-f sender] [-F "full name"] [--config FILE] [--server HOST:PORT] [recipient…] < message`);
    return EXIT_USAGE;
  }
  let config: Config;
  try {
    config = loadConfig(chooseConfig(args.config, deps.env).path);
  } catch (err) {
    if (err instanceof CliExit) {
      say(err.message);
      return err.exitCode;
    }
    if (!(err instanceof ConfigError)) throw err;
    say(`config error: ${configErrorReport(err)}`);
    return EXIT_CONFIG;
  }
  const target = args.server ? parseServer(args.server) : localListener(config);
  if (!target) {
    say('no listener a local program can use (one that allows 127.0.0.1 and does not require AUTH): add one to listen, or give --server HOST:PORT');
    return EXIT_CONFIG;
  }
  if (target === 'bad') {
    say(`--server ${args.server}: use host:port, e.g. 127.0.0.1:2525`);
    return EXIT_USAGE;
  }
  const { bytes, tooLarge } = await readMessage(deps.stdin, config.limits.maxMessageSize);
  if (tooLarge) {
    say(`the message is larger than the relay takes (limits.maxMessageSize, ${config.limits.maxMessageSize} bytes)`);
    return EXIT_DATAERR;
  }
  const from = args.from ?? `${(deps.user ?? (() => os.userInfo().username))()}@${config.hostname}`;
  const message = prepareMessage(bytes, { readHeaders: args.readHeaders, ignoreDots: args.ignoreDots, from, fullName: args.fullName });
  const recipients = unique([...args.recipients.flatMap(addresses), ...message.headerRecipients]);
  if (!recipients.length) {
    say('no recipients: name them after the options, or use -t to read them from To, Cc and Bcc');
    return EXIT_USAGE;
  }
  // The relay answers the recipient beyond limits.maxRecipients with 452: send the rest in another transaction.
  let code = EXIT_OK;
  for (let i = 0; i < recipients.length; i += config.limits.maxRecipients) {
    code = worse(code, await submit(target, config, from, recipients.slice(i, i + config.limits.maxRecipients), message.raw, say));
  }
  return code;
}

async function submit(t: Target, config: Config, from: string, to: string[], raw: Buffer, say: (l: string) => void): Promise<number> {
  const loopback = /^(127\.|::1$|localhost$)/.test(t.host);
  const transport = nodemailer.createTransport({
    host: t.host,
    port: t.port,
    secure: t.implicitTls,
    ignoreTLS: t.plain,
    name: config.hostname,
    // The relay's own certificate names the relay, not 127.0.0.1: on loopback nothing is in between.
    tls: { rejectUnauthorized: !loopback },
    connectionTimeout: 30_000,
    greetingTimeout: 30_000,
    socketTimeout: 120_000,
  });
  try {
    const info = await transport.sendMail({ envelope: { from, to }, raw });
    const refused = (info as { rejectedErrors?: SmtpFailure[] }).rejectedErrors ?? [];
    return refused.reduce((code, e) => worse(code, refusal(e, say)), EXIT_OK);
  } catch (err) {
    const e = err as SmtpFailure & { rejectedErrors?: SmtpFailure[] };
    if (e.rejectedErrors?.length) return e.rejectedErrors.reduce((code, r) => worse(code, refusal(r, say)), EXIT_OK);
    return refusal(e, say, `${t.host}:${t.port}`);
  } finally {
    transport.close();
  }
}

interface SmtpFailure {
  code?: string;
  responseCode?: number;
  response?: string;
  command?: string;
  recipient?: string;
  message?: string;
}

/** One line on stderr, and the exit code it earns. */
function refusal(e: SmtpFailure, say: (l: string) => void, server?: string): number {
  const status = typeof e.responseCode === 'number' ? e.responseCode : undefined;
  const reply = (e.response ?? '').replace(/\s+/g, ' ').trim();
  if (status === undefined) {
    say(`cannot reach the relay${server ? ` at ${server}` : ''} (${e.code ?? 'error'}): try again later`);
    return EXIT_TEMPFAIL;
  }
  const command = (e.command ?? '').toUpperCase();
  const who = e.recipient ? `<${e.recipient}>` : command.startsWith('MAIL') ? 'sender' : 'message';
  say(`${who}: ${reply || status}`);
  if (status < 500) return EXIT_TEMPFAIL;
  return e.recipient || command.startsWith('MAIL') || command.startsWith('RCPT') ? EXIT_NOUSER : EXIT_DATAERR;
}

/** Of two exit codes, the one a caller must act on: try again later wins over refused. */
function worse(a: number, b: number): number {
  const rank = (c: number) => (c === EXIT_TEMPFAIL ? 3 : c === EXIT_OK ? 0 : c === EXIT_NOUSER ? 1 : 2);
  return rank(b) > rank(a) ? b : a;
}

/** The config's first listener a local program can use: it allows 127.0.0.1 and does not require AUTH. */
export function localListener(config: Config): Target | undefined {
  for (const l of config.listen) {
    if (l.auth.required || !clientFilter(l.allow)('127.0.0.1')) continue;
    const host = l.host === '0.0.0.0' || l.host === '::' || l.host === '' ? '127.0.0.1' : l.host;
    return { host, port: l.port, implicitTls: l.tls.mode === 'implicit', plain: l.tls.mode === 'none' };
  }
  return undefined;
}

function parseServer(s: string): Target | 'bad' {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(s);
  if (!m) return 'bad';
  return { host: m[1]!, port: Number(m[2]), implicitTls: false, plain: false };
}

/** The addresses in one argument ("a@x, b@y" or "Name <a@x>"). */
function addresses(arg: string): string[] {
  return addressparser(arg, { flatten: true })
    .map((a) => a.address)
    .filter((a): a is string => Boolean(a));
}

function unique(list: string[]): string[] {
  const seen = new Set<string>();
  return list.filter((a) => {
    const k = a.toLowerCase();
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/**
 * The sendmail arguments when this process is sendmail: run under the name `sendmail` (the
 * /usr/sbin/sendmail symlink), or as `workspace-relay [-c FILE] sendmail …`. Undefined otherwise.
 */
export function sendmailInvocation(argv: readonly string[]): string[] | undefined {
  const script = argv[1] ?? '';
  if (script.slice(script.lastIndexOf('/') + 1) === 'sendmail') return argv.slice(2);
  const config: string[] = [];
  let i = 2;
  for (;;) {
    const a = argv[i];
    if ((a === '-c' || a === '--config') && argv[i + 1] !== undefined) {
      config.push('--config', argv[i + 1]!);
      i += 2;
    } else if (a?.startsWith('--config=')) {
      config.push(a);
      i += 1;
    } else break;
  }
  return argv[i] === 'sendmail' ? [...config, ...argv.slice(i + 1)] : undefined;
}

/** Run sendmail in this process: stdin, stderr and the exit code are the process's. */
export async function runSendmail(args: readonly string[]): Promise<void> {
  const stderr = (line: string) => void process.stderr.write(`${line}\n`);
  process.exitCode = await sendmail(args, { stdin: process.stdin, stderr, env: process.env }).catch((err: unknown) => {
    stderr(`sendmail: ${err instanceof Error ? err.message : String(err)}`);
    return EXIT_SOFTWARE;
  });
}
