#!/usr/bin/env node
/** The command line: the only code that touches process (argv, signals, exit codes). */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import YAML from 'yaml';
import { errorText } from '../errors.js';
import { check } from './check.js';
import { registerHashPassword } from './hash-password.js';
import { CliExit, chooseConfig } from './context.js';
import { registerExplainError } from './explain-error.js';
import { sendTest } from './send-test.js';
import { serve } from './serve.js';
import { registerSmimeCommands, ttyPrompt } from './smime.js';
import { processQueueDeps, registerQueueCommands } from './queue.js';

const io = {
  out: (line: string) => process.stdout.write(`${line}\n`),
  err: (line: string) => process.stderr.write(`${line}\n`),
};

export function buildProgram(): Command {
  const program = new Command('workspace-relay')
    .description('SMTP relay that keeps mail inside your Google Workspace (Gmail API or Gmail SMTP)')
    .option('-c, --config <path>', 'config file (default: $WORKSPACE_RELAY_CONFIG, else the example config: a dry run)')
    .showHelpAfterError();
  const configChoice = () => chooseConfig(program.opts<{ config?: string }>().config, process.env);

  program
    .command('serve')
    .description('accept SMTP and deliver through Google until stopped (SIGTERM/SIGINT)')
    .action(() => serve(configChoice()));

  program
    .command('check')
    .description('validate the config, load each key and ask Google for a token as each user')
    .argument('[users...]', 'users to try (default: the users the config names)')
    .option('--no-smtp-login', 'do not log in to Gmail SMTP for smtp workspaces')
    .action((users: string[], opts: { smtpLogin: boolean }) => check(configChoice(), users, io, { smtpLogin: opts.smtpLogin }));

  program
    .command('send-test')
    .description('send a small test message to the running relay')
    .requiredOption('--from <address>', 'envelope and header sender')
    .requiredOption('--to <address...>', 'recipients')
    .option('--server <host:port>', 'relay to talk to (default: the first listener)')
    .action((opts: { from: string; to: string[]; server?: string }) => sendTest(configChoice(), opts, io));

  registerHashPassword(program, ttyPrompt);

  registerSmimeCommands(program, {
    loadDoc: () => YAML.parse(readFileSync(configChoice().path, 'utf8')) as unknown,
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
    prompt: ttyPrompt,
    exit: (code) => {
      process.exitCode = code;
    },
  });

  registerQueueCommands(program, processQueueDeps(configChoice));

  registerExplainError(program, io);

  return program;
}

buildProgram()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    if (err instanceof CliExit) {
      io.err(err.message);
      process.exitCode = err.exitCode;
      return;
    }
    io.err(`workspace-relay: ${errorText(err)}`);
    process.exitCode = 1;
  });
