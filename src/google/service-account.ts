/**
 * Reading a service-account JSON key: from a file that only the relay's user can read.
 *
 * The file is read (and its mode checked) at every call; what it holds is parsed and checked
 * (JSON, fields, the private key's PEM: about 0.6 ms) only when its bytes differ from the last
 * time that file was read. A hosted relay re-reads every practice's key at each reload; with
 * 1,000 practices this is most of the reload. Comparing the bytes, not the size and times,
 * means a key rewritten within the file system's timestamp granularity is still seen.
 *
 * A practice kept on its running settings at a reload (src/lifecycle/isolation.ts) may have a
 * key file that no longer holds a good key (rewritten in place): what is built for it then uses
 * the key as last read good (`lastGood`), as its running transports do.
 */
import { createHash, createPrivateKey } from 'node:crypto';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { readSecretBytes } from '../config/index.js';

export interface ServiceAccountKey {
  client_email: string;
  client_id: string;
  private_key: string;
  private_key_id?: string;
  project_id?: string;
}

/** The last good key read from each file (by absolute path), with the sha256 of the bytes it came from. */
const lastGood = new Map<string, { digest: string; key: Readonly<ServiceAccountKey> }>();

export interface KeyReadOptions {
  /**
   * When the file no longer holds a good key, the last good one this process read from it, if
   * any. For building what runs a practice kept on its running settings (its new ones, this key
   * among them, were refused at a reload): never for checking a key.
   */
  lastGood?: boolean;
}

export function loadServiceAccountKey(file: string, keyPath: string, options: KeyReadOptions = {}): ServiceAccountKey {
  const where = path.resolve(file);
  const last = lastGood.get(where);
  try {
    const bytes = readSecretBytes(file, keyPath);
    const digest = createHash('sha256').update(bytes).digest('hex');
    if (last?.digest === digest) return last.key;
    const key = Object.freeze(parseServiceAccountKey(bytes.toString('utf8'), file, keyPath));
    lastGood.set(where, { digest, key });
    return key;
  } catch (err) {
    if (options.lastGood && last) return last.key;
    throw err;
  }
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
