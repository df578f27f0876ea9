import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readOutgoing } from './support/outgoing.js';
import { Spool, SpoolError, createQueueId, nodeSpoolFs, readMetaSync, type MessageMeta } from '../src/spool/index.js';
import { makeMeta, messageBytes } from './support/spool-meta.js';
import { TestClock } from './support/test-clock.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'spool-states-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function accept(spool: Spool, body = 'hello', over: Partial<MessageMeta> = {}): Promise<string> {
  const id = createQueueId();
  const w = spool.createWriter(id);
  await w.write(Buffer.from(body));
  await w.commit(makeMeta(id, over));
  return id;
}

/** A spool whose directory fsync under `suffix` fails with EIO while `failing.on` is set. */
async function spoolFailingSync(suffix: string, failing: { on: boolean }): Promise<Spool> {
  return Spool.open(dir, {
    fs: {
      syncDir: async (p) => {
        if (failing.on && p.endsWith(suffix)) throw Object.assign(new Error('EIO'), { code: 'EIO' });
        await nodeSpoolFs.syncDir(p);
      },
    },
  });
}

const ls = (sub: string) => readdirSync(join(dir, sub)).sort();
const failure = { code: 'gmail.no_user', kind: 'permanent' as const, message: 'no such user', at: '2024-05-01T11:00:00.000Z' };

describe('claim', () => {
  it('lets exactly one of two concurrent claims win, also across two processes opened on one spool', async () => {
    const spool = await Spool.open(dir);
    const other = await Spool.open(dir, { recover: false });
    for (const [a, b] of [[spool, spool], [spool, other]] as const) {
      const id = await accept(spool);
      const results = await Promise.allSettled([a.claim(id), b.claim(id)]);
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect(lost[0]!.reason).toBeInstanceOf(SpoolError);
      expect(lost[0]!.reason).toMatchObject({ code: 'spool.not_queued' });
      expect((await spool.find(id))?.state).toBe('active');
    }
  });

  it('rejects a message that is not in the queue', async () => {
    const spool = await Spool.open(dir);
    await expect(spool.claim(createQueueId())).rejects.toMatchObject({ code: 'spool.not_queued' });
  });
});

