/** The spool's admin hold: queue ↔ hold by rename, safe against a claim, kept by recovery. */
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Spool, createQueueId, type MessageMeta } from '../src/spool/index.js';
import { makeMeta as baseMeta } from './support/spool-meta.js';
import { TestClock } from './support/test-clock.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'spool-hold-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const makeMeta = (id: string, over: Partial<MessageMeta> = {}): MessageMeta => baseMeta(id, { size: 5, sha256: 'x', attempts: 2, nextAttemptAt: '2030-01-01T00:00:00.000Z', ...over });

async function accept(spool: Spool, over: Partial<MessageMeta> = {}): Promise<string> {
  const id = createQueueId();
  const w = spool.createWriter(id);
  await w.write(Buffer.from('hello'));
  await w.commit(makeMeta(id, over));
  return id;
}

const ls = (sub: string) => (existsSync(join(dir, sub)) ? readdirSync(join(dir, sub)).sort() : []);
const NOW = new Date('2024-06-01T12:00:00.000Z');

describe('admin hold', () => {
  it('hold moves queue → hold (dir 0700) untouched; unhold brings it back due now', async () => {
    const spool = await Spool.open(dir, { clock: new TestClock(NOW) });
    expect(statSync(join(dir, 'hold')).mode & 0o777).toBe(0o700);
    const id = await accept(spool);
    const held = await spool.hold(id);
    expect(held).toMatchObject({ id, attempts: 2, nextAttemptAt: '2030-01-01T00:00:00.000Z' });
    expect(ls('queue')).toEqual([]);
    expect(ls('hold')).toEqual([`${id}.json`]);
    expect(await spool.find(id)).toMatchObject({ state: 'hold' });
    expect((await spool.list('hold')).map((m) => m.id)).toEqual([id]);
    expect(await spool.count('hold')).toBe(1);

    const back = await spool.unhold(id);
    expect(back).toMatchObject({ attempts: 2, nextAttemptAt: NOW.toISOString() });
    expect(await spool.find(id)).toEqual({ state: 'queue', meta: back });
    expect(ls('hold')).toEqual([]);
    expect(ls('tmp')).toEqual([]);
  });

  it('refuses to hold what is not queued, and to unhold what is not held', async () => {
    const spool = await Spool.open(dir);
    const id = await accept(spool);
    await expect(spool.unhold(id)).rejects.toMatchObject({ code: 'spool.not_found' });
    await spool.claim(id);
    await expect(spool.hold(id)).rejects.toMatchObject({ code: 'spool.not_queued' });
    expect(await spool.find(id)).toMatchObject({ state: 'active' });
  });

  it('a hold racing a claim (two processes on one spool): exactly one wins, the message is in one state', async () => {
    const spool = await Spool.open(dir);
    const admin = await Spool.open(dir, { recover: false });
    for (let i = 0; i < 20; i++) {
      const id = await accept(spool);
      const [claim, hold] = await Promise.allSettled([spool.claim(id), admin.hold(id)]);
      expect([claim.status, hold.status].filter((s) => s === 'fulfilled')).toHaveLength(1);
      const where = claim.status === 'fulfilled' ? 'active' : 'hold';
      expect(await spool.find(id)).toMatchObject({ state: where });
      expect([...ls('queue'), ...ls('active'), ...ls('hold')].filter((n) => n.startsWith(id))).toHaveLength(1);
      if (where === 'active') await spool.complete(id);
      else await spool.remove('hold', id);
    }
  });

  it('reschedule makes a queued message due at the given time and leaves nothing in hold/', async () => {
    const spool = await Spool.open(dir, { clock: new TestClock(NOW) });
    const id = await accept(spool);
    const meta = await spool.reschedule(id);
    expect(meta.nextAttemptAt).toBe(NOW.toISOString());
    expect(await spool.find(id)).toEqual({ state: 'queue', meta });
    expect(ls('hold')).toEqual([]);
    await spool.claim(id);
    await expect(spool.reschedule(id)).rejects.toMatchObject({ code: 'spool.not_queued' });
  });

  it('requeue from dead sets requeuedAt (max age counts from it) and resets attempts', async () => {
    const spool = await Spool.open(dir, { clock: new TestClock(NOW) });
    const id = await accept(spool);
    await spool.kill({ ...(await spool.claim(id)), lastError: { code: 'x', kind: 'held', message: 'delegation', at: NOW.toISOString() } });
    const back = await spool.requeue(id);
    expect(back).toMatchObject({ attempts: 0, nextAttemptAt: NOW.toISOString(), requeuedAt: NOW.toISOString() });
  });

  it('remove of a held message deletes its .eml too', async () => {
    const spool = await Spool.open(dir);
    const id = await accept(spool);
    await spool.hold(id);
    expect(await spool.remove('hold', id)).toBe(true);
    expect(ls('data')).toEqual([]);
    expect(await spool.find(id)).toBeNull();
  });
});

