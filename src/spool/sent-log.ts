/**
 * Duplicate suppression's memory. Gmail's API has no envelope, so when a client splits one
 * message into several transactions (one per recipient, or 50 at a time), each copy would go to
 * every header recipient. Each message is keyed on its sending user and the sha256 of its exact
 * bytes (`sentKey`); the log remembers, on disk and across restarts, which recipients a key has
 * reached. Delivery decides under `withLock(key)`: read `reached`, send to the rest, `record`.
 *
 * Layout: <dir>/sent/<sha256(key)>.json = { version, key, recipients, firstAt, updatedAt },
 * 0600, replaced atomically (temp file in <dir>/sent/tmp/, fsync, rename, fsync dir). Keys not
 * updated for `retentionMs` are dropped by `prune`. One process owns a sent log (the lock is
 * in-process).
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { silentLogger, type Logger } from '../log.js';
import { DirSyncer } from './dir-syncer.js';
import { replaceFile } from './durable-file.js';
import { KeyMutex } from './key-mutex.js';
import { DIR_MODE } from './layout.js';
import { isErrno, withFs, type SpoolFs } from './spool-fs.js';

export interface SentLogOptions {
  /** How long a key is remembered after its last record (a day or more: clients retry late). */
  retentionMs: number;
  now?: () => Date;
  logger?: Logger;
  fs?: Partial<SpoolFs>;
}

interface SentRecord {
  version: 1;
  key: string;
  recipients: string[];
  firstAt: string;
  updatedAt: string;
}

const FILE_PATTERN = /^[0-9a-f]{64}\.json$/;

/** The duplicate-suppression key of a message: its sending user and the sha256 of its bytes. */
export function sentKey(sender: string, sha256: string): string {
  return `${sender.trim().toLowerCase()} ${sha256.trim().toLowerCase()}`;
}

export class SentLog {
  private readonly locks = new KeyMutex();
  /** Serialises record/prune of one file (keyed by file name) even when a caller forgets withLock. */
  private readonly writes = new KeyMutex();
  private readonly syncer: DirSyncer;
  private readonly tmp: string;
  /** File names present on disk (loaded at open): most messages have none, and need no read. */
  private readonly known = new Set<string>();

  private constructor(
    readonly dir: string,
    private readonly fs: SpoolFs,
    private readonly retentionMs: number,
    private readonly now: () => Date,
    private readonly logger: Logger,
  ) {
    this.syncer = new DirSyncer((path) => fs.syncDir(path));
    this.tmp = join(dir, 'tmp');
  }

  /** Open (creating, 0700) `<dir>/sent/`, clearing temp files left by a crash. */
  static async open(dir: string, options: SentLogOptions): Promise<SentLog> {
    if (!(options.retentionMs > 0)) throw new RangeError('SentLog retentionMs must be a positive number of milliseconds');
    const fs = withFs(options.fs);
    const log = new SentLog(join(dir, 'sent'), fs, options.retentionMs, options.now ?? (() => new Date()), options.logger ?? silentLogger);
    for (const d of [log.dir, log.tmp]) {
      await fs.mkdir(d, DIR_MODE);
      await fs.chmod(d, DIR_MODE);
    }
    for (const name of await fs.readdir(log.tmp)) await fs.unlink(join(log.tmp, name));
    for (const name of await fs.readdir(log.dir)) if (FILE_PATTERN.test(name)) log.known.add(name);
    return log;
  }

  /** Run `fn` holding the in-process lock of `key` (FIFO; other keys are not blocked). */
  withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    return this.locks.run(key, fn);
  }

  /** Recipients this key has reached (empty if none, or if its file is unreadable: logged). */
  async reached(key: string): Promise<Set<string>> {
    if (!this.known.has(fileName(key))) return new Set();
    return new Set((await this.read(key))?.recipients ?? []);
  }

  /** Add `recipients` to what `key` has reached; durable (file and directory fsynced) on resolve. */
  record(key: string, recipients: string[]): Promise<void> {
    const name = fileName(key);
    return this.writes.run(name, async () => {
      const at = this.now().toISOString();
      const existing = this.known.has(name) ? await this.read(key) : null;
      const all = new Set(existing?.recipients ?? []);
      for (const r of recipients) all.add(r);
      const next: SentRecord = { version: 1, key, recipients: [...all], firstAt: existing?.firstAt ?? at, updatedAt: at };
      await replaceFile(this.fs, this.tmp, name.slice(0, 16), join(this.dir, name), Buffer.from(`${JSON.stringify(next)}\n`));
      this.known.add(name);
      await this.syncer.sync(this.dir);
    });
  }

  /** Drop keys not updated within the retention (and unreadable files). Resolves how many went. */
  async prune(): Promise<number> {
    const cutoff = this.now().getTime() - this.retentionMs;
    let removed = 0;
    for (const name of await this.fs.readdir(this.dir)) {
      if (!FILE_PATTERN.test(name)) continue;
      const path = join(this.dir, name);
      const gone = await this.writes.run(name, async () => {
        const record = await this.readPath(path);
        if (record && Date.parse(record.updatedAt) >= cutoff) return false;
        try {
          await this.fs.unlink(path);
          this.known.delete(name);
          return true;
        } catch (err) {
          if (isErrno(err, 'ENOENT')) return false;
          throw err;
        }
      });
      if (gone) removed++;
    }
    if (removed > 0) await this.syncer.sync(this.dir);
    return removed;
  }

  private read(key: string): Promise<SentRecord | null> {
    return this.readPath(join(this.dir, fileName(key)));
  }

  private async readPath(path: string): Promise<SentRecord | null> {
    let text: string;
    try {
      text = await this.fs.readFile(path);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return null;
      throw err;
    }
    try {
      const record = JSON.parse(text) as SentRecord;
      if (record.version === 1 && Array.isArray(record.recipients) && typeof record.updatedAt === 'string') return record;
    } catch {
      // fall through
    }
    this.logger.error({ event: 'sent_log.corrupt', path }, 'unreadable sent-log entry ignored (a duplicate may be sent)');
    return null;
  }
}

function fileName(key: string): string {
  return `${createHash('sha256').update(key).digest('hex')}.json`;
}
