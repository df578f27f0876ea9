/**
 * queue.deadRetention: dead messages and dry-run outbox files older than it are removed, each
 * removal logged by queue id (never content) and a dead message's in its audit record; younger
 * ones, and everything with 0, are kept.
 */
import { mkdirSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { sweepRetention } from '../src/queue/index.js';
import { Spool, createQueueId, type MessageMeta } from '../src/spool/index.js';
import { TraceFiles, TraceRecorder, findTraces } from '../src/trace/index.js';
import { LogCapture, tempDir } from './support/harness.js';
import { testKeys } from './support/spool-crypt.js';
import { makeMeta } from './support/spool-meta.js';
import { TestClock } from './support/test-clock.js';

const DAY = 86_400_000;
const NOW = Date.parse('2026-12-01T12:00:00.000Z');
let dir: string;
beforeEach(() => (dir = tempDir('wr-retention-')));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function deadMessage(spool: Spool, diedDaysAgo: number): Promise<string> {
  const id = createQueueId(NOW - (diedDaysAgo + 1) * DAY);
  const w = spool.createWriter(id);
  await w.write(Buffer.from('Subject: x\r\n\r\nPatient data\r\n'));
  const meta = await w.commit(makeMeta(id));
  const claimed: MessageMeta = await spool.claim(meta.id);
  await spool.kill({ ...claimed, lastError: { at: new Date(NOW - diedDaysAgo * DAY).toISOString(), code: 'delivery.no_such_user', message: 'no such user', kind: 'permanent' } });
  return id;
}

function config(deadRetention: string, outbox: string) {
  return parseConfig({
    listen: [{ host: '127.0.0.1', port: 0 }],
    workspaces: [{ name: 'dry', domains: ['clinic.example'], transport: 'outbox', outbox: { dir: outbox }, senders: { map: {}, default: 'front@clinic.example' } }],
    queue: { dir: path.join(dir, 'spool'), deadRetention },
  });
}

describe('dead retention', () => {
  it('removes dead messages and outbox files older than queue.deadRetention, logs each, keeps the rest', async () => {
    const clock = new TestClock(new Date(NOW));
    const keys = testKeys();
    const spool = await Spool.open(path.join(dir, 'spool'), { clock, keys });
    const old = await deadMessage(spool, 31);
    const young = await deadMessage(spool, 29);
    const outbox = path.join(dir, 'outbox');
    mkdirSync(outbox);
    writeFileSync(path.join(outbox, `${old}.eml`), 'x');
    writeFileSync(path.join(outbox, `${young}.eml`), 'x');
    utimesSync(path.join(outbox, `${old}.eml`), (NOW - 40 * DAY) / 1000, (NOW - 40 * DAY) / 1000);
    utimesSync(path.join(outbox, `${young}.eml`), (NOW - DAY) / 1000, (NOW - DAY) / 1000);
    const logs = new LogCapture();
    const files = TraceFiles.inSpool(path.join(dir, 'spool'), keys);
    const trace = new TraceRecorder({ files, logger: logs.logger, retentionMs: () => 30 * DAY, clock });
    const swept = await sweepRetention({ spool, config: () => config('30d', outbox), logger: logs.logger, clock, events: trace });
    expect(swept).toEqual({ dead: 1, outbox: 1 });
    expect((await spool.list('dead')).map((m) => m.id)).toEqual([young]);
    expect(readdirSync(path.join(dir, 'spool', 'data'))).toEqual([`${young}.eml`]);
    expect(readdirSync(outbox)).toEqual([`${young}.eml`]);
    expect(logs.events('retention.dead_removed')).toEqual([expect.objectContaining({ queueId: old, workspace: 'clinic', level: 'info' })]);
    expect(logs.events('retention.outbox_removed')).toEqual([expect.objectContaining({ workspace: 'dry', files: 1, queueIds: [old] })]);
    expect(logs.raw.join('\n')).not.toContain('Patient');
    // the dead message's end, in its audit record (the young one has none yet)
    await trace.close();
    const [removed] = (await findTraces(files, { queueId: old })).traces;
    expect(removed?.outcome).toBe('deleted');
    expect(removed?.audits).toEqual([
      expect.objectContaining({ outcome: 'deleted', at: new Date(NOW).toISOString(), deletedBy: { action: 'queue.deadRetention' }, deletedFrom: 'dead', code: 'delivery.no_such_user', recipients: [], undelivered: ['dr.a@clinic.example'] }),
    ]);
    expect((await findTraces(files, { queueId: young })).traces).toEqual([]);

    // 0: kept until an admin deletes them.
    clock.set(new Date(NOW + 365 * DAY));
    expect(await sweepRetention({ spool, config: () => config('0', outbox), logger: logs.logger, clock })).toEqual({ dead: 0, outbox: 0 });
    expect((await spool.list('dead')).map((m) => m.id)).toEqual([young]);
  });

  it('refuses a retention under an hour (other than 0), naming the key', () => {
    expect(() => config('10m', path.join(dir, 'o'))).toThrow(/queue\.deadRetention/);
    expect(config('30d', path.join(dir, 'o')).queue.deadRetention).toBe(30 * DAY);
    expect(config('0', path.join(dir, 'o')).queue.deadRetention).toBe(0);
  });
});
