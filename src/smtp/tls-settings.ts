/**
 * listen[].tls → smtp-server's TLS options: the certificate and key read from their files (again
 * on reload; a key readable by group or others is refused like every other secret), the minimum
 * protocol version, and the cipher security level TLS 1.0/1.1 need.
 */
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureVersion } from 'node:tls';
import { type ListenerConfig, readSecretBytes } from '../config/index.js';
import { ConfigError, errorText } from '../errors.js';

export interface TlsOptions {
  key?: Buffer;
  cert?: Buffer;
  minVersion: SecureVersion;
  /** Only for TLSv1/TLSv1.1: OpenSSL 3 refuses them at its default security level. */
  ciphers?: string;
}

/** OpenSSL 3's default security level (1+) has no signature algorithm TLS 1.0/1.1 can use. */
export const LEGACY_CIPHERS = 'DEFAULT@SECLEVEL=0';

export function isLegacyVersion(version: string): boolean {
  return version === 'TLSv1' || version === 'TLSv1.1';
}

/**
 * Read and check the listener's certificate and key (a pair that does not match, or a file that
 * cannot be read, is a ConfigError naming the key and file). `label` names the listener.
 */
export function loadTlsOptions(listener: ListenerConfig, label: string): TlsOptions {
  const t = listener.tls;
  const options: TlsOptions = { minVersion: t.minVersion };
  if (isLegacyVersion(t.minVersion)) options.ciphers = LEGACY_CIPHERS;
  if (t.mode === 'none') return options;
  const read = (key: 'certFile' | 'keyFile') => {
    const file = t[key]!;
    try {
      return readFileSync(file);
    } catch (err) {
      throw new ConfigError(`${label}.tls.${key}`, `cannot read ${file}: ${errorText(err)} (a PEM file the relay's user can read)`);
    }
  };
  options.cert = read('certFile');
  options.key = readSecretBytes(t.keyFile!, `${label}.tls.keyFile`);
  try {
    createSecureContext({ cert: options.cert, key: options.key, minVersion: options.minVersion, ...(options.ciphers ? { ciphers: options.ciphers } : {}) });
  } catch (err) {
    throw new ConfigError(`${label}.tls`, `certificate ${t.certFile} and key ${t.keyFile} are not a usable PEM pair: ${errorText(err)}`);
  }
  return options;
}
