/**
 * queue.encryption.keyFiles → SpoolKeys. Each file holds one key: 32 random bytes, as written by
 * `workspace-relay keygen` (base64 on one line), or as 64 hex digits, or raw. A key file is a
 * secret like the others: refused when group or others can read it (config/secrets.ts).
 */
import { ConfigError } from '../errors.js';
import { readSecretBytes } from '../config/index.js';
import { KEY_BYTES, SpoolKeys, keyIdOf } from './keys.js';

interface EncryptionConfig {
  queue: { encryption?: { keyFiles: readonly string[] } | undefined };
}

/** The keys the config names (none when queue.encryption is not set). Throws ConfigError. */
export function loadSpoolKeys(config: EncryptionConfig): SpoolKeys {
  const files = config.queue.encryption?.keyFiles ?? [];
  const secrets: Buffer[] = [];
  const seen = new Map<string, number>();
  files.forEach((file, i) => {
    const keyPath = `queue.encryption.keyFiles[${i}]`;
    const secret = parseKeyFile(readSecretBytes(file, keyPath), file, keyPath);
    const id = keyIdOf(secret);
    const twin = seen.get(id);
    if (twin !== undefined) throw new ConfigError(keyPath, `${file} holds the same key (${id}) as keyFiles[${twin}]: list each key once`);
    seen.set(id, i);
    secrets.push(secret);
  });
  return SpoolKeys.of(secrets);
}

/** The 32 key bytes of a key file's contents: base64 or hex text (one line), or raw bytes. */
export function parseKeyFile(bytes: Buffer, file: string, keyPath: string): Buffer {
  if (bytes.length === KEY_BYTES) return Buffer.from(bytes);
  const text = bytes.toString('latin1').trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  if (/^[A-Za-z0-9+/]{43}=$/.test(text)) {
    const key = Buffer.from(text, 'base64');
    if (key.length === KEY_BYTES) return key;
  }
  throw new ConfigError(keyPath, `${file} does not hold a key (${KEY_BYTES} random bytes, base64 on one line): create one with \`workspace-relay keygen ${file}\``);
}
