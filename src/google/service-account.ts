/**
 * Reading a service-account JSON key: from a file that only the relay's user can read. Parsed and
 * checked (JSON, fields, the private key's PEM: about 0.6 ms) only when the file's bytes changed;
 * with `lastGood`, the key as last read good when the file no longer holds one (a practice kept on
 * its running settings at a reload): src/config/last-good.ts.
 */
import { createPrivateKey } from 'node:crypto';
import { ConfigError } from '../errors.js';
import { readRemembered, readSecretBytes, type FileKind, type SecretReadOptions } from '../config/index.js';

export interface ServiceAccountKey {
  client_email: string;
  client_id: string;
  private_key: string;
  private_key_id?: string;
  project_id?: string;
}

export const SERVICE_ACCOUNT_KEY_FILE: FileKind<Readonly<ServiceAccountKey>> = {
  name: 'service-account-key',
  read: readSecretBytes,
  parse: (bytes, file, keyPath) => Object.freeze(parseServiceAccountKey(bytes.toString('utf8'), file, keyPath)),
};

export function loadServiceAccountKey(file: string, keyPath: string, options: SecretReadOptions = {}): ServiceAccountKey {
  return readRemembered(SERVICE_ACCOUNT_KEY_FILE, file, keyPath, options);
}

function parseServiceAccountKey(text: string, file: string, keyPath: string): ServiceAccountKey {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new ConfigError(keyPath, `${file} is not JSON: download the key again (IAM → Service accounts → Keys → Add key → JSON)`);
  }
  if (json.type !== 'service_account') {
    throw new ConfigError(
      keyPath,
      `${file} is not a service-account key (type is ${JSON.stringify(json.type)}); an OAuth client secret or user credential will not work`,
    );
  }
  for (const field of ['client_email', 'client_id', 'private_key'] as const) {
    if (typeof json[field] !== 'string' || !json[field]) {
      throw new ConfigError(keyPath, `${file} has no "${field}": download the key again`);
    }
  }
  try {
    createPrivateKey(json.private_key as string);
  } catch {
    throw new ConfigError(keyPath, `${file}: private_key is not a valid PEM key: download the key again`);
  }
  return json as unknown as ServiceAccountKey;
}
