/** Reading a service-account JSON key: from a file that only the relay's user can read. */
import { createPrivateKey } from 'node:crypto';
import { ConfigError } from '../errors.js';
import { readSecretFile } from '../config/index.js';

export interface ServiceAccountKey {
  client_email: string;
  client_id: string;
  private_key: string;
  private_key_id?: string;
  project_id?: string;
}

export function loadServiceAccountKey(file: string, keyPath: string): ServiceAccountKey {
  const text = readSecretFile(file, keyPath);
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
