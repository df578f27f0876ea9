/**
 * Duplicate suppression's memory. Gmail's API has no envelope, so when a client splits one
 * message into several transactions (one per recipient, or 50 at a time), each copy would go to
 * every header recipient. Each message is keyed on its sending user and the sha256 of its exact
 * bytes (`sentKey`); the log remembers, on disk and across restarts, which recipients a key has
 * reached. Delivery decides under `withLock(key)`: read `reached`, send to the rest, `record`.
 *
 * Layout: <dir>/sent/journal, 0600, one JSON line per record ({ v, k: key, r: recipients, t: time,
 * f: first time }), appended and fsynced before `record` resolves. Appends are group-committed:
 * every record that arrives while a write is running shares the next write and fsync, so under
 * load one fsync covers many deliveries (one file append instead of a file per message: about
 * 0.8 ms of CPU per delivery less, see docs/benchmarks.md). Everything is also held in memory,
 * so `reached` never reads the disk.
 *
 * At open, and when `prune` finds the journal mostly dead, the journal is rewritten with the live
 * keys only (temp file in <dir>/sent/tmp/, fsync, rename, fsync dir). A line torn by a crash or a
 * failed write is skipped (the relay may then send that message again: the same outcome as a kill
 * between the send and its record). Per-key files of older versions (<sha256(key)>.json) are
 * read at open and folded into the journal. One process owns a sent log (the lock is in-process).

 * With spool keys each line is sealed (sent-journal.ts).
 */
import { join } from 'node:path';
import { systemClock, type Clock } from '../clock.js';
import { SpoolKeys } from '../crypt/index.js';
import { silentLogger, type Logger } from '../log.js';
import { tempPath } from './durable-file.js';
import { KeyMutex } from './key-mutex.js';
import { decodeLine, encodeLine, isStrings, parseLine, type JournalLine } from './sent-journal.js';
import { DIR_MODE, FILE_MODE } from './layout.js';
import { isErrno, unlinkIfExists, withFs, writeAll, type SpoolFileHandle, type SpoolFs } from './spool-fs.js';

export interface SentLogOptions {
  /** How long a key is remembered after its last record (a day or more: clients retry late). */
  retentionMs: number;
  clock?: Clock;
  logger?: Logger;
  fs?: Partial<SpoolFs>;
  /** queue.encryption's keys: lines are sealed with the first (default: none, lines are plain). */
  keys?: SpoolKeys;
}

interface Entry {
  recipients: Set<string>;
  firstAt: string;
  updatedAt: string;
}

interface Deferred {
  resolve: () => void;
  reject: (err: unknown) => void;
}

const JOURNAL_NAME = 'journal';
/** Per-key files of the layout before the journal. */
const LEGACY_FILE = /^[0-9a-f]{64}\.json$/;
/** Rewrite the journal at a prune when it holds more than this many lines per live key (plus slack). */
const COMPACT_RATIO = 2;
const COMPACT_SLACK = 1024;

/** The duplicate-suppression key of a message: its sending user and the sha256 of its bytes. */
export function sentKey(sender: string, sha256: string): string {
  return `${sender.trim().toLowerCase()} ${sha256.trim().toLowerCase()}`;
}

export class SentLog {
  private readonly locks = new KeyMutex();
  private readonly entries = new Map<string, Entry>();
  private readonly tmp: string;
  private readonly journalPath: string;
  private handle: SpoolFileHandle | null = null;
  /** Lines in the journal file (live or not): decides when a prune rewrites it. */
  private lines = 0;
  /** A failed write may have left a partial line: the next write starts on a fresh line. */
  private torn = false;
  private pending: { line: string; done: Deferred }[] = [];
  private rewriteWaiters: Deferred[] = [];
  private writing = false;
  private closed = false;

  private constructor(
    readonly dir: string,
    private readonly fs: SpoolFs,
    private readonly retentionMs: number,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly keys: SpoolKeys,
  ) {
    this.tmp = join(dir, 'tmp');
    this.journalPath = join(dir, JOURNAL_NAME);
  }

