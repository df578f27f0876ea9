/**
 * Where the message trace lives, and the only code that reads or writes it: one file of JSON
 * lines per UTC day under <queue.dir>/trace/ (directory 0700, files 0600), appended to by the
 * daemon, read by `workspace-relay trace`, removed whole once older than queue.traceRetention.
 * Encoding a record into a line and back is here too (encodeRecord / decodeLine). With spool keys
 * (queue.encryption) each line is sealed like the sent log's (`~` and the sealed record in base64:
 * docs/encryption.md), so the addresses in it are not on disk in the clear; a line under a key no
 * longer in the config is skipped like a damaged one.
 *
 * No fsync: the trace is diagnostic (the spool commit makes a message durable, and the log has
 * every step too). A crash loses the records not yet written, and at most the last line is cut
 * short: the reader skips a line that does not parse.
 */
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { SpoolKeys, openWhole, sealWith } from '../crypt/index.js';
import { TRACE_VERSION, type TraceRecord } from './records.js';

const DAY_MS = 86_400_000;
const FILE = /^(\d{4}-\d{2}-\d{2})\.jsonl$/;

/** The UTC day of a time, as its file is named: 2026-05-01. */
export function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** A sealed line starts with this (a JSON line starts with `{`). */
const SEALED = '~';

export function encodeRecord(record: TraceRecord, keys = SpoolKeys.none()): string {
  const json = JSON.stringify(record);
  return keys.current ? `${SEALED}${sealWith(keys, Buffer.from(json)).toString('base64')}\n` : `${json}\n`;
}

/** A line back into a record; null for a line cut short, damaged, or of an unknown version. */
export function decodeLine(line: string, keys = SpoolKeys.none()): TraceRecord | null {
  if (!line) return null;
  try {
    const text = line.startsWith(SEALED) ? openWhole(Buffer.from(line.slice(1), 'base64'), keys, 'trace').toString('utf8') : line;
    const value = JSON.parse(text) as Partial<TraceRecord> | null;
    if (!value || typeof value !== 'object' || value.v !== TRACE_VERSION || typeof value.type !== 'string' || typeof value.at !== 'string') return null;
    return value as TraceRecord;
  } catch {
    return null; // (a sealed line that fails authentication, or whose key is gone, too)
  }
}

export class TraceFiles {
  private handle: { day: string; file: FileHandle } | null = null;

  /** `dir`: <queue.dir>/trace; `keys`: the spool's, which seal and open its lines. */
  constructor(
    readonly dir: string,
    readonly keys = SpoolKeys.none(),
  ) {}

  static inSpool(spoolDir: string, keys?: SpoolKeys): TraceFiles {
    return new TraceFiles(path.join(spoolDir, 'trace'), keys);
  }

  /** Append encoded lines to the day's file (kept open until the day changes or close()). */
  async append(day: string, text: string): Promise<void> {
    if (this.handle?.day !== day) {
      await this.closeFile();
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      this.handle = { day, file: await open(path.join(this.dir, `${day}.jsonl`), 'a', 0o600) };
    }
    await this.handle.file.write(text);
  }

  async close(): Promise<void> {
    await this.closeFile();
  }

  /** The days that have a file, oldest first. */
  async days(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return names.flatMap((n) => FILE.exec(n)?.[1] ?? []).sort();
  }

  /** Every record of the days from `fromDay` to `toDay` (inclusive; either open), in order. */
  async *read(fromDay = '', toDay = '9999-12-31'): AsyncGenerator<TraceRecord> {
    for (const day of await this.days()) {
      if (day < fromDay || day > toDay) continue;
      const stream = createReadStream(path.join(this.dir, `${day}.jsonl`), { encoding: 'utf8' });
      const lines = createInterface({ input: stream, crlfDelay: Infinity });
      try {
        for await (const line of lines) {
          const record = decodeLine(line, this.keys);
          if (record) yield record;
        }
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; // pruned meanwhile
      } finally {
        lines.close();
        stream.destroy();
      }
    }
  }

  /** Remove the files of days that ended more than `retentionMs` before `now`; returns their days. */
  async prune(retentionMs: number, now: number): Promise<string[]> {
    const removed: string[] = [];
    for (const day of await this.days()) {
      const end = Date.parse(`${day}T00:00:00Z`) + DAY_MS;
      if (end + retentionMs > now || day === this.handle?.day) continue;
      await unlink(path.join(this.dir, `${day}.jsonl`)).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
      removed.push(day);
    }
    return removed;
  }

  private async closeFile(): Promise<void> {
    const h = this.handle;
    this.handle = null;
    await h?.file.close();
  }
}
