/**
 * `smime report --workspace NAME` and the bulk `smime rotate --workspace NAME` list the
 * workspace's users themselves: the Directory API's users.list (paged, optionally one
 * organisational unit and those below it), with read-only directory credentials of their own,
 * so a monthly cron needs no users file.
 *
 * The credentials entry: smime.workspaces[NAME].directory, else the relay workspace of the same
 * name's `directory` (the recipient check's: the same two read-only scopes). The users listed
 * are the active ones (not suspended or archived) of the workspace's domains, when it names any.
 */
import { describeIssue, formatKeyPath, directorySchema, type DirectoryConfig } from '../config/index.js';
import { ConfigError, DeliveryError } from '../errors.js';
import { GoogleCredentials, createDirectoryClient, listWorkspaceUsers, loadServiceAccountKey, type ServiceAccountKey } from '../google/index.js';
import { smimeWorkspaceFor, type SmimeConfig } from './config.js';
import type { WorkspaceUsers } from './users.js';

export interface WorkspaceDirectory {
  directory: DirectoryConfig;
  /** The key path of the entry, for errors (e.g. smime.workspaces[0].directory). */
  keyPath: string;
  /** Only users of these domains (empty: all the customer's users). */
  domains: readonly string[];
}

/** The directory entry `report`/`rotate --workspace NAME` use, or undefined when there is none. */
export function workspaceDirectory(doc: unknown, config: SmimeConfig, name: string): WorkspaceDirectory | undefined {
  const i = config.workspaces.findIndex((w) => w.name === name);
  const own = config.workspaces[i];
  if (own?.directory) return { directory: own.directory, keyPath: `smime.workspaces[${i}].directory`, domains: own.domains };
  const relay = doc && typeof doc === 'object' ? (doc as { workspaces?: unknown }).workspaces : undefined;
  if (!Array.isArray(relay)) return undefined;
  const j = relay.findIndex((w: unknown) => (w as { name?: unknown } | null)?.name === name);
  const entry = relay[j] as { directory?: unknown; domains?: unknown } | undefined;
  if (!entry || entry.directory === undefined) return undefined;
  const parsed = directorySchema.safeParse(entry.directory);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(formatKeyPath(['workspaces', j, 'directory', ...issue.path]), describeIssue(issue));
  }
  const domains = Array.isArray(entry.domains) ? entry.domains.filter((d): d is string => typeof d === 'string').map((d) => d.toLowerCase()) : [];
  return { directory: parsed.data, keyPath: `workspaces[${j}].directory`, domains: own?.domains.length ? own.domains : domains };
}

/** The workspace's users from the Directory (rejects with a classified DeliveryError). */
export async function listDirectoryUsers(
  config: SmimeConfig,
  wd: WorkspaceDirectory,
  options: { orgUnit?: string | undefined; loadKey?: (file: string, keyPath: string) => ServiceAccountKey } = {},
): Promise<string[]> {
  const d = wd.directory;
  const key = (options.loadKey ?? loadServiceAccountKey)(d.serviceAccountKeyFile, `${wd.keyPath}.serviceAccountKeyFile`);
  const credentials = new GoogleCredentials({ key, scopes: d.scopes, tokenUrl: config.tokenUrl });
  const client = createDirectoryClient({ credentials, adminUser: d.adminUser, rootUrl: config.directoryRootUrl, customer: d.customer });
  return listWorkspaceUsers(client, { orgUnit: options.orgUnit, domains: wd.domains });
}

/**
 * A WorkspaceUsers (users.ts) for `report`/`rotate --workspace NAME`: smime.workspaces[NAME].users, and
 * every active user the Directory lists when NAME has a directory entry (its own, or the relay
 * workspace's). NAME must be one or the other.
 */
export function directoryWorkspaceUsers(doc: unknown, options: { orgUnit?: string | undefined } = {}): WorkspaceUsers {
  return async (config, name) => {
    const own = config.workspaces.find((w) => w.name === name);
    const wd = workspaceDirectory(doc, config, name);
    if (!own && !wd) smimeWorkspaceFor(config, '', name); // throws: no such workspace, naming those there are
    if (!wd && options.orgUnit !== undefined) {
      throw new ConfigError('smime.workspaces', `--org-unit needs a directory entry for workspace "${name}" (smime.workspaces[].directory, or the relay workspace's directory)`);
    }
    const users = [...(own?.users ?? [])];
    if (wd) {
      try {
        users.push(...(await listDirectoryUsers(config, wd, { orgUnit: options.orgUnit })));
      } catch (err) {
        if (!(err instanceof DeliveryError)) throw err;
        throw new Error(`cannot list the users of workspace "${name}" from the Directory API: ${err.summary}${err.fix ? `\n  fix: ${err.fix}` : ''}`);
      }
    }
    return users;
  };
}
