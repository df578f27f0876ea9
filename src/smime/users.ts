/**
 * Which users a bulk S/MIME command works on: named on the command line, listed in a users file
 * (one address a line, # comments), and a workspace's users. Lowercased, each once, in the order
 * given. A workspace's users come from `workspaceUsers`: its `smime.workspaces[].users` list, and
 * for `smime report` and the bulk `smime rotate` also the Directory API's (directory-users.ts).
 */
import { readFileSync } from 'node:fs';
import { errorText } from '../errors.js';
import { smimeWorkspaceFor, type SmimeConfig } from './config.js';

/** The users of an S/MIME workspace (by its name in smime.workspaces). */
export type WorkspaceUsers = (config: SmimeConfig, workspace: string) => Promise<readonly string[]>;

/** The workspace's `users` list in the config. */
export const configWorkspaceUsers: WorkspaceUsers = async (config, workspace) => smimeWorkspaceFor(config, '', workspace)!.users;

export interface UserSources {
  named?: readonly string[];
  usersFile?: string | undefined;
  workspace?: string | undefined;
}

export async function collectUsers(
  sources: UserSources,
  config: SmimeConfig,
  workspaceUsers: WorkspaceUsers = configWorkspaceUsers,
  readFile: (file: string) => string = (f) => readFileSync(f, 'utf8'),
): Promise<string[]> {
  const users = new Set<string>();
  const add = (u: string) => {
    const v = u.replace(/#.*/, '').trim().toLowerCase();
    if (v) users.add(v);
  };
  sources.named?.forEach(add);
  if (sources.usersFile) {
    let text: string;
    try {
      text = readFile(sources.usersFile);
    } catch (err) {
      throw new Error(`cannot read ${sources.usersFile}: ${(err as NodeJS.ErrnoException).code ?? errorText(err)}`);
    }
    text.split(/\r?\n/).forEach(add);
  }
  if (sources.workspace) (await workspaceUsers(config, sources.workspace)).forEach(add);
  return [...users];
}
