#!/usr/bin/env node
/** The command line: the only code that touches process (argv, signals, exit codes). */
import { errorText } from '../errors.js';
import { CliExit, EXIT_FAILURE } from './exit-codes.js';
import { buildProgram } from './program.js';

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
