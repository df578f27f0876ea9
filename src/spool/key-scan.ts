/**
 * Which keys the files of a spool need: read before anything is recovered or deleted, so a
 * start with a key missing (taken out of the config, a wrong file, encryption turned off) is
 * refused naming the key and the files, with nothing touched (lifecycle/spool-keys.ts). Reads the
 * first bytes of each message file and state entry (the key id is in the header: src/crypt) and
 * of each sealed line of the sent log. A spool that does not exist yet needs nothing.
 */
import { closeSync, openSync, readFileSync, readSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PREFIX_BYTES, sealedKeyId } from '../crypt/index.js';
import { SPOOL_STATES } from './layout.js';
import { SEALED_LINE } from './sent-journal.js';

export interface SpoolKeyScan {
  /** Files sealed with each key id. */
  byKey: Map<string, string[]>;
  /** Files in plain text (written before encryption was on, or with it off). */
  plain: string[];
}

export function scanSpoolKeys(spoolDir: string): SpoolKeyScan {
  const scan: SpoolKeyScan = { byKey: new Map(), plain: [] };
  const note = (file: string, keyId: string | null) => {
    if (keyId === null) scan.plain.push(file);
    else scan.byKey.set(keyId, [...(scan.byKey.get(keyId) ?? []), file]);
  };
  const dirs = [join(spoolDir, 'data'), ...SPOOL_STATES.map((s) => join(spoolDir, s))];
  for (const dir of dirs) {
    for (const name of namesIn(dir)) {
      if (!name.endsWith('.eml') && !name.endsWith('.json')) continue;
      const file = join(dir, name);
      const keyId = keyIdOfFile(file);
      if (keyId !== undefined) note(file, keyId);
    }
  }
  const journal = join(spoolDir, 'sent', 'journal');
  const lines = readIfThere(journal)?.split('\n').filter(Boolean) ?? [];
  const ids = new Set(lines.map((l) => (l.startsWith(SEALED_LINE) ? sealedKeyId(Buffer.from(l.slice(1, 1 + 24), 'base64')) : null)));
  for (const id of ids) note(journal, id);
  return scan;
}

function namesIn(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** The key id in a file's header: null for a plain file, undefined when it is gone. */
export function keyIdOfFile(file: string): string | null | undefined {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined; // delivered meanwhile
    throw err;
  }
  try {
    const head = Buffer.alloc(PREFIX_BYTES);
    return sealedKeyId(head.subarray(0, readSync(fd, head, 0, PREFIX_BYTES, 0)));
  } finally {
    closeSync(fd);
  }
}

function readIfThere(file: string): string | null {
  try {
    return readFileSync(file, 'latin1');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}
