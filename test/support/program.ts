/** Run `workspace-relay ARGS` in this process: the program the binary runs, output captured (no process start: fast under load). */
import { CliExit } from '../../src/cli/exit-codes.js';
import { buildProgram } from '../../src/cli/program.js';

export interface ProgramRun {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runProgram(args: string[]): Promise<ProgramRun> {
  const r: ProgramRun = { code: 0, stdout: '', stderr: '' };
  const program = buildProgram({ stdout: (s) => (r.stdout += s), stderr: (s) => (r.stderr += s), exitCode: (c) => (r.code = c) });
  try {
    await program.parseAsync(args, { from: 'user' });
  } catch (err) {
    if (!(err instanceof CliExit)) throw err;
    r.code = err.exitCode;
    r.stderr += err.message;
  }
  return r;
}
