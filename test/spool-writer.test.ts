import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Spool, createQueueId, nodeSpoolFs, type MessageMeta, type SpoolFileHandle, type SpoolFs } from '../src/spool/index.js';
import { metaTrailer } from '../src/spool/meta-codec.js';
import { makeMeta as baseMeta, messageBytes } from './support/spool-meta.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'spool-writer-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const makeMeta = (id: string, over: Partial<MessageMeta> = {}): MessageMeta => baseMeta(id, { messageId: 'abc@clinic.example', from: 'frontdesk@clinic.example', ...over });

const errno = (code: string) => Object.assign(new Error(`${code}: simulated`), { code });
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const ls = (sub: string) => readdirSync(join(dir, sub)).sort();
const mode = (p: string) => statSync(p).mode & 0o777;


describe('SpoolWriter commit', () => {
  it('stores the exact bytes and the meta, with 0600 files and 0700 directories whatever the umask', async () => {
    const old = process.umask(0);
    try {
      const spool = await Spool.open(dir);
      const id = createQueueId();
      const w = spool.createWriter(id);
      const parts = [Buffer.from('Subject: x\r\n\r\n'), Buffer.from([0, 1, 2, 255, 13, 10]), Buffer.alloc(100_000, 0x61)];
      for (const p of parts) await w.write(p);
      const all = Buffer.concat(parts);
      expect(w.size).toBe(all.length);
      expect(w.sha256()).toBe(sha(all));
      const stored = await w.commit(makeMeta(id));

      // one file: the message, then its metadata; queue/<id>.json is a second name for it
      expect(readFileSync(spool.emlPath(id)).equals(Buffer.concat([all, metaTrailer(stored)]))).toBe(true);
      expect(messageBytes(spool.emlPath(id)).equals(all)).toBe(true);
      expect(statSync(join(dir, 'queue', `${id}.json`)).ino).toBe(statSync(spool.emlPath(id)).ino);
      expect(stored).toMatchObject({ size: all.length, sha256: sha(all) });
      expect(await spool.get('queue', id)).toEqual(stored);
      expect(await spool.find(id)).toEqual({ state: 'queue', meta: stored });
      expect(ls('tmp')).toEqual([]);

      for (const sub of ['', 'data', 'tmp', 'queue', 'active', 'dead']) expect(mode(join(dir, sub))).toBe(0o700);
      expect(mode(spool.emlPath(id))).toBe(0o600);
      expect(mode(join(dir, 'queue', `${id}.json`))).toBe(0o600);
    } finally {
      process.umask(old);
    }
  });

  it('holds less than 64 KiB in memory: each full 64 KiB is on disk when the write that filled it resolves', async () => {
    const spool = await Spool.open(dir);
    const id = createQueueId();
    const w = spool.createWriter(id);
    await w.write(Buffer.alloc(70_000, 1));
    expect(statSync(spool.emlPath(id)).size).toBe(65_536); // 4,464 held
    await w.write(Buffer.alloc(5, 2)); // held
    expect(statSync(spool.emlPath(id)).size).toBe(65_536);
    await w.write(Buffer.alloc(70_000, 3));
    expect(statSync(spool.emlPath(id)).size).toBe(131_072); // 8,933 held
    const stored = await w.commit(makeMeta(id));
    expect(stored.size).toBe(140_005);
    const bytes = messageBytes(spool.emlPath(id));
    expect(bytes.equals(Buffer.concat([Buffer.alloc(70_000, 1), Buffer.alloc(5, 2), Buffer.alloc(70_000, 3)]))).toBe(true);
  });

  it('refuses a meta for another id and writes after commit', async () => {
    const spool = await Spool.open(dir);
    const id = createQueueId();
    const w = spool.createWriter(id);
    await w.write(Buffer.from('x'));
    await expect(w.commit(makeMeta('OTHER0000000001'))).rejects.toMatchObject({ code: 'spool.bad_meta' });
    await w.commit(makeMeta(id));
    await expect(w.write(Buffer.from('y'))).rejects.toMatchObject({ code: 'spool.writer_closed' });
    await w.abort(); // no-op after a successful commit
    expect(await spool.count('queue')).toBe(1);
    expect(messageBytes(spool.emlPath(id)).toString()).toBe('x');
  });
});