  /** Open (creating, 0700) `<dir>/sent/`, clearing temp files left by a crash and rewriting the journal. */
  static async open(dir: string, options: SentLogOptions): Promise<SentLog> {
    if (!(options.retentionMs > 0)) throw new RangeError('SentLog retentionMs must be a positive number of milliseconds');
    const fs = withFs(options.fs);
    const log = new SentLog(join(dir, 'sent'), fs, options.retentionMs, options.clock ?? systemClock, options.logger ?? silentLogger, options.keys ?? SpoolKeys.none());
    for (const d of [log.dir, log.tmp]) {
      await fs.mkdir(d, DIR_MODE);
      await fs.chmod(d, DIR_MODE);
    }
    for (const name of await fs.readdir(log.tmp)) await fs.unlink(join(log.tmp, name));
    const legacy = (await fs.readdir(log.dir)).filter((n) => LEGACY_FILE.test(n));
    for (const name of legacy) await log.loadLegacy(join(log.dir, name));
    await log.loadJournal();
    log.dropExpired();
    await log.rewrite();
    for (const name of legacy) await fs.unlink(join(log.dir, name));
    if (legacy.length) await fs.syncDir(log.dir);
    return log;
  }

  /** Run `fn` holding the in-process lock of `key` (FIFO; other keys are not blocked). */
  withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    return this.locks.run(key, fn);
  }

  /** Recipients this key has reached (empty if none). */
  async reached(key: string): Promise<Set<string>> {
    return new Set(this.entries.get(key)?.recipients);
  }

  /**
   * Add `recipients` to what `key` has reached; durable (appended and fsynced) on resolve. The
   * message was sent whatever the disk does: it counts as reached at once, so a failed write
   * (rejected) never makes this process send it again; only a restart before the next good
   * write would forget it.
   */
  async record(key: string, recipients: string[]): Promise<void> {
    if (this.closed) throw Object.assign(new Error('the sent log is closed'), { code: 'ECLOSED' });
    const at = new Date(this.clock.now()).toISOString();
    const line: JournalLine = { v: 1, k: key, r: [...new Set(recipients)], t: at };
    this.apply(line);
    await new Promise<void>((resolve, reject) => {
      this.pending.push({ line: this.encode(line), done: { resolve, reject } });
      void this.drain();
    });
  }

  /**
   * Drop keys not updated within the retention; rewrite the journal when most of it is dead.
   * Resolves how many keys went.
   */
  async prune(): Promise<number> {
    if (this.closed) return 0;
    const removed = this.dropExpired();
    if (this.lines > COMPACT_RATIO * this.entries.size + COMPACT_SLACK) {
      await new Promise<void>((resolve, reject) => {
        this.rewriteWaiters.push({ resolve, reject });
        void this.drain();
      });
    }
    return removed;
  }

  /** Close the journal (the log is unusable afterwards). */
  async close(): Promise<void> {
    this.closed = true;
    while (this.writing) await new Promise((r) => setImmediate(r));
    await this.handle?.close();
    this.handle = null;
  }

  /** The one writer: batches of appends (one write, one fsync each) and rewrites, in turn. */
  private async drain(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    try {
      while (this.pending.length || this.rewriteWaiters.length) {
        if (this.rewriteWaiters.length) {
          const waiters = this.rewriteWaiters.splice(0);
          await this.rewrite().then(
            () => waiters.forEach((w) => w.resolve()),
            (err: unknown) => waiters.forEach((w) => w.reject(err)),
          );
          continue;
        }
        const batch = this.pending.splice(0);
        await this.append(batch.map((b) => b.line)).then(
          () => batch.forEach((b) => b.done.resolve()),
          (err: unknown) => batch.forEach((b) => b.done.reject(err)),
        );
      }
    } finally {
      this.writing = false;
    }
  }

  private async append(lines: string[]): Promise<void> {
    if (!this.handle) throw Object.assign(new Error('the sent log is closed'), { code: 'ECLOSED' });
    const text = (this.torn ? '\n' : '') + lines.join('');
    try {
      await writeAll(this.handle, Buffer.from(text));
      this.torn = false;
      await this.handle.sync();
    } catch (err) {
      this.torn = true;
      throw err;
    }
    this.lines += lines.length;
  }

  /**
   * Write the live keys to a new journal, durably, and append to it from now on. The new file is
   * opened for appending before it is renamed into place, so from the rename on the handle is the
   * journal's: no moment where appends would go to the replaced file.
   */
  private async rewrite(): Promise<void> {
    const text = [...this.entries].map(([k, e]) => this.encode({ v: 1, k, r: [...e.recipients], t: e.updatedAt, f: e.firstAt })).join('');
    const tmp = tempPath(this.tmp, JOURNAL_NAME);
    const handle = await this.fs.open(tmp, 'ax', FILE_MODE);
    try {
      await writeAll(handle, Buffer.from(text));
      await handle.sync();
      await this.fs.rename(tmp, this.journalPath);
    } catch (err) {
      await handle.close().catch(() => undefined);
      await unlinkIfExists(this.fs, tmp).catch(() => undefined);
      throw err;
    }
    const previous = this.handle;
    this.handle = handle;
    this.lines = this.entries.size;
    this.torn = false;
    await previous?.close().catch(() => undefined);
    await this.fs.syncDir(this.dir);
  }

  private apply(line: JournalLine): void {
    const entry = this.entries.get(line.k);
    if (!entry) {
      this.entries.set(line.k, { recipients: new Set(line.r), firstAt: line.f ?? line.t, updatedAt: line.t });
      return;
    }
    for (const r of line.r) entry.recipients.add(r);
    if (line.t > entry.updatedAt) entry.updatedAt = line.t;
    if (line.f && line.f < entry.firstAt) entry.firstAt = line.f;
  }

  private dropExpired(): number {
    const cutoff = this.clock.now() - this.retentionMs;
    let removed = 0;
    for (const [k, e] of this.entries) {
      if (!(Date.parse(e.updatedAt) >= cutoff)) {
        this.entries.delete(k);
        removed++;
      }
    }
    return removed;
  }

  private async loadJournal(): Promise<void> {
    let text: string;
    try {
      text = await this.fs.readFile(this.journalPath);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return;
      throw err;
    }
    let skipped = 0;
    for (const raw of text.split('\n')) {
      if (!raw) continue;
      const line = parseLine(this.decode(raw));
      if (line) this.apply(line);
      else skipped++;
    }
    if (skipped) {
      this.logger.warn({ event: 'sent_log.torn', lines: skipped }, 'skipped unreadable sent-log lines (a crash or a failed write; those messages may be sent again)');
    }
  }

  private encode(line: JournalLine): string {
    return encodeLine(line, this.keys);
  }

  private decode(raw: string): string {
    return decodeLine(raw, this.keys, this.journalPath);
  }

  private async loadLegacy(path: string): Promise<void> {
    try {
      const record = JSON.parse(await this.fs.readFile(path)) as { version?: unknown; key?: unknown; recipients?: unknown; firstAt?: unknown; updatedAt?: unknown };
      if (record.version === 1 && typeof record.key === 'string' && isStrings(record.recipients) && typeof record.updatedAt === 'string') {
        const firstAt = typeof record.firstAt === 'string' ? record.firstAt : record.updatedAt;
        this.apply({ v: 1, k: record.key, r: record.recipients, t: record.updatedAt, f: firstAt });
        return;
      }
    } catch (err) {
      if (!(err instanceof SyntaxError)) throw err;
    }
    this.logger.error({ event: 'sent_log.corrupt', path }, 'unreadable sent-log entry ignored (a duplicate may be sent)');
  }
}
