import { createHash } from 'node:crypto';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SentLog, nodeSpoolFs, sentKey, type SpoolFileHandle } from '../src/spool/index.js';
import { LogCapture } from './support/harness.js';
import { TestClock } from './support/test-clock.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'spool-sent-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const DAY = 86_400_000;
const key = sentKey('FrontDesk@Clinic.example', 'ab'.repeat(32));
const journal = () => join(dir, 'sent', 'journal');
/** The journal's handle is opened on its temp file, which the rewrite then renames into place. */
const isJournal = (path: string) => /\/sent\/tmp\/journal\.[0-9a-f]+\.json$/.test(path);
const journalLines = () => readFileSync(journal(), 'utf8').split('\n').filter(Boolean);

function gate() {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

/**
 * The real file system, with the journal handle's writes and fsyncs counted (and held, given
 * `hold`) from `arm()` on: the rewrite at open fsyncs through the same handle first.
 */
function countingFs(hold?: Promise<void>) {
  const counts = { fsyncs: 0, writes: 0 };
  let armed = false;
  const fs = {
    async open(path: string, flags: string, mode: number): Promise<SpoolFileHandle> {
      const h = await nodeSpoolFs.open(path, flags, mode);
      if (!isJournal(path)) return h;
      return {
        write: (b: Buffer, o: number, l: number) => (armed && counts.writes++, h.write(b, o, l)),
        sync: async () => {
          if (armed) {
            counts.fsyncs++;
            await hold;
          }
          await h.sync();
        },
        close: () => h.close(),
      };
    },
  };
  return { fs, counts, arm: () => void (armed = true) };
}

describe('SentLog', () => {
  it('remembers the union of recorded recipients across a reopen, in a 0600 journal under sent/', async () => {
    const log = await SentLog.open(dir, { retentionMs: DAY });
    expect(await log.reached(key)).toEqual(new Set());
    await log.record(key, ['a@clinic.example', 'b@clinic.example']);
    await log.record(key, ['b@clinic.example', 'c@clinic.example']);
    await log.close();

    const reopened = await SentLog.open(dir, { retentionMs: DAY });
    expect(await reopened.reached(key)).toEqual(new Set(['a@clinic.example', 'b@clinic.example', 'c@clinic.example']));
    expect(await reopened.reached(sentKey('frontdesk@clinic.example', 'cd'.repeat(32)))).toEqual(new Set());
    await reopened.close();

    expect(readdirSync(join(dir, 'sent')).sort()).toEqual(['journal', 'tmp']);
    expect(statSync(journal()).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'sent')).mode & 0o777).toBe(0o700);
    // The reopen rewrote the journal: one line per key.
    expect(journalLines()).toHaveLength(1);
  });

  it('keys on the sender case-insensitively and the exact hash', () => {
    expect(sentKey('FrontDesk@Clinic.example', 'AB'.repeat(32))).toBe(sentKey('frontdesk@clinic.example', 'ab'.repeat(32)));
    expect(sentKey('a@x.example', 'ab'.repeat(32))).not.toBe(sentKey('b@x.example', 'ab'.repeat(32)));
    expect(sentKey('a@x.example', 'ab'.repeat(32))).not.toBe(sentKey('a@x.example', 'cd'.repeat(32)));
  });

  it('record resolves only after the journal fsync (the key counts as reached at once: it was sent)', async () => {
    const g = gate();
    const { fs, arm } = countingFs(g.promise);
    const log = await SentLog.open(dir, { retentionMs: DAY, fs });
    arm();
    let resolved = false;
    const pending = log.record(key, ['a@clinic.example']).then(() => (resolved = true));
    await new Promise((r) => setTimeout(r, 30));
    expect(resolved).toBe(false);
    expect(await log.reached(key)).toEqual(new Set(['a@clinic.example']));
    g.open();
    await pending;
    await log.close();
  });

  it('group-commits: records that arrive during a write share the next write and fsync', async () => {
    const g = gate();
    const { fs, counts, arm } = countingFs(g.promise);
    const log = await SentLog.open(dir, { retentionMs: DAY, fs });
    arm();
    const keys = Array.from({ length: 50 }, (_, i) => sentKey(`u${i}@clinic.example`, i.toString(16).padStart(64, '0')));
    const all = Promise.all(keys.map((k) => log.record(k, ['a@clinic.example'])));
    g.open();
    await all;
    expect(counts.fsyncs).toBe(2); // the first record alone, then the 49 that queued behind it
    expect(counts.writes).toBe(2);
    await log.close();
    const reopened = await SentLog.open(dir, { retentionMs: DAY });
    for (const k of keys) expect(await reopened.reached(k)).toEqual(new Set(['a@clinic.example']));
    await reopened.close();
  });

  it('withLock runs one holder of a key at a time, in arrival order, without blocking other keys', async () => {
    const log = await SentLog.open(dir, { retentionMs: DAY });
    const order: string[] = [];
    const first = gate();
    const a = log.withLock(key, async () => {
      order.push('a:start');
      await first.promise;
      order.push('a:end');
      return 'a';
    });
    const b = log.withLock(key, async () => {
      order.push('b');
      throw new Error('b failed');
    });
    const c = log.withLock(key, async () => void order.push('c'));
    const other = await log.withLock('someone-else', async () => (order.push('other'), 'other'));
    expect(other).toBe('other');
    expect(order).toEqual(['a:start', 'other']);
    first.open();
    expect(await a).toBe('a');
    await expect(b).rejects.toThrow('b failed');
    await c;
    expect(order).toEqual(['a:start', 'other', 'a:end', 'b', 'c']);
    await log.close();
  });

  it('prune drops keys not updated within the retention, keeps the rest, and rewrites a mostly dead journal', async () => {
    const clock = new TestClock(Date.parse('2024-05-01T00:00:00.000Z'));
    const log = await SentLog.open(dir, { retentionMs: DAY, clock });
    const old = sentKey('a@clinic.example', 'aa'.repeat(32));
    const fresh = sentKey('b@clinic.example', 'bb'.repeat(32));
    await log.record(old, ['x@clinic.example']);
    clock.set(clock.now() + 12 * 3_600_000);
    await log.record(fresh, ['y@clinic.example']);
    clock.set(clock.now() + 13 * 3_600_000); // old: 25 h, fresh: 13 h
    expect(await log.prune()).toBe(1);
    expect(await log.reached(old)).toEqual(new Set());
    expect(await log.reached(fresh)).toEqual(new Set(['y@clinic.example']));
    expect(await log.prune()).toBe(0);

    // 2,000 records of one key: far more lines than live keys, so the next prune rewrites.
    for (let i = 0; i < 2000; i++) await log.record(fresh, [`r${i % 3}@clinic.example`]);
    expect(journalLines().length).toBeGreaterThan(2000);
    await log.prune();
    expect(journalLines()).toHaveLength(1);
    await log.record(old, ['z@clinic.example']); // appends go to the new journal
    await log.close();
    const reopened = await SentLog.open(dir, { retentionMs: DAY, clock });
    expect(await reopened.reached(fresh)).toEqual(new Set(['y@clinic.example', 'r0@clinic.example', 'r1@clinic.example', 'r2@clinic.example']));
    expect(await reopened.reached(old)).toEqual(new Set(['z@clinic.example']));
    await reopened.close();
  });

  it('forgets expired keys at open (the retention counts from the last record)', async () => {
    const clock = new TestClock(Date.parse('2024-05-01T00:00:00.000Z'));
    const log = await SentLog.open(dir, { retentionMs: DAY, clock });
    await log.record(key, ['a@clinic.example']);
    await log.close();
    clock.set(clock.now() + DAY + 1);
    const reopened = await SentLog.open(dir, { retentionMs: DAY, clock });
    expect(await reopened.reached(key)).toEqual(new Set());
    await reopened.close();
    expect(readFileSync(journal(), 'utf8')).toBe('');
  });

  it('skips a line torn by a crash, with a warning, and keeps every whole record', async () => {
    const other = sentKey('b@clinic.example', 'bb'.repeat(32));
    const log = await SentLog.open(dir, { retentionMs: DAY });
    await log.record(key, ['a@clinic.example']);
    await log.record(other, ['b@clinic.example']);
    await log.close();
    appendFileSync(journal(), '{"v":1,"k":"c@clinic.example cc');
    const capture = new LogCapture();
    const reopened = await SentLog.open(dir, { retentionMs: DAY, logger: capture.logger });
    expect(capture.events('sent_log.torn')).toEqual([expect.objectContaining({ lines: 1 })]);
    expect(await reopened.reached(key)).toEqual(new Set(['a@clinic.example']));
    expect(await reopened.reached(other)).toEqual(new Set(['b@clinic.example']));
    await reopened.record(key, ['c@clinic.example']);
    await reopened.close();
    for (const l of journalLines()) expect(() => JSON.parse(l)).not.toThrow();
  });

  it('a failed write rejects the record; the next one starts on a fresh line and both survive a reopen', async () => {
    let fail = false;
    const fs = {
      async open(path: string, flags: string, mode: number): Promise<SpoolFileHandle> {
        const h = await nodeSpoolFs.open(path, flags, mode);
        if (!isJournal(path)) return h;
        return {
          async write(b: Buffer, o: number, l: number) {
            if (!fail) return h.write(b, o, l);
            fail = false;
            await h.write(b, o, Math.min(l, 10)); // half a line reached the disk
            throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
          },
          sync: () => h.sync(),
          close: () => h.close(),
        };
      },
    };
    const other = sentKey('b@clinic.example', 'bb'.repeat(32));
    const log = await SentLog.open(dir, { retentionMs: DAY, fs });
    await log.record(key, ['a@clinic.example']);
    fail = true;
    await expect(log.record(other, ['x@clinic.example'])).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(await log.reached(other)).toEqual(new Set(['x@clinic.example'])); // sent: this process will not send it again
    await log.record(other, ['b@clinic.example']);
    await log.close();
    const reopened = await SentLog.open(dir, { retentionMs: DAY });
    expect(await reopened.reached(key)).toEqual(new Set(['a@clinic.example']));
    expect(await reopened.reached(other)).toEqual(new Set(['b@clinic.example'])); // x never reached the disk
    await reopened.close();
  });

  it('a closed log refuses records, and a prune after close does nothing', async () => {
    const log = await SentLog.open(dir, { retentionMs: DAY });
    await log.close();
    await expect(log.record(key, ['a@clinic.example'])).rejects.toMatchObject({ code: 'ECLOSED' });
    expect(await log.prune()).toBe(0);
  });

  it('folds per-key files of older versions into the journal, and clears temp files at open', async () => {
    mkdirSync(join(dir, 'sent', 'tmp'), { recursive: true });
    writeFileSync(join(dir, 'sent', 'tmp', 'leftover.json'), '{');
    const legacyName = (k: string) => `${createHash('sha256').update(k).digest('hex')}.json`;
    const at = new Date().toISOString();
    writeFileSync(join(dir, 'sent', legacyName(key)), JSON.stringify({ version: 1, key, recipients: ['a@clinic.example'], firstAt: at, updatedAt: at }));
    const broken = sentKey('b@clinic.example', 'bb'.repeat(32));
    writeFileSync(join(dir, 'sent', legacyName(broken)), 'garbage');
    const capture = new LogCapture();
    const log = await SentLog.open(dir, { retentionMs: DAY, logger: capture.logger });
    expect(readdirSync(join(dir, 'sent', 'tmp'))).toEqual([]);
    expect(readdirSync(join(dir, 'sent')).sort()).toEqual(['journal', 'tmp']);
    expect(capture.events('sent_log.corrupt')).toHaveLength(1);
    expect(await log.reached(key)).toEqual(new Set(['a@clinic.example']));
    expect(await log.reached(broken)).toEqual(new Set()); // treated as never sent
    await log.close();
    const reopened = await SentLog.open(dir, { retentionMs: DAY });
    expect(await reopened.reached(key)).toEqual(new Set(['a@clinic.example']));
    await reopened.close();
  });
});