describe('group commit', () => {
  it('lands every concurrent commit with fewer directory fsyncs, each covered by an fsync that began after its link', async () => {
    const events: string[] = [];
    const fs: Partial<SpoolFs> = {
      async link(from, to) {
        await nodeSpoolFs.link(from, to);
        if (to.includes(`${join(dir, 'queue')}/`)) events.push(`link ${to.split('/').pop()!.replace('.json', '')}`);
      },
      async syncDir(path) {
        const round = events.length;
        events.push(`sync-start ${path} ${round}`);
        await new Promise((r) => setTimeout(r, 15));
        await nodeSpoolFs.syncDir(path);
        events.push(`sync-end ${path} ${round}`);
      },
    };
    const spool = await Spool.open(dir, { fs });
    const before = spool.dirSyncs;
    const n = 40;
    const ids = Array.from({ length: n }, () => createQueueId());
    await Promise.all(
      ids.map(async (id, i) => {
        const w = spool.createWriter(id);
        await w.write(Buffer.from(`message ${i}\r\n`));
        await w.commit(makeMeta(id));
        events.push(`done ${id}`);
      }),
    );
    expect(await spool.count('queue')).toBe(n);
    for (const [i, id] of ids.entries()) expect(messageBytes(spool.emlPath(id)).toString()).toBe(`message ${i}\r\n`);
    const syncs = spool.dirSyncs - before;
    expect(syncs).toBeLessThan(n); // 2n directory fsyncs without sharing
    expect(syncs).toBeGreaterThanOrEqual(2);

    const queueDir = join(dir, 'queue');
    for (const id of ids) {
      const renamedAt = events.indexOf(`link ${id}`);
      const doneAt = events.indexOf(`done ${id}`);
      const covered = events.some((e, i) => {
        if (i <= renamedAt || !e.startsWith(`sync-start ${queueDir} `)) return false;
        const endAt = events.indexOf(e.replace('sync-start', 'sync-end'));
        return endAt > i && endAt < doneAt;
      });
      expect(covered, `commit of ${id} resolved without a covering fsync`).toBe(true);
    }
  });
});

describe('commit order', () => {
  it('links the file into queue/ only after its fsync and the data/ fsync have finished', async () => {
    const events: string[] = [];
    const fs: Partial<SpoolFs> = {
      async open(path, flags, m) {
        const h = await nodeSpoolFs.open(path, flags, m);
        return {
          write: (b, o, l) => h.write(b, o, l),
          sync: async () => {
            events.push('file-sync-start');
            await new Promise((r) => setTimeout(r, 20));
            await h.sync();
            events.push('file-sync-end');
          },
          close: () => h.close(),
        };
      },
      async syncDir(path) {
        const which = path.endsWith('data') ? 'data' : path.endsWith('queue') ? 'queue' : 'other';
        events.push(`${which}-sync-start`);
        await nodeSpoolFs.syncDir(path);
        events.push(`${which}-sync-end`);
      },
      async link(from, to) {
        events.push('link');
        await nodeSpoolFs.link(from, to);
      },
    };
    const spool = await Spool.open(dir, { fs });
    events.length = 0;
    const id = createQueueId();
    const w = spool.createWriter(id);
    await w.write(Buffer.from('Subject: x\r\n\r\nhello\r\n'));
    await w.commit(makeMeta(id));
    events.push('committed');
    const at = (e: string) => events.indexOf(e);
    expect(at('link')).toBeGreaterThan(at('file-sync-end'));
    expect(at('link')).toBeGreaterThan(at('data-sync-end'));
    expect(at('queue-sync-start')).toBeGreaterThan(at('link'));
    expect(at('committed')).toBeGreaterThan(at('queue-sync-end'));
  });

  it('abort stops the writer at once: a commit or write after it is refused, and nothing is left', async () => {
    const spool = await Spool.open(dir);
    const id = createQueueId();
    const w = spool.createWriter(id);
    await w.write(Buffer.from('held in memory'));
    const aborting = w.abort();
    await expect(w.commit(makeMeta(id))).rejects.toMatchObject({ code: 'spool.writer_closed' });
    await expect(w.write(Buffer.from('more'))).rejects.toMatchObject({ code: 'spool.writer_closed' });
    await aborting;
    expect(ls('data')).toEqual([]);
    expect(ls('queue')).toEqual([]);
  });
});

