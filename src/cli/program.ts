/**
 * Every command, option and argument of `workspace-relay` (README "Command line" lists the same;
 * test/help-readme.test.ts keeps the two in step). Building it has no side effects; index.ts runs it.
 */
import { pipeline } from 'node:stream/promises';
import { Command, Help, Option } from 'commander';
import { readConfigDocument } from '../config/index.js';
import { LOG_FORMATS, prettyStream, type LogFormat } from '../log-pretty.js';
import { VERSION } from '../version.js';
import { check } from './check.js';
import { registerCryptCommands } from './crypt.js';
import { SYSTEM_CONFIG_PATH, chooseConfig, exampleNotice, loadConfigOrExit, type ConfigChoice } from './context.js';
import { usageExits } from './exit-codes.js';
import { registerExplainError } from './explain-error.js';
import { registerHashPassword } from './hash-password.js';
import { processQueueDeps, registerQueueCommands } from './queue.js';
import { reloadCommand } from './reload.js';
import { DEFAULT_WAIT, sendTest } from './send-test.js';
import { serve } from './serve.js';
import { registerSmimeCommands } from './smime.js';
import { ttyPrompt } from './tty-prompt.js';
import { runSendmail } from './sendmail.js';
import { statusCommand } from './status.js';
import { registerTraceCommand } from './trace.js';

/** Where commands write (tests capture it); the message bytes of `queue show --body` always go to stdout. */
export interface ProgramIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Set the exit code of a command that goes on to its end (the S/MIME commands). */
  exitCode: (code: number) => void;
}

const processIo: ProgramIo = {
  stdout: (s) => void process.stdout.write(s),
  stderr: (s) => void process.stderr.write(s),
  exitCode: (code) => void (process.exitCode = code),
};

/** `--help` says which options a command cannot run without. */
function optionDescription(this: Help, option: Option): string {
  const text = Help.prototype.optionDescription.call(this, option);
  return option.mandatory ? `${text} (required)` : text;
}

export function buildProgram(out: ProgramIo = processIo): Command {
  const io = { out: (line: string) => out.stdout(`${line}\n`), err: (line: string) => out.stderr(`${line}\n`) };
  const program = usageExits(new Command('workspace-relay'))
    .configureOutput({ writeOut: out.stdout, writeErr: out.stderr })
    .description('SMTP relay that keeps mail inside your Google Workspace (Gmail API or Gmail SMTP)')
    .version(VERSION, '-V, --version', 'print the version and exit')
    .option('-c, --config <path>', `config file (default: $WORKSPACE_RELAY_CONFIG, else ${SYSTEM_CONFIG_PATH}; in a source checkout, else its example: a dry run)`)
    .helpOption('-h, --help', 'show help for a command')
    .showHelpAfterError('(add --help for usage)')
    .configureHelp({ optionDescription });

  let chosen: ConfigChoice | undefined;
  /** The config, chosen once; a command other than serve says on stderr when it is the checkout's example. */
  const configChoice = (note = true): ConfigChoice => {
    if (!chosen) {
      chosen = chooseConfig(program.opts<{ config?: string }>().config, process.env);
      const text = note ? exampleNotice(chosen) : null;
      if (text) io.err(text);
    }
    return chosen;
  };

  program
    .command('serve')
    .description('accept SMTP and deliver through Google until stopped (SIGTERM/SIGINT; SIGHUP reloads the config)')
    .addOption(
      new Option('--log-format <format>', 'auto: readable on a terminal, JSON lines otherwise; json; pretty').choices(LOG_FORMATS).default('auto'),
    )
    .action((opts: { logFormat: LogFormat }) => serve(configChoice(false), { logFormat: opts.logFormat }));

  program
    .command('status')
    .description('is the relay running: pid, uptime, listeners, queue by state, each workspace\'s last delivery and held mail (exit 3 when not running)')
    .option('--json', 'machine-readable output')
    .action((opts: { json?: boolean }) => statusCommand(loadConfigOrExit(configChoice()), opts, io));

  program
    .command('reload')
    .description('reload the running relay\'s config as SIGHUP does and say what applied: exit 0 all, 1 a practice kept or the config refused, 3 not running')
    .option('--json', 'machine-readable output')
    .action((opts: { json?: boolean }) => reloadCommand(configChoice(), opts, io));

  program
    .command('check')
    .description("the doctor: what serve would refuse, the spool, reaching Google (DNS, TCP, proxy, TLS), the clock, and a token and Gmail's answer for each user the config names")
    .argument('[users...]', 'users to try (default: the users the config names)')
    .option('--no-smtp-login', 'do not log in to Gmail SMTP for smtp workspaces')
    .option('--json', 'machine-readable output')
    .action((users: string[], opts: { smtpLogin: boolean; json?: boolean }) =>
      check(configChoice(), users, io, { smtpLogin: opts.smtpLogin, ...(opts.json ? { json: true } : {}) }),
    );

  program
    .command('send-test')
    .description('send a small test message to the running relay (--wait: and follow it to Google)')
    .requiredOption('--from <address>', 'envelope and header sender')
    .requiredOption('--to <address...>', 'recipients')
    .option('--server <host:port>', 'relay to talk to (default: the first listener)')
    .option('--wait', "wait until Google has the message (its message id) or it fails with the fix; exit 1 on failure, 75 on timeout")
    .option('--timeout <duration>', `how long --wait waits (default ${DEFAULT_WAIT})`)
    .option('--json', 'machine-readable output')
    .action((opts: { from: string; to: string[]; server?: string; json?: boolean; wait?: boolean; timeout?: string }) => sendTest(configChoice(), opts, io));

  registerHashPassword(program, ttyPrompt);

  program
    .command('pretty-logs')
    .description('read the relay\'s JSON log lines on stdin and print them for people (journalctl -u workspace-relay -o cat | workspace-relay pretty-logs)')
    .allowExcessArguments(false)
    .action(async () => pipeline(process.stdin, await prettyStream()));

  registerSmimeCommands(program, {
    loadDoc: () => readConfigDocument(configChoice().path),
    stdout: out.stdout,
    stderr: out.stderr,
    prompt: ttyPrompt,
    exit: out.exitCode,
  });

  registerQueueCommands(program, { ...processQueueDeps(configChoice), stdout: out.stdout, stderr: out.stderr });

  registerTraceCommand(program, { ...processQueueDeps(configChoice), stdout: out.stdout, stderr: out.stderr });

  registerCryptCommands(program, {
    loadConfig: () => loadConfigOrExit(configChoice()),
    stdout: out.stdout,
    stdoutBytes: (chunk) => void process.stdout.write(chunk),
  });

  registerExplainError(program, io);

  // index.ts runs sendmail before commander (its options are not commander's); listed for --help.
  program
    .command('sendmail')
    .description('sendmail for local programs and cron: -t, -i, -f, -F, recipients as arguments, the message on stdin (also as /usr/sbin/sendmail)')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[args...]', 'sendmail options and recipients')
    .action((args: string[]) => runSendmail(args));

  return program;
}
