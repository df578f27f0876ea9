/**
 * `workspace-relay explain-error <answer…>`: how the relay classifies a Google answer (kind,
 * code, notice statuses, fix, retry time, whether the send may have happened), without a config
 * and without asking Google anything. `--codes` prints the whole code table.
 */
import { Command, Option } from 'commander';
import { AnswerFormatError, explainAnswer, formatExplanation, renderCodeTable, type Purpose, type SmtpSource } from '../failures/index.js';
import { CliExit, EXIT_USAGE } from './context.js';

export interface ExplainIo {
  out(line: string): void;
}

interface ExplainFlags {
  as?: 'token' | 'gmail' | SmtpSource;
  status?: string;
  retryAfter?: string;
  for: Purpose;
  user?: string;
  clientId?: string;
  scopes?: string;
  automaticScopes?: boolean;
  json?: boolean;
  codes?: boolean;
}

export function explainError(words: string[], flags: ExplainFlags, io: ExplainIo): void {
  if (flags.codes) {
    io.out(renderCodeTable().trimEnd());
    return;
  }
  const status = flags.status === undefined ? undefined : Number(flags.status);
  if (status !== undefined && !(Number.isInteger(status) && status >= 100 && status <= 599)) {
    throw new CliExit(EXIT_USAGE, `explain-error: --status must be an HTTP status (100-599), not ${flags.status}`);
  }
  let e;
  try {
    e = explainAnswer(words.join(' '), {
      as: flags.as,
      status,
      retryAfterHeader: flags.retryAfter,
      purpose: flags.for,
      user: flags.user,
      clientId: flags.clientId,
      scopes: flags.scopes?.split(',').map((s) => s.trim()).filter(Boolean),
      automaticScopes: flags.automaticScopes,
    });
  } catch (err) {
    if (err instanceof AnswerFormatError) throw new CliExit(EXIT_USAGE, `explain-error: ${err.message}`);
    throw err;
  }
  if (flags.json) io.out(JSON.stringify(e, null, 2));
  else for (const line of formatExplanation(e)) io.out(line);
}

export function registerExplainError(program: Command, io: ExplainIo): Command {
  return program
    .command('explain-error')
    .description("show how the relay classifies a Google answer: kind, code, notice status, fix (asks Google nothing)")
    .argument('[answer...]', 'HTTP status and JSON body, a token error "error: description", an SMTP reply line, or an error code')
    .addOption(
      new Option('--as <source>', 'read the answer as this instead of guessing (an SMTP reply: smtp, gmail-xoauth2 or smtp-relay)').choices(['token', 'gmail', 'smtp', 'gmail-xoauth2', 'smtp-relay']),
    )
    .option('--status <code>', 'HTTP status of a token error or of a body given alone')
    .option('--retry-after <value>', 'the Retry-After header that came with the answer (seconds or an HTTP date)')
    .addOption(new Option('--for <purpose>', 'what the call was for').choices(['send', 'send-as', 'smime', 'directory']).default('send'))
    .option('--user <address>', 'the user the call was made as (named in the fix)')
    .option('--client-id <id>', "the service account's client ID (named in the fix)")
    .option('--scopes <list>', 'the scopes asked for, comma-separated (named in the fix)')
    .option('--automatic-scopes', 'the relay chose the sending scope itself (no gmailApi.scopes): gmail.send, then https://mail.google.com/')
    .option('--json', 'print JSON')
    .option('--codes', 'print every failure code with its kind, notice statuses and fix (Markdown)')
    .action((words: string[], flags: ExplainFlags) => explainError(words, flags, io));
}
