/** Run `workspace-relay queue …` in this process with captured output (fast; same code as the binary). */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { CliExit } from '../src/cli/context.js';
import { registerQueueCommands } from '../src/cli/queue.js';
import type { Config } from '../src/config/index.js';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  bytes: Buffer;
}

export async function queueCli(config: Config, args: string[], options: { env?: Record<string, string>; uid?: number } = {}): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const chunks: Buffer[] = [];
  const program = new Command('workspace-relay');
  registerQueueCommands(program, {
    loadConfig: () => config,
    stdout: (s) => (stdout += s),
    stdoutBytes: (c) => chunks.push(c),
    stderr: (s) => (stderr += s),
    env: options.env ?? { SUDO_USER: 'drsmith' },
    ...(options.uid !== undefined ? { uid: options.uid } : {}),
  });
  try {
    await program.parseAsync(['queue', ...args], { from: 'user' });
    return { code: 0, stdout, stderr, bytes: Buffer.concat(chunks) };
  } catch (err) {
    if (!(err instanceof CliExit)) throw err;
    return { code: err.exitCode, stdout, stderr: stderr + err.message, bytes: Buffer.concat(chunks) };
  }
}

/** The audit log's entries (one JSON object per line). */
export function auditEntries(file: string): Record<string, any>[] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, any>);
}

/** A small message with these headers (CRLF), as a client would send it. */
export function message(headers: Record<string, string>, body = 'Lab result attached.\r\n'): string {
  return `${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}`)
    .join('\r\n')}\r\n\r\n${body}`;
}

/** The queue id in a 250 reply ("2.0.0 Ok: queued as ID"). */
export function queuedId(text: string): string {
  const id = /queued as (\S+)/.exec(text)?.[1];
  if (!id) throw new Error(`no queue id in ${JSON.stringify(text)}`);
  return id;
}