describe('recovery and hold', () => {
  it('leaves held messages held, with their bytes, and counts them', async () => {
    const first = await Spool.open(dir);
    const held = await accept(first);
    const queued = await accept(first);
    await first.hold(held);
    const again = await Spool.open(dir);
    expect(again.recovery).toMatchObject({ hold: 1, queue: 1, orphanEmlRemoved: 0 });
    expect(ls('hold')).toEqual([`${held}.json`]);
    expect(ls('queue')).toEqual([`${queued}.json`]);
    expect(ls('data')).toEqual([`${held}.eml`, `${queued}.eml`].sort());
  });

  it('a spool made before hold/ existed: reading works, hold creates the directory', async () => {
    const spool = await Spool.open(dir);
    const id = await accept(spool);
    rmSync(join(dir, 'hold'), { recursive: true });
    const admin = await Spool.open(dir, { recover: false });
    expect(await admin.list('hold')).toEqual([]);
    expect(await admin.find(id)).toMatchObject({ state: 'queue' });
    await admin.hold(id);
    expect(ls('hold')).toEqual([`${id}.json`]);
  });

  it('two admin changes to one message run one after the other: a delete racing a release leaves no .json without its .eml', async () => {
    const { QueueAdmin } = await import('../src/control/queue-admin.js');
    const spool = await Spool.open(dir, { clock: new TestClock(NOW) });
    const admin = new QueueAdmin({ spool, clock: new TestClock(NOW) });
    for (let i = 0; i < 20; i++) {
      const id = await accept(spool);
      await admin.hold(id);
      const results = await Promise.allSettled([admin.release(id), admin.delete(id)]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']); // in order: released, then deleted
      expect(await spool.find(id)).toBeNull();
      expect(existsSync(spool.emlPath(id))).toBe(false);
    }
    for (const state of ['queue', 'hold', 'active', 'dead']) expect(ls(state)).toEqual([]);
  });

  it('a retry that fails half-way (disk full) says the message was left held', async () => {
    const { QueueAdmin } = await import('../src/control/queue-admin.js');
    const { nodeSpoolFs } = await import('../src/spool/index.js');
    let full = false;
    const spool = await Spool.open(dir, {
      clock: new TestClock(NOW),
      fs: {
        open: (path, flags, mode) =>
          full && path.includes('/tmp/') ? Promise.reject(Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' })) : nodeSpoolFs.open(path, flags, mode),
      },
    });
    const admin = new QueueAdmin({ spool, clock: new TestClock(NOW) });
    const id = await accept(spool);
    full = true;
    await expect(admin.retry(id)).rejects.toMatchObject({ code: 'queue.wrong_state', message: expect.stringMatching(/left held; `queue release .+` puts it back/) });
    full = false;
    expect((await spool.find(id))?.state).toBe('hold');
    await admin.release(id);
    expect((await spool.find(id))?.state).toBe('queue');
  });

  it('retry --all goes through every message and lists the ones a disk error stopped', async () => {
    const { QueueAdmin } = await import('../src/control/queue-admin.js');
    const { nodeSpoolFs } = await import('../src/spool/index.js');
    let broken = '';
    const spool = await Spool.open(dir, {
      clock: new TestClock(NOW),
      fs: {
        rename: (from, to) =>
          broken && from.includes(broken) ? Promise.reject(Object.assign(new Error('EIO: i/o error, rename'), { code: 'EIO' })) : nodeSpoolFs.rename(from, to),
      },
    });
    const admin = new QueueAdmin({ spool, clock: new TestClock(NOW) });
    const [a, b] = [await accept(spool), await accept(spool)];
    broken = a;
    const result = await admin.retryAll();
    expect(result.retried).toEqual([b]);
    expect(result.skipped).toEqual([{ id: a, reason: expect.stringContaining('EIO') }]);
  });

  it('drops a change whose queue command went away while it waited its turn', async () => {
    const { QueueAdmin } = await import('../src/control/queue-admin.js');
    const { createControlHandler } = await import('../src/control/dispatch.js');
    const spool = await Spool.open(dir, { clock: new TestClock(NOW) });
    const handler = createControlHandler(new QueueAdmin({ spool, clock: new TestClock(NOW) }));
    const [a, b] = [await accept(spool), await accept(spool)];
    const gone = new AbortController();
    const first = handler({ op: 'hold', id: a }, new AbortController().signal);
    const second = handler({ op: 'hold', id: b }, gone.signal); // waits for the first
    gone.abort(); // its command timed out meanwhile
    await first;
    await expect(second).rejects.toMatchObject({ code: 'control.cancelled' });
    expect((await spool.find(b))?.state).toBe('queue'); // nothing was changed
  });
});

