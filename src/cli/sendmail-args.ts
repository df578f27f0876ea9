/**
 * The command line of `workspace-relay sendmail` (and of the relay installed as
 * /usr/sbin/sendmail), as local programs and cron call sendmail: getopt-style single-letter
 * options, values attached or separate (`-fuser@x`, `-f user@x`), flags clustered (`-ti`), `--`
 * before the recipients. Options that change nothing here (queueing, DSN, body type, verbosity)
 * are accepted and ignored, as Postfix's sendmail does; a mode other than "send mail" (-bs, -bp,
 * -q…) is a usage error (EX_USAGE, 64).
 */

export interface SendmailArgs {
  /** -t: the recipients are also read from To, Cc and Bcc (Bcc is then removed). */
  readHeaders: boolean;
  /** -i / -oi: a line with a single dot does not end the message. */
  ignoreDots: boolean;
  /** -f / -r: the envelope sender ('' for the null sender <>). */
  from: string | undefined;
  /** -F: the full name for a From header the message lacks. */
  fullName: string | undefined;
  recipients: string[];
  /** --config / -C: the config file. */
  config: string | undefined;
  /** --server host:port: the relay to submit to (default: the config's first suitable listener). */
  server: string | undefined;
}

export class SendmailUsageError extends Error {}

/** Flags without a value. */
const FLAGS = new Set(['t', 'i', 'v', 'U', 'n', 'm']);
/** Options with a value (the rest of the word, or the next word). */
const WITH_VALUE = new Set(['f', 'r', 'F', 'B', 'N', 'R', 'V', 'h', 'C', 'L', 'O', 'X', 'o', 'b', 'q', 'p', 'A', 'd']);

export function parseSendmailArgs(argv: readonly string[]): SendmailArgs {
  const out: SendmailArgs = { readHeaders: false, ignoreDots: false, from: undefined, fullName: undefined, recipients: [], config: undefined, server: undefined };
  let i = 0;
  const next = (what: string) => {
    if (i >= argv.length) throw new SendmailUsageError(`${what} needs a value`);
    return argv[i++]!;
  };
  while (i < argv.length) {
    const word = argv[i++]!;
    if (word === '--') {
      out.recipients.push(...argv.slice(i));
      break;
    }
    const long = /^--(config|server)(?:=(.*))?$/.exec(word);
    if (long) {
      const value = long[2] ?? next(`--${long[1]}`);
      if (long[1] === 'config') out.config = value;
      else out.server = value;
      continue;
    }
    if (word.startsWith('--')) throw new SendmailUsageError(`unknown option ${word}`);
    if (!word.startsWith('-') || word === '-') {
      out.recipients.push(word);
      continue;
    }
    for (let j = 1; j < word.length; j++) {
      const letter = word[j]!;
      if (FLAGS.has(letter)) {
        if (letter === 't') out.readHeaders = true;
        if (letter === 'i') out.ignoreDots = true;
        continue;
      }
      if (!WITH_VALUE.has(letter)) throw new SendmailUsageError(`unknown option -${letter}`);
      const value = j + 1 < word.length ? word.slice(j + 1) : next(`-${letter}`);
      apply(out, letter, value);
      break;
    }
  }
  return out;
}

function apply(out: SendmailArgs, letter: string, value: string): void {
  switch (letter) {
    case 'f':
    case 'r':
      out.from = value === '<>' ? '' : value.replace(/^<(.*)>$/, '$1');
      return;
    case 'F':
      out.fullName = value;
      return;
    case 'C':
      out.config = value;
      return;
    case 'o':
      // -oi is -i; -oem, -oee, -odb, -odi… (error and delivery modes) change nothing here.
      if (value === 'i') out.ignoreDots = true;
      return;
    case 'b':
      if (value !== 'm') throw new SendmailUsageError(`-b${value}: only -bm (read a message and send it) is supported`);
      return;
    case 'q':
      throw new SendmailUsageError('-q: there is no local queue to run; the relay delivers on its own');
    default:
      // -B (body type), -N (DSN), -R, -V, -h, -L, -O, -X, -p, -A: nothing to do.
      return;
  }
}
