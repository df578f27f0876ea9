/**
 * What a failed `queue` command exits with: the control path's error codes (busy, unreachable:
 * try again, 75; a bad id or request: 64), config errors (78), anything else (1).
 */
import { ControlError } from '../control/index.js';
import { ConfigError, errorText } from '../errors.js';
import { CliExit, EXIT_CONFIG, EXIT_FAILURE, EXIT_TEMPFAIL, EXIT_USAGE } from './context.js';

/** The exit code for a control-path error code. */
export function exitCodeFor(code: string): number {
  // control.unavailable here: the relay answered the ping, then went away (it stopped): try again.
  if (['control.busy', 'control.timeout', 'control.no_answer', 'control.unavailable', 'control.in_use', 'queue.busy'].includes(code)) return EXIT_TEMPFAIL;
  if (code === 'queue.bad_id' || code === 'control.bad_request') return EXIT_USAGE;
  return EXIT_FAILURE;
}

/** Any error of a queue command as the CliExit to throw. */
export function asExit(err: unknown): CliExit {
  if (err instanceof CliExit) return err;
  if (err instanceof ControlError) return new CliExit(exitCodeFor(err.code), `error: ${err.message}`);
  if (err instanceof ConfigError) return new CliExit(EXIT_CONFIG, `config error: ${err.message}`);
  return new CliExit(EXIT_FAILURE, `error: ${errorText(err)}`);
}
