/**
 * The sent log's journal lines (sent-log.ts): { v, k: key, r: recipients, t: time, f: first time },
 * one JSON object a line. A line that does not parse as one (torn by a crash, or foreign) is skipped.
 *
 * With spool keys (queue.encryption) each line is sealed on its own (src/crypt): `~` and the
 * sealed bytes in base64, so recipient addresses are not on disk in the clear. Plain lines (a
 * journal written before) are read as before; the rewrite at open seals them all with the first
 * key, so a restart after a key rotation leaves no line under the old key.
 */
import { isCryptError, openWhole, sealWith, type SpoolKeys } from '../crypt/index.js';

/** A sealed line starts with this (a JSON line starts with `{`). */
export const SEALED_LINE = '~';

/** One journal line. */
export interface JournalLine {
  v: 1;
  k: string;
  r: string[];
  t: string;
  f?: string;
}

/** The line as a JournalLine, or null when it is not one. */
export function parseLine(raw: string): JournalLine | null {
  try {
    const l = JSON.parse(raw) as Partial<JournalLine>;
    if (l.v === 1 && typeof l.k === 'string' && isStrings(l.r) && typeof l.t === 'string' && (l.f === undefined || typeof l.f === 'string')) {
      return l as JournalLine;
    }
  } catch {
    // torn or foreign: skipped
  }
  return null;
}

export function isStrings(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

/** One journal line as written, sealed when there are keys. */
export function encodeLine(line: JournalLine, keys: SpoolKeys): string {
  const json = JSON.stringify(line);
  return keys.current ? `${SEALED_LINE}${sealWith(keys, Buffer.from(json)).toString('base64')}\n` : `${json}\n`;
}

/**
 * A line's JSON text ('' for a sealed line that fails authentication: skipped as torn). A line
 * sealed with a key not in `keys` throws crypt.key_missing: the start fails, naming it.
 */
export function decodeLine(raw: string, keys: SpoolKeys, label: string): string {
  if (!raw.startsWith(SEALED_LINE)) return raw;
  try {
    return openWhole(Buffer.from(raw.slice(SEALED_LINE.length), 'base64'), keys, label).toString('utf8');
  } catch (err) {
    if (isCryptError(err, 'crypt.damaged')) return '';
    throw err;
  }
}
