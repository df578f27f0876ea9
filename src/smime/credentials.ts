/**
 * Which service account acts for a user: the S/MIME workspace of the user's domain (or the one
 * named), else the top-level smime key. Keys are loaded on first use, so a missing key of another
 * workspace does not stop work on this one.
 */
import { GoogleCredentials, loadServiceAccountKey, type ServiceAccountKey } from '../google/index.js';
import { ConfigError } from '../errors.js';
import { smimeWorkspaceFor, type SmimeConfig } from './config.js';

export type SmimeCredentialsFor = (user: string, workspace?: string) => GoogleCredentials;

export function smimeCredentials(
  config: SmimeConfig,
  loadKey: (file: string, keyPath: string) => ServiceAccountKey = loadServiceAccountKey,
): SmimeCredentialsFor {
  const cache = new Map<string, GoogleCredentials>();
  return (user, workspace) => {
    const w = smimeWorkspaceFor(config, user, workspace);
    const i = w ? config.workspaces.indexOf(w) : -1;
    const keyFile = w?.serviceAccountKeyFile ?? config.serviceAccountKeyFile;
    const keyPath = w?.serviceAccountKeyFile ? `smime.workspaces[${i}].serviceAccountKeyFile` : 'smime.serviceAccountKeyFile';
    if (!keyFile) {
      throw new ConfigError('smime.serviceAccountKeyFile', `no service-account key for ${user}: set smime.serviceAccountKeyFile, or list its domain under an smime workspace that has one`);
    }
    const scopes = w?.scopes ?? config.scopes;
    const id = `${keyFile}\n${scopes.join(' ')}`;
    let creds = cache.get(id);
    if (!creds) {
      creds = new GoogleCredentials({ key: loadKey(keyFile, keyPath), scopes, tokenUrl: config.tokenUrl });
      cache.set(id, creds);
    }
    return creds;
  };
}