describe('abort and failures', () => {
  it('abort leaves nothing behind, is safe twice, and closes the writer', async () => {
    const spool = await Spool.open(dir);
    const id = createQueueId();
    const w = spool.createWriter(id);
    await w.write(Buffer.from('partial'));
    await w.abort();
    await w.abort();
    expect(ls('data')).toEqual([]);
    expect(ls('tmp')).toEqual([]);
    expect(await spool.find(id)).toBeNull();
    await expect(w.write(Buffer.from('more'))).rejects.toMatchObject({ code: 'spool.writer_closed' });
  });

  it('a write that hits ENOSPC rejects with ENOSPC (and so does commit); abort leaves nothing', async () => {
    let written = 0;
    const fs: Partial<SpoolFs> = {
      async open(path, flags, m) {
        const h = await nodeSpoolFs.open(path, flags, m);
        if (!path.endsWith('.eml')) return h;
        const wrapped: SpoolFileHandle = {
          write: async (buf, off, len) => {
            if (written > 0) throw errno('ENOSPC');
            written += len;
            return h.write(buf, off, len);
          },
          sync: () => h.sync(),
          close: () => h.close(),
        };
        return wrapped;
      },
    };
    const spool = await Spool.open(dir, { fs });
    const id = createQueueId();
    const w = spool.createWriter(id);
    await w.write(Buffer.alloc(70_000, 'a')); // written at once (more than the writer holds)
    await expect(w.write(Buffer.alloc(70_000, 'b'))).rejects.toMatchObject({ code: 'ENOSPC' });
    await expect(w.write(Buffer.from('third'))).rejects.toMatchObject({ code: 'ENOSPC' });
    await expect(w.commit(makeMeta(id))).rejects.toMatchObject({ code: 'ENOSPC' });
    await w.abort();
    expect(ls('data')).toEqual([]);
    expect(ls('tmp')).toEqual([]);
    expect(ls('queue')).toEqual([]);
  });

  it('ENOSPC while writing the metadata during commit rejects with ENOSPC; abort removes the .eml', async () => {
    const fs: Partial<SpoolFs> = {
      async open(path, flags, m) {
        const h = await nodeSpoolFs.open(path, flags, m);
        const isMeta = (buf: Buffer) => buf.includes('#workspace-relay-meta');
        return { write: async (buf, off, len) => (isMeta(buf) ? Promise.reject(errno('ENOSPC')) : h.write(buf, off, len)), sync: () => h.sync(), close: () => h.close() };
      },
    };
    const spool = await Spool.open(dir, { fs });
    const id = createQueueId();
    const w = spool.createWriter(id);
    await w.write(Buffer.alloc(70_000, 'a'));
    await w.write(Buffer.from('hello'));
    await expect(w.commit(makeMeta(id))).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(ls('data').length).toBe(1); // the half-written message, until abort
    expect(ls('queue')).toEqual([]);
    await w.abort();
    expect(ls('data')).toEqual([]);
    expect(ls('tmp')).toEqual([]);
    expect(ls('queue')).toEqual([]);
  });

  it('EIO on the directory fsync fails the commit (client will retry) and abort takes the message back out', async () => {
    const fs: Partial<SpoolFs> = { syncDir: async () => Promise.reject(errno('EIO')) };
    const spool = await Spool.open(dir, { fs: {} });
    const failing = await Spool.open(dir, { fs, recover: false });
    const id = createQueueId();
    const w = failing.createWriter(id);
    await w.write(Buffer.from('hello'));
    await expect(w.commit(makeMeta(id))).rejects.toMatchObject({ code: 'EIO' });
    await w.abort();
    expect(await spool.find(id)).toBeNull();
    expect(ls('data')).toEqual([]);
  });

  it('an id that already exists fails with EEXIST and abort does not touch the existing message', async () => {
    const spool = await Spool.open(dir);
    const id = createQueueId();
    const first = spool.createWriter(id);
    await first.write(Buffer.from('original'));
    await first.commit(makeMeta(id));
    const second = spool.createWriter(id);
    await second.write(Buffer.from('impostor')); // held in memory
    await expect(second.commit(makeMeta(id))).rejects.toMatchObject({ code: 'EEXIST' });
    await expect(second.write(Buffer.from('more'))).rejects.toMatchObject({ code: 'EEXIST' });
    await second.abort();
    expect(messageBytes(spool.emlPath(id)).toString()).toBe('original');
    expect(await spool.count('queue')).toBe(1);
  });

  it('commit of an empty message stores an empty message (with its metadata)', async () => {
    const spool = await Spool.open(dir);
    const id = createQueueId();
    const stored = await spool.createWriter(id).commit(makeMeta(id));
    expect(stored.size).toBe(0);
    expect(stored.sha256).toBe(sha(Buffer.alloc(0)));
    expect(messageBytes(spool.emlPath(id)).length).toBe(0);
    expect(await spool.get('queue', id)).toEqual(stored);
    expect(await text(spool.message(stored).range())).toBe('');
  });

  it('refuses ids that could escape the spool directory', async () => {
    const spool = await Spool.open(dir);
    writeFileSync(join(dir, 'victim.eml'), 'x');
    expect(() => spool.createWriter('../victim')).toThrow(expect.objectContaining({ code: 'spool.bad_id' }));
    await expect(spool.remove('queue', '../../etc/passwd')).rejects.toMatchObject({ code: 'spool.bad_id' });
  });
});