describe('state changes', () => {
  it('release puts the updated meta back in the queue', async () => {
    const spool = await Spool.open(dir);
    const id = await accept(spool);
    const meta = await spool.claim(id);
    await spool.release({ ...meta, attempts: 1, nextAttemptAt: '2024-05-01T10:05:00.000Z', lastError: { ...failure, kind: 'temporary' } });
    expect(await spool.find(id)).toMatchObject({ state: 'queue', meta: { attempts: 1, nextAttemptAt: '2024-05-01T10:05:00.000Z', lastError: { kind: 'temporary' } } });
    expect(ls('active')).toEqual([]);
    expect(ls('tmp')).toEqual([]);
  });

  it('release of a message that is not active fails and creates nothing', async () => {
    const spool = await Spool.open(dir);
    const id = await accept(spool);
    const meta = (await spool.get('queue', id))!;
    await expect(spool.release({ ...meta, attempts: 9 })).rejects.toMatchObject({ code: 'spool.not_found' });
    expect(await spool.find(id)).toMatchObject({ state: 'queue', meta: { attempts: 0 } });
    expect(ls('active')).toEqual([]);
  });

  it('kill moves to dead with the error; requeue brings it back due now with attempts reset', async () => {
    const now = new Date('2024-05-02T08:00:00.000Z');
    const spool = await Spool.open(dir, { clock: new TestClock(now) });
    const id = await accept(spool);
    const meta = await spool.claim(id);
    await spool.kill({ ...meta, attempts: 3, lastError: failure });
    expect(await spool.find(id)).toMatchObject({ state: 'dead', meta: { attempts: 3, lastError: failure } });
    expect(await spool.count('dead')).toBe(1);

    const back = await spool.requeue(id);
    expect(back).toMatchObject({ attempts: 0, nextAttemptAt: now.toISOString(), lastError: failure });
    expect(await spool.find(id)).toEqual({ state: 'queue', meta: back });
    expect(ls('dead')).toEqual([]);
    await expect(spool.requeue(id)).rejects.toMatchObject({ code: 'spool.not_found' });
  });

  it('complete removes the message entirely', async () => {
    const spool = await Spool.open(dir);
    const id = await accept(spool);
    await spool.claim(id);
    await spool.complete(id);
    expect(await spool.find(id)).toBeNull();
    expect(existsSync(spool.emlPath(id))).toBe(false);
    await expect(spool.complete(id)).rejects.toMatchObject({ code: 'spool.not_found' });
  });

  it('a retried complete finishes one that failed after removing the .json (the .eml goes too)', async () => {
    const failing = { on: false };
    const spool = await spoolFailingSync('/active', failing);
    const id = await accept(spool);
    await spool.claim(id);
    failing.on = true;
    await expect(spool.complete(id)).rejects.toMatchObject({ code: 'EIO' });
    expect(existsSync(spool.emlPath(id))).toBe(true); // .json gone, .eml left
    failing.on = false;
    await expect(spool.complete(id)).rejects.toMatchObject({ code: 'spool.not_found' }); // not a retry: must be in active/
    await spool.complete(id, { retry: true });
    expect(existsSync(spool.emlPath(id))).toBe(false);
    // a retry still refuses a message that some state holds
    const queued = await accept(spool);
    await expect(spool.complete(queued, { retry: true })).rejects.toMatchObject({ code: 'spool.not_found' });
  });

  it('a retried release or kill finishes one whose rename went through but whose fsync failed', async () => {
    const failing = { on: false };
    const spool = await spoolFailingSync('/queue', failing);
    const id = await accept(spool);
    const meta = await spool.claim(id);
    failing.on = true;
    await expect(spool.release({ ...meta, attempts: 1 })).rejects.toMatchObject({ code: 'EIO' });
    failing.on = false;
    await spool.release({ ...meta, attempts: 1 }); // before: spool.not_found on every retry, for ever
    expect(await spool.find(id)).toMatchObject({ state: 'queue', meta: { attempts: 1 } });
    // and it is not a way around the state check: a second release of a queued message still fails
    await expect(spool.release({ ...meta, attempts: 2 })).rejects.toMatchObject({ code: 'spool.not_found' });
  });

  it('update rewrites the meta in place and refuses a message that is not there', async () => {
    const spool = await Spool.open(dir);
    const id = await accept(spool);
    const meta = (await spool.get('queue', id))!;
    await spool.update('queue', { ...meta, nextAttemptAt: '2030-01-01T00:00:00.000Z' });
    expect((await spool.get('queue', id))?.nextAttemptAt).toBe('2030-01-01T00:00:00.000Z');
    await expect(spool.update('active', meta)).rejects.toMatchObject({ code: 'spool.not_found' });
    expect(ls('active')).toEqual([]);
  });

  it('remove deletes the .json and the .eml, and says whether there was anything', async () => {
    const spool = await Spool.open(dir);
    const id = await accept(spool);
    expect(await spool.remove('dead', id)).toBe(false);
    expect(await spool.remove('queue', id)).toBe(true);
    expect(await spool.find(id)).toBeNull();
    expect(ls('data')).toEqual([]);
    expect(await spool.remove('queue', id)).toBe(false);
  });
});

