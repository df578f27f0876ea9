import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.js';
import { Spool, createQueueId, nodeSpoolFs, type MessageMeta, type SpoolFs, type SpoolState } from '../src/spool/index.js';
import { makeMeta as baseMeta, messageBytes } from './support/spool-meta.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'spool-recovery-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const makeMeta = (id: string, over: Partial<MessageMeta> = {}): MessageMeta => baseMeta(id, { size: 5, sha256: 'x', ...over });

function captureLogs() {
  const lines: Record<string, any>[] = [];
  const logger = createLogger({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { logger, events: (name: string) => lines.filter((l) => l.event === name) };
}

const ls = (sub: string) => (existsSync(join(dir, sub)) ? readdirSync(join(dir, sub)).sort() : []);
function put(sub: string, name: string, content: string) {
  mkdirSync(join(dir, sub), { recursive: true });
  writeFileSync(join(dir, sub, name), content);
}
const putMeta = (state: SpoolState, meta: MessageMeta) => put(state, `${meta.id}.json`, JSON.stringify(meta));
const putEml = (id: string, body = 'hello') => put('data', `${id}.eml`, body);
function snapshot() {
  return Object.fromEntries(['data', 'tmp', 'queue', 'active', 'dead'].map((s) => [s, ls(s)]));
}

describe('start-up recovery', () => {
  it('moves active back to queue, clears tmp, removes orphan .eml, keeps committed mail, and is idempotent', async () => {
    const [a, q, d, orphan] = ['AAAAAAAAAAAAA1', 'AAAAAAAAAAAAA2', 'AAAAAAAAAAAAA3', 'AAAAAAAAAAAAA4'];
    putEml(a);
    putMeta('active', makeMeta(a, { attempts: 2 }));
    putEml(q);
    putMeta('queue', makeMeta(q));
    putEml(d);
    putMeta('dead', makeMeta(d));
    putEml(orphan, 'crash before commit');
    put('tmp', `${orphan}.1234.json`, '{"half":');
    const { logger, events } = captureLogs();

    const spool = await Spool.open(dir, { logger });
    expect(snapshot()).toEqual({
      data: [`${a}.eml`, `${q}.eml`, `${d}.eml`],
      tmp: [],
      queue: [`${a}.json`, `${q}.json`],
      active: [],
      dead: [`${d}.json`],
    });
    expect((await spool.get('queue', a))?.attempts).toBe(2);
    expect(events('spool.recovered')[0]).toMatchObject({ queue: 2, dead: 1, requeued: 1, tmpRemoved: 1, orphanEmlRemoved: 1, orphanMetaRemoved: 0, corrupt: 0 });

    const before = snapshot();
    const again = await Spool.open(dir, { logger });
    expect(snapshot()).toEqual(before);
    expect(again.recovery).toMatchObject({ requeued: 0, tmpRemoved: 0, orphanEmlRemoved: 0, queue: 2, dead: 1 });
  });

  it('removes a .json whose .eml is missing and logs spool.orphan_meta as an error', async () => {
    const id = 'BBBBBBBBBBBBB1';
    putMeta('queue', makeMeta(id));
    const { logger, events } = captureLogs();
    const spool = await Spool.open(dir, { logger });
    expect(await spool.find(id)).toBeNull();
    expect(events('spool.orphan_meta')).toEqual([expect.objectContaining({ id, state: 'queue', level: 'error' })]);
  });

  it('sets an unparseable .json aside as dead/<id>.json.corrupt, keeps its .eml, and remove() clears both', async () => {
    const bad = 'CCCCCCCCCCCCC1';
    const wrongId = 'CCCCCCCCCCCCC2';
    putEml(bad);
    put('queue', `${bad}.json`, '{not json');
    putEml(wrongId);
    put('active', `${wrongId}.json`, JSON.stringify(makeMeta('SOMETHINGELSE1'))); // holds another id
    const { logger, events } = captureLogs();

    const spool = await Spool.open(dir, { logger });
    expect(ls('dead')).toEqual([`${bad}.json.corrupt`, `${wrongId}.json.corrupt`]);
    expect(ls('data')).toEqual([`${bad}.eml`, `${wrongId}.eml`]);
    expect(ls('queue')).toEqual([]);
    expect(await spool.list('dead')).toEqual([]);
    expect(events('spool.corrupt_meta').map((e) => e.id).sort()).toEqual([bad, wrongId]);

    await Spool.open(dir, { logger }); // still there after another start
    expect(ls('data')).toEqual([`${bad}.eml`, `${wrongId}.eml`]);

    expect(await spool.remove('dead', bad)).toBe(true);
    expect(ls('dead')).toEqual([`${wrongId}.json.corrupt`]);
    expect(ls('data')).toEqual([`${wrongId}.eml`]);
  });

  it('fails the start on a read error instead of setting a good message aside as corrupt', async () => {
    const good = 'CCCCCCCCCCCCC3';
    putEml(good);
    putMeta('queue', makeMeta(good));
    const { nodeSpoolFs } = await import('../src/spool/index.js');
    const eio = Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' });
    await expect(
      Spool.open(dir, { fs: { readMeta: (p) => (p.endsWith(`${good}.json`) ? Promise.reject(eio) : nodeSpoolFs.readMeta(p)) } }),
    ).rejects.toMatchObject({ code: 'EIO' });
    expect(ls('queue')).toEqual([`${good}.json`]); // untouched, for the next start
    expect(ls('dead')).toEqual([]);
  });

  it('fails the start, naming queue.dir and the fix, on a file system that cannot hard-link', async () => {
    const eperm = Object.assign(new Error('EPERM: operation not permitted, link'), { code: 'EPERM' });
    const err = (await Spool.open(dir, { fs: { link: () => Promise.reject(eperm) } }).catch((e: unknown) => e)) as Error & { code: string };
    expect(err).toMatchObject({ code: 'spool.no_hard_links' });
    expect(err.message).toContain(`queue.dir ${dir}`);
    expect(err.message).toContain('EPERM');
    expect(err.message).toMatch(/ext4 or XFS/);
    expect(ls('tmp')).toEqual([]); // the probe cleans up after itself
    await expect(Spool.open(dir)).resolves.toBeInstanceOf(Spool); // and a file system that can, starts
    expect(ls('tmp')).toEqual([]);
  });

  it('resolves a .json in two states deterministically: queue over dead over active', async () => {
    const [qa, da, qd] = ['DDDDDDDDDDDDD1', 'DDDDDDDDDDDDD2', 'DDDDDDDDDDDDD3'];
    for (const id of [qa, da, qd]) putEml(id);
    putMeta('queue', makeMeta(qa, { attempts: 1 }));
    putMeta('active', makeMeta(qa, { attempts: 0 }));
    putMeta('dead', makeMeta(da, { attempts: 5 }));
    putMeta('active', makeMeta(da, { attempts: 4 }));
    putMeta('queue', makeMeta(qd, { attempts: 0 }));
    putMeta('dead', makeMeta(qd, { attempts: 5 }));
    const spool = await Spool.open(dir);
    expect(await spool.find(qa)).toMatchObject({ state: 'queue', meta: { attempts: 1 } });
    expect(await spool.find(da)).toMatchObject({ state: 'dead', meta: { attempts: 5 } });
    expect(await spool.find(qd)).toMatchObject({ state: 'queue', meta: { attempts: 0 } });
    expect(ls('active')).toEqual([]);
    expect(ls('dead')).toEqual([`${da}.json`]);
    expect(spool.recovery?.duplicatesRemoved).toBe(3);
  });

  it('tightens existing directories to 0700', async () => {
    for (const sub of ['', 'data', 'queue']) {
      mkdirSync(join(dir, sub), { recursive: true });
      chmodSync(join(dir, sub), 0o755);
    }
    await Spool.open(dir);
    for (const sub of ['', 'data', 'tmp', 'queue', 'active', 'dead']) expect(statSync(join(dir, sub)).mode & 0o777).toBe(0o700);
  });

  it('leaves the sent log and unrelated names alone', async () => {
    put('sent', 'abc.json', '{}');
    put('data', 'README', 'admin note');
    await Spool.open(dir);
    expect(ls('sent')).toEqual(['abc.json']);
    expect(ls('data')).toEqual(['README']);
  });
});

/**
 * Crash points: run a spool operation with a file system that "dies" at its k-th mutating call
 * (that call and every later one fail, as if the process stopped there), for every k, then start
 * a fresh spool on the directory and check the message is in exactly one sane state.
 */
describe('crash at every step of every operation', () => {
  function dyingFs(dieAt: number): { fs: Partial<SpoolFs>; died: () => boolean; closeAll: () => Promise<void> } {
    const handles: { close(): Promise<void> }[] = [];
    let calls = 0;
    let dead = false;
    const step = () => {
      if (dead || ++calls === dieAt) {
        dead = true;
        throw Object.assign(new Error('simulated crash'), { code: 'ECRASH' });
      }
    };
    return {
      died: () => dead,
      // A dead process's descriptors close with it.
      closeAll: async () => void (await Promise.all(handles.map((h) => h.close().catch(() => undefined)))),
      fs: {
        async open(p, flags, m) {
          step();
          const h = await nodeSpoolFs.open(p, flags, m);
          handles.push(h);
          return {
            write: async (b, o, l) => (step(), h.write(b, o, l)),
            sync: async () => (step(), h.sync()),
            close: () => h.close(),
          };
        },
        rename: async (a, b) => (step(), nodeSpoolFs.rename(a, b)),
        link: async (a, b) => (step(), nodeSpoolFs.link(a, b)),
        unlink: async (p) => (step(), nodeSpoolFs.unlink(p)),
        syncDir: async (p) => (step(), nodeSpoolFs.syncDir(p)),
      },
    };
  }

  async function committed(spool: Spool, id: string, body: string): Promise<void> {
    const w = spool.createWriter(id);
    await w.write(Buffer.from(body));
    await w.commit(makeMeta(id, { receivedAt: new Date().toISOString() }));
  }

  type Op = { name: string; setup: (s: Spool, id: string) => Promise<void>; run: (s: Spool, id: string) => Promise<unknown>; ok: (found: { state: string; meta: MessageMeta } | null) => boolean };
  const ops: Op[] = [
    {
      name: 'commit',
      setup: async () => undefined,
      run: (s, id) => committed(s, id, 'body'),
      ok: (f) => f === null || f.state === 'queue',
    },
    {
      name: 'release',
      setup: async (s, id) => void (await committed(s, id, 'body'), await s.claim(id)),
      run: async (s, id) => s.release({ ...(await s.get('active', id))!, attempts: 1 }),
      ok: (f) => f?.state === 'queue',
    },
    {
      name: 'kill',
      setup: async (s, id) => void (await committed(s, id, 'body'), await s.claim(id)),
      run: async (s, id) => s.kill({ ...(await s.get('active', id))!, attempts: 1, lastError: { code: 'x', kind: 'permanent', message: 'no such user', at: 'now' } }),
      ok: (f) => f?.state === 'queue' || (f?.state === 'dead' && f.meta.lastError?.code === 'x'),
    },
    {
      name: 'requeue',
      setup: async (s, id) => void (await committed(s, id, 'body'), await s.claim(id), await s.kill((await s.get('active', id))!)),
      run: (s, id) => s.requeue(id),
      ok: (f) => f?.state === 'dead' || f?.state === 'queue',
    },
    {
      name: 'complete',
      setup: async (s, id) => void (await committed(s, id, 'body'), await s.claim(id)),
      run: (s, id) => s.complete(id),
      ok: (f) => f === null || f.state === 'queue',
    },
  ];

  for (const op of ops) {
    it(`${op.name}: every crash point recovers to one state with intact bytes, or no trace`, async () => {
      let completedWithoutCrash = false;
      for (let k = 1; !completedWithoutCrash; k++) {
        const sub = join(dir, `${op.name}-${k}`);
        const id = createQueueId();
        await op.setup(await Spool.open(sub), id);
        const { fs, died, closeAll } = dyingFs(k);
        const crashing = await Spool.open(sub, { fs, recover: false });
        await op.run(crashing, id).catch((err: unknown) => {
          if ((err as { code?: string }).code !== 'ECRASH') throw err;
        });
        completedWithoutCrash = !died();
        await closeAll();

        const spool = await Spool.open(sub);
        const found = await spool.find(id);
        expect(op.ok(found), `${op.name} crash at step ${k}: ${JSON.stringify(found?.state)}`).toBe(true);
        const states = ['queue', 'active', 'dead'].filter((s) => existsSync(join(sub, s, `${id}.json`)));
        expect(states.length).toBe(found ? 1 : 0);
        if (found) expect(messageBytes(spool.emlPath(id)).toString()).toBe('body');
        else expect(existsSync(spool.emlPath(id))).toBe(false);
        expect(readdirSync(join(sub, 'tmp'))).toEqual([]);
        expect(k).toBeLessThan(50);
      }
    });
  }
});
