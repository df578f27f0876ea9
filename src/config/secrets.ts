/**
 * Secrets are never inline in the config: the config names files, and a file that group or
 * others can read is refused (as ssh does for private keys): service-account keys, app
 * passwords and the listeners' TLS private keys alike.
 */
import { readFileSync, statSync } from 'node:fs';
import { ConfigError } from '../errors.js';

/** The secret file's bytes; a ConfigError naming `keyPath` when it is missing or readable by others. */
export function readSecretBytes(file: string, keyPath: string): Buffer {
  let mode: number;
  try {
    mode = statSync(file).mode;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(keyPath, `cannot read ${file} (${code ?? (err as Error).message}); check the path`);
  }
  if (mode & 0o077) {
    throw new ConfigError(
      keyPath,
      `${file} is readable by group or others (mode ${(mode & 0o777).toString(8)}); run: chmod 600 ${file}`,
    );
  }
  try {
    return readFileSync(file);
  } catch (err) {
    throw new ConfigError(keyPath, `cannot read ${file}: ${(err as Error).message}`);
  }
}

export function readSecretFile(file: string, keyPath: string): string {
  return readSecretBytes(file, keyPath).toString('utf8');
}
