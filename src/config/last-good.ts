/**
 * The files a practice's settings name (service-account keys, app passwords, an upstream's CA
 * certificate), as last read good by this process. A practice kept on its running settings at a
 * reload (src/lifecycle/isolation.ts: its new settings were refused) may name a file that was
 * broken in place since (same path, now unreadable or invalid): what is built for it again then
 * uses the file as last read good (`lastGood`), as what already runs for it does. Never for
 * checking a file: a check reads what is there now.
 *
 * The file is read (and, for a secret, its mode checked) at every call; what it holds is parsed
 * and checked only when its bytes differ from the last time (sha256: a file rewritten within the
 * file system's timestamp granularity is still seen). A hosted relay reads every practice's files
 * again at each reload; with 1,000 practices the parsing is most of it.
 *
 * A delivery thread started again (src/queue/delivery-thread.ts) has no memory of its own: it is
 * handed the bytes its predecessor held (goodFiles, rememberGoodFiles).
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { readSecretBytes } from './secrets.js';

export interface SecretReadOptions {
  /**
   * When the file no longer holds a good one: the last good this process read from it, if any
   * (for building what runs a practice kept on its running settings).
   */
  lastGood?: boolean;
}

/** One kind of file: how it is read and what its bytes are checked and parsed into (throws a ConfigError naming `keyPath`). */
export interface FileKind<T> {
  name: string;
  read(file: string, keyPath: string): Buffer;
  parse(bytes: Buffer, file: string, keyPath: string): T;
}

/** A file's bytes as last read good, as handed to a delivery thread started again. */
export interface GoodFile {
  kind: string;
  /** Absolute. */
  file: string;
  bytes: Uint8Array;
}

interface Remembered {
  digest: string;
  bytes: Buffer;
  /** What the bytes parsed into; undefined for bytes handed over and not parsed yet. */
  parsed?: unknown;
}

const remembered = new Map<string, Remembered>();
const idOf = (kind: string, file: string) => `${kind}\n${path.resolve(file)}`;
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** `file` read as `kind` (parsing skipped when its bytes are those last parsed); with `lastGood`, what it last held that was good, if it holds no good one now. */
export function readRemembered<T>(kind: FileKind<T>, file: string, keyPath: string, options: SecretReadOptions = {}): T {
  const id = idOf(kind.name, file);
  const last = remembered.get(id);
  try {
    const bytes = kind.read(file, keyPath);
    const digest = sha256(bytes);
    if (last?.digest === digest && last.parsed !== undefined) return last.parsed as T;
    const parsed = kind.parse(bytes, file, keyPath);
    remembered.set(id, { digest, bytes, parsed });
    return parsed;
  } catch (err) {
    if (!options.lastGood || !last) throw err;
    if (last.parsed === undefined) {
      try {
        last.parsed = kind.parse(last.bytes, file, keyPath);
      } catch {
        throw err;
      }
    }
    return last.parsed as T;
  }
}

/** The files of `wanted` this process holds good bytes of, each once (for a delivery thread: rememberGoodFiles). */
export function goodFiles(wanted: readonly { kind: string; file: string }[]): GoodFile[] {
  const out = new Map<string, GoodFile>();
  for (const w of wanted) {
    const id = idOf(w.kind, w.file);
    const r = remembered.get(id);
    if (r && !out.has(id)) out.set(id, { kind: w.kind, file: path.resolve(w.file), bytes: r.bytes });
  }
  return [...out.values()];
}

/** Take `files` as last read good, where this process has read none good itself. */
export function rememberGoodFiles(files: readonly GoodFile[]): void {
  for (const f of files) {
    const id = idOf(f.kind, f.file);
    const bytes = Buffer.from(f.bytes);
    if (!remembered.has(id)) remembered.set(id, { digest: sha256(bytes), bytes });
  }
}

/** A secret holding one line (an app password): read as a secret (mode checked), trimmed, not empty. */
export const PASSWORD_FILE: FileKind<string> = {
  name: 'password',
  read: readSecretBytes,
  parse(bytes, file, keyPath) {
    const pass = bytes.toString('utf8').trim();
    if (!pass) throw new ConfigError(keyPath, `${file} is empty: put the password in it (one line)`);
    return pass;
  },
};

/** A password file's password (PASSWORD_FILE). */
export function readPasswordFile(file: string, keyPath: string, options: SecretReadOptions = {}): string {
  return readRemembered(PASSWORD_FILE, file, keyPath, options);
}
