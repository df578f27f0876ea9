#!/usr/bin/env node
/** The command line: the only code that touches process (argv, signals, exit codes). */
import { errorText } from '../errors.js';
import { CliExit, EXIT_FAILURE } from './exit-codes.js';
import { buildProgram } from './program.js';
import { runSendmail, sendmailInvocation } from './sendmail.js';

// Invoked as sendmail (the /usr/sbin/sendmail symlink, or `workspace-relay [-c FILE] sendmail …`):
// its own argument conventions (-oi, -FName, -t), which commander would read as options of its own.
const asSendmail = sendmailInvocation(process.argv);
if (asSendmail) {
  void runSendmail(asSendmail);
} else {
  buildProgram()
    .parseAsync(process.argv)
    .catch((err: unknown) => {
      if (err instanceof CliExit) {
        if (err.message) process.stderr.write(`${err.message}\n`);
        process.exitCode = err.exitCode;
        return;
      }
      process.stderr.write(`workspace-relay: ${errorText(err)}\n`);
      process.exitCode = EXIT_FAILURE;
    });
}
