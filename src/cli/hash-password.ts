/**
 * `workspace-relay hash-password`: print the scrypt hash of a device account's password for
 * devices[].passwordHash. The password is read without echo from the terminal (asked twice), or
 * as the first line of standard input when that is not a terminal; never from the command line,
 * where other users could see it in the process list and it would stay in shell history.
 */
import type { Command } from 'commander';
import { hashPassword } from '../auth/index.js';

export interface HashPasswordIo {
  /** Is standard input a terminal? */
  interactive: boolean;
  /** Ask without echo (terminal). */
  prompt(question: string): Promise<string>;
  /** All of standard input (not a terminal). */
  readStdin(): Promise<string>;
  out(line: string): void;
  err(line: string): void;
}

/** Returns the exit code. */
export async function hashPasswordCommand(io: HashPasswordIo): Promise<number> {
  let password: string;
  if (io.interactive) {
    password = await io.prompt('Device password: ');
    const again = await io.prompt('Again: ');
    if (password !== again) {
      io.err('hash-password: the two passwords differ; nothing printed');
      return 1;
    }
  } else {
    password = (await io.readStdin()).split(/\r?\n/)[0] ?? '';
  }
  if (password === '') {
    io.err('hash-password: empty password; type it at the prompt, or pipe it on standard input');
    return 1;
  }
  io.out(await hashPassword(password));
  return 0;
}

export async function readAllStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** Adds `hash-password` to the program (no arguments: a password there would be a leak). */
export function registerHashPassword(program: Command, prompt: (question: string) => Promise<string>): Command {
  return program
    .command('hash-password')
    .description('print the scrypt hash of a device password for devices[].passwordHash (asks for it; or reads the first line of stdin)')
    .allowExcessArguments(false)
    .action(async () => {
      const code = await hashPasswordCommand({
        interactive: Boolean(process.stdin.isTTY),
        prompt,
        readStdin: readAllStdin,
        out: (line) => process.stdout.write(`${line}\n`),
        err: (line) => process.stderr.write(`${line}\n`),
      });
      if (code !== 0) process.exitCode = code;
    });
}
