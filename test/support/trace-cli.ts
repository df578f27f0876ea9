/** Run `workspace-relay trace …` in this process (same code as the binary); resolves its stdout. */
import { Command } from 'commander';
import { registerTraceCommand } from '../../src/cli/trace.js';
import type { Config } from '../../src/config/index.js';

export async function traceCli(config: Config, args: string[], sudoUser = 'admin'): Promise<string> {
  let out = '';
  const program = new Command().exitOverride();
  registerTraceCommand(program, { loadConfig: () => config, stdout: (s) => (out += s), stderr: () => undefined, env: { SUDO_USER: sudoUser } });
  await program.parseAsync(['node', 'workspace-relay', 'trace', ...args]);
  return out;
}
