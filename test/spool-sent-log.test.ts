import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SentLog, nodeSpoolFs, sentKey } from '../src/spool/index.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'spool-sent-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const DAY = 86_400_000;
const key = sentKey('FrontDesk@Clinic.example', 'ab'.repeat(32));

function gate() {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

describe('SentLog', () => {
  it('remembers the union of recorded recipients across a reopen, in 0600 files under sent/', async () => {
    const log = await SentLog.open(dir, { retentionMs: DAY });
    expect(await log.reached(key)).toEqual(new Set());
    await log.record(key, ['a@clinic.example', 'b@clinic.example']);
    await log.record(key, ['b@clinic.example', 'c@clinic.example']);

    const reopened = await SentLog.open(dir, { retentionMs: DAY });
    expect(await reopened.reached(key)).toEqual(new Set(['a@clinic.example', 'b@clinic.example', 'c@clinic.example']));
    expect(await reopened.reached(sentKey('frontdesk@clinic.example', 'cd'.repeat(32)))).toEqual(new Set());

    const file = `${createHash('sha256').update(key).digest('hex')}.json`;
    expect(readdirSync(join(dir, 'sent')).sort()).toEqual([file, 'tmp']);
    expect(statSync(join(dir, 'sent', file)).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'sent')).mode & 0o777).toBe(0o700);
  });

  it('keys on the sender case-insensitively and the exact hash', () => {
    expect(sentKey('FrontDesk@Clinic.example', 'AB'.repeat(32))).toBe(sentKey('frontdesk@clinic.example', 'ab'.repeat(32)));
    expect(sentKey('a@x.example', 'ab'.repeat(32))).not.toBe(sentKey('b@x.example', 'ab'.repeat(32)));
    expect(sentKey('a@x.example', 'ab'.repeat(32))).not.toBe(sentKey('a@x.example', 'cd'.repeat(32)));
  });

  it('record resolves only after the directory fsync', async () => {
    const g = gate();
    let synced = false;
    const log = await SentLog.open(dir, {
      retentionMs: DAY,
      fs: { syncDir: async (p) => (await g.promise, await nodeSpoolFs.syncDir(p), void (synced = true)) },
    });
    let resolved = false;
    const pending = log.record(key, ['a@clinic.example']).then(() => (resolved = true));
    await new Promise((r) => setTimeout(r, 30));
    expect(resolved).toBe(false);
    g.open();
    await pending;
    expect(synced).toBe(true);
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
  });

  it('prune drops keys not updated within the retention and keeps the rest', async () => {
    let now = Date.parse('2024-05-01T00:00:00.000Z');
    const log = await SentLog.open(dir, { retentionMs: DAY, now: () => new Date(now) });
    const old = sentKey('a@clinic.example', 'aa'.repeat(32));
    const fresh = sentKey('b@clinic.example', 'bb'.repeat(32));
    await log.record(old, ['x@clinic.example']);
    now += 12 * 3_600_000;
    await log.record(fresh, ['y@clinic.example']);
    now += 13 * 3_600_000; // old: 25 h, fresh: 13 h
    expect(await log.prune()).toBe(1);
    expect(await log.reached(old)).toEqual(new Set());
    expect(await log.reached(fresh)).toEqual(new Set(['y@clinic.example']));
    expect(await log.prune()).toBe(0);
  });

  it('clears temp files at open and survives an unreadable entry (treated as never sent, then rewritten)', async () => {
    mkdirSync(join(dir, 'sent', 'tmp'), { recursive: true });
    writeFileSync(join(dir, 'sent', 'tmp', 'leftover.json'), '{');
    const file = `${createHash('sha256').update(key).digest('hex')}.json`;
    writeFileSync(join(dir, 'sent', file), 'garbage');
    const log = await SentLog.open(dir, { retentionMs: DAY });
    expect(readdirSync(join(dir, 'sent', 'tmp'))).toEqual([]);
    expect(await log.reached(key)).toEqual(new Set());
    await log.record(key, ['a@clinic.example']);
    expect(await log.reached(key)).toEqual(new Set(['a@clinic.example']));
  });
});
