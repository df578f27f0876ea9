/**
 * Exit codes of every command (README "Exit codes"), from sysexits.h where one fits, so scripts,
 * monitoring and systemd can tell "fix your command line" from "fix the config" from "try again".
 */
import type { Command, CommanderError } from 'commander';

export const EXIT_OK = 0;
/** Something failed: a check, a refused message, no such queue id. */
export const EXIT_FAILURE = 1;
/** `status`: the relay is not running (as an LSB init script's `status` says). */
export const EXIT_NOT_RUNNING = 3;
/** EX_USAGE: unknown command or option, a missing or malformed argument. */
export const EXIT_USAGE = 64;
/** EX_DATAERR (`sendmail`): the relay refused the message itself (DATA 5xx, too large). */
export const EXIT_DATAERR = 65;
/** EX_NOUSER (`sendmail`): the relay refused an address (MAIL FROM or RCPT 5xx). */
export const EXIT_NOUSER = 67;
/** EX_SOFTWARE (`sendmail`): a fault of the relay's own (a bug), not of the message or the relay's state. */
export const EXIT_SOFTWARE = 70;
/** EX_TEMPFAIL: the daemon is busy or did not answer; trying again later may work. */
export const EXIT_TEMPFAIL = 75;
/** EX_CONFIG: the config is missing or invalid. systemd's RestartPreventExitStatus stops restart loops on it. */
export const EXIT_CONFIG = 78;
/** 128 + SIGINT: a bulk S/MIME command stopped by Ctrl-C after writing what it had done (run it again to finish). */
export const EXIT_INTERRUPTED = 130;

/** Ends a command with this exit code; `message` (if any) goes to stderr. */
export class CliExit extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Commander's own usage errors (unknown command or option, missing required option or argument)
 * end with EX_USAGE instead of commander's exit 1; its message is already on stderr. `--help` and
 * `--version` still exit 0. Subcommands created after this inherit it.
 */
export function usageExits<C extends Command>(command: C): C {
  command.exitOverride((err: CommanderError) => {
    if (err.exitCode === 0) throw new CliExit(EXIT_OK, '');
    throw new CliExit(EXIT_USAGE, '');
  });
  return command;
}