describe('reading', () => {
  it('lists by receivedAt, counts, and streams the exact bytes', async () => {
    const spool = await Spool.open(dir);
    const late = await accept(spool, 'late', { receivedAt: '2024-05-03T00:00:00.000Z' });
    const early = await accept(spool, 'early', { receivedAt: '2024-05-01T00:00:00.000Z' });
    const middle = await accept(spool, 'middle', { receivedAt: '2024-05-02T00:00:00.000Z' });
    expect((await spool.list('queue')).map((m) => m.id)).toEqual([early, middle, late]);
    expect(await spool.count('queue')).toBe(3);
    expect(await spool.count('active')).toBe(0);
    expect(await text(spool.message((await spool.get('queue', middle))!).range())).toBe('middle');
    expect(await spool.get('active', middle)).toBeNull();
  });

  it('reads the metadata of either form of state entry, small or large, the same in both threads', async () => {
    const spool = await Spool.open(dir);
    for (const size of [20, 200_000]) {
      const body = `Subject: x\r\n\r\n${'x'.repeat(size - 14)}`;
      const id = await accept(spool, body);
      const entry = join(dir, 'queue', `${id}.json`);
      expect(statSync(entry).nlink).toBe(2); // as accepted: a second name for data/<id>.eml
      const stored = (await spool.get('queue', id))!;
      expect(stored.size).toBe(size);
      expect(JSON.parse(await nodeSpoolFs.readMeta(entry))).toEqual(stored);
      expect(JSON.parse(await readMetaSync(entry))).toEqual(stored);
      await spool.update('queue', { ...stored, attempts: 3 }); // now a plain .json of its own
      expect(statSync(entry).nlink).toBe(1);
      expect(JSON.parse(await nodeSpoolFs.readMeta(entry))).toMatchObject({ attempts: 3 });
      expect(JSON.parse(await readMetaSync(entry))).toMatchObject({ attempts: 3 });
      expect(messageBytes(spool.emlPath(id)).toString()).toBe(body);
      expect((await readOutgoing(spool.emlPath(id), {}, size)).toString()).toBe(body);
    }
  });

  it('a message file cut short fails its reading with EIO instead of yielding part of it', async () => {
    const spool = await Spool.open(dir);
    const id = await accept(spool, 'Subject: x\r\n\r\nthe whole message\r\n');
    const meta = (await spool.get('queue', id))!;
    writeFileSync(spool.emlPath(id), 'Subject: x\r\n'); // the disk lost the rest
    await expect(text(spool.message(meta).range())).rejects.toMatchObject({ code: 'EIO' });
    await expect(readOutgoing(spool.emlPath(id), {}, meta.size)).rejects.toMatchObject({ code: 'delivery.spool_unreadable', message: expect.stringContaining('(EIO)') });
  });

  it('delivers from a spool written before messages carried their metadata (.json beside a plain .eml)', async () => {
    await Spool.open(dir);
    const id = createQueueId();
    const body = 'Subject: x\r\n\r\nwritten by an earlier version\r\n';
    writeFileSync(join(dir, 'data', `${id}.eml`), body);
    const meta = makeMeta(id, { size: body.length });
    writeFileSync(join(dir, 'queue', `${id}.json`), JSON.stringify(meta, null, 2));
    const spool = await Spool.open(dir);
    expect(spool.recovery).toMatchObject({ queue: 1, corrupt: 0, orphanEmlRemoved: 0 });
    const claimed = await spool.claim(id);
    expect(claimed).toEqual(meta);
    expect(await text(spool.message(claimed).range())).toBe(body);
    expect((await readOutgoing(spool.emlPath(id), {}, claimed.size)).toString()).toBe(body);
    await spool.complete(id);
    expect(ls('data')).toEqual([]);
    expect(ls('active')).toEqual([]);
  });
});

describe('createQueueId', () => {
  it('makes short, file-name-safe ids that are unique and sort by time', () => {
    const t = Date.parse('2024-05-01T10:00:00.000Z');
    const sameMs = Array.from({ length: 5000 }, () => createQueueId(t));
    expect(new Set(sameMs).size).toBe(5000);
    expect([...sameMs].sort()).toEqual(sameMs);
    for (const id of sameMs) expect(id).toMatch(/^[0-9A-HJKMNP-TV-Z]{14}$/);
    const times = [t - 86_400_000, t - 1, t, t + 1, t + 3_600_000, Date.parse('2099-12-31T23:59:59.999Z')];
    const ids = times.map((ms) => createQueueId(ms));
    expect([...ids].sort()).toEqual(ids);
  });
});
