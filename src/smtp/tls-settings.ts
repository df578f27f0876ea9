/**
 * listen[].tls → smtp-server's TLS options: the certificate and key read from their files (again
 * on reload; a key readable by group or others is refused like every other secret), the minimum
 * protocol version, and the cipher security level TLS 1.0/1.1 need.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createSecureContext, type SecureVersion } from 'node:tls';
import { type ListenerConfig, type SecretReadOptions, readSecretBytes } from '../config/index.js';
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

/** Each certificate and key pair (by their absolute paths) as last read good: for a practice kept on its running settings. */
const lastGood = new Map<string, { cert: Buffer; key: Buffer }>();

/**
 * Read and check the listener's certificate and key (a pair that does not match, or a file that
 * cannot be read, is a ConfigError naming the key and file). `label` names the listener. With
 * `lastGood` (a practice kept on its running settings at a reload), the pair as last read good
 * when the files no longer hold one (src/config/last-good.ts says why).
 */
export function loadTlsOptions(listener: ListenerConfig, label: string, files: SecretReadOptions = {}): TlsOptions {
  const t = listener.tls;
  const options: TlsOptions = { minVersion: t.minVersion };
  if (isLegacyVersion(t.minVersion)) options.ciphers = LEGACY_CIPHERS;
  if (t.mode === 'none') return options;
  const pair = `${path.resolve(t.certFile!)}\n${path.resolve(t.keyFile!)}`;
  try {
    Object.assign(options, readPair(t.certFile!, t.keyFile!, options, label));
  } catch (err) {
    const last = files.lastGood ? lastGood.get(pair) : undefined;
    if (!last) throw err;
    return { ...options, ...last };
  }
  lastGood.set(pair, { cert: options.cert!, key: options.key! });
  return options;
}

function readPair(certFile: string, keyFile: string, options: TlsOptions, label: string): { cert: Buffer; key: Buffer } {
  let cert: Buffer;
  try {
    cert = readFileSync(certFile);
  } catch (err) {
    throw new ConfigError(`${label}.tls.certFile`, `cannot read ${certFile}: ${errorText(err)} (a PEM file the relay's user can read)`);
  }
  const key = readSecretBytes(keyFile, `${label}.tls.keyFile`);
  try {
    createSecureContext({ cert, key, minVersion: options.minVersion, ...(options.ciphers ? { ciphers: options.ciphers } : {}) });
  } catch (err) {
    throw new ConfigError(`${label}.tls`, `certificate ${certFile} and key ${keyFile} are not a usable PEM pair: ${errorText(err)}`);
  }
  return { cert, key };
}
