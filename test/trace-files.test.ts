/**
 * The trace files alone: what a crash leaves (a line cut short) is skipped, old days are removed
 * by retention, and recording never waits for the disk or fails the caller when the disk refuses.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MessageMeta } from '../src/spool/types.js';
import { TraceFiles, TraceRecorder, dayOf, decodeLine, encodeRecord, findTraces, formatTraces, type TraceRecord } from '../src/trace/index.js';
import { LogCapture, removeDir, tempDir } from './support/harness.js';
import { TestClock } from './support/test-clock.js';

const DAY = 86_400_000;
const NOW = Date.parse('2026-05-31T12:00:00Z');

const meta = (id: string): MessageMeta => ({
  version: 1, id, receivedAt: new Date(NOW).toISOString(), workspace: 'clinic', mailFrom: 'a@clinic.example', sender: 'a@clinic.example',
  recipients: ['b@clinic.example'], bcc: [], headerRecipients: ['b@clinic.example'], messageId: 'm@x', from: 'a@clinic.example', size: 10,
  sha256: '', client: { address: '127.0.0.1' }, attempts: 0, nextAttemptAt: new Date(NOW).toISOString(), lastError: null,
});

describe('trace files', () => {
  let dir: string;
  beforeEach(() => (dir = tempDir('wr-trace-')));
  afterEach(() => removeDir(dir));

  it('reads back what was written and skips a line cut short or of an unknown version', async () => {
    const files = new TraceFiles(path.join(dir, 'trace'));
    const rec: TraceRecord = { v: 1, type: 'attempt', at: new Date(NOW).toISOString(), queueId: 'Q1', workspace: 'clinic', outcome: 'delivered', transport: 'gmail-api', providerId: 'g1' };
    expect(decodeLine(encodeRecord(rec).trimEnd())).toEqual(rec);
    await files.append(dayOf(NOW), encodeRecord(rec));
    await files.close();
    const file = path.join(dir, 'trace', `${dayOf(NOW)}.jsonl`);
    writeFileSync(file, `${readFileSync(file, 'utf8')}${JSON.stringify({ ...rec, v: 2 })}\n{"v":1,"type":"attempt","at":"2026-05-3`, { flag: 'w' });
    const read: TraceRecord[] = [];
    for await (const r of files.read()) read.push(r);
    expect(read).toEqual([rec]);
  });

  it('removes the days that ended more than the retention ago', async () => {
    const trace = path.join(dir, 'trace');
    mkdirSync(trace);
    const days = [40, 31, 30, 29, 0].map((n) => dayOf(NOW - n * DAY));
    for (const d of days) writeFileSync(path.join(trace, `${d}.jsonl`), '');
    writeFileSync(path.join(trace, 'notes.txt'), '');
    const files = new TraceFiles(trace);
    // 2026-05-01 ended 2026-05-02T00:00Z, 29.5 days before NOW: kept with 30 days' retention
    expect(await files.prune(30 * DAY, NOW)).toEqual([days[0], days[1]]);
    expect(await files.days()).toEqual(days.slice(2));
    expect(existsSync(path.join(trace, 'notes.txt'))).toBe(true);
  });
});

describe('trace recorder', () => {
  let dir: string;
  beforeEach(() => (dir = tempDir('wr-trace-')));
  afterEach(() => removeDir(dir));

  it('writes nothing on the caller’s path: records go out together, after flushMs', async () => {
    const files = new TraceFiles(path.join(dir, 'trace'));
    const clock = new TestClock(NOW);
    const rec = new TraceRecorder({ files, logger: new LogCapture().logger, retentionMs: () => 30 * DAY, clock, flushMs: 50 });
    rec.accepted(meta('Q1'), { listener: 'lan' });
    rec.delivered(meta('Q1'), { transport: 'gmail-api', providerId: 'g1', suppressed: false, recipients: [] });
    await clock.advance(49);
    expect(existsSync(path.join(dir, 'trace'))).toBe(false);
    await clock.advance(1);
    await rec.flush(); // (the write the timer started)
    expect(existsSync(path.join(dir, 'trace', `${dayOf(NOW)}.jsonl`))).toBe(true);
    await rec.close();
    const lines = readFileSync(path.join(dir, 'trace', `${dayOf(NOW)}.jsonl`), 'utf8').trim().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as TraceRecord).type)).toEqual(['accepted', 'attempt', 'audit']);
    rec.accepted(meta('Q2'), { listener: 'lan' }); // after close: ignored
    await clock.advance(1_000);
    await rec.flush();
    expect(readFileSync(path.join(dir, 'trace', `${dayOf(NOW)}.jsonl`), 'utf8').trim().split('\n')).toHaveLength(3);
  });

  it('a disk that refuses costs a warning, not the caller; writing resumes when it can', async () => {
    const blocked = path.join(dir, 'trace');
    writeFileSync(blocked, 'not a directory');
    const logs = new LogCapture();
    const rec = new TraceRecorder({ files: new TraceFiles(blocked), logger: logs.logger, retentionMs: () => 30 * DAY, clock: new TestClock(NOW), flushMs: 10 });
    rec.accepted(meta('Q1'), { listener: 'lan' });
    await rec.flush();
    rec.accepted(meta('Q2'), { listener: 'lan' });
    await rec.flush();
    expect(logs.events('trace.write_failed')).toHaveLength(1);
    rmSync(blocked);
    rec.accepted(meta('Q3'), { listener: 'lan' });
    await rec.close();
    expect(logs.events('trace.write_resumed')).toHaveLength(1);
    const ids = readFileSync(path.join(blocked, `${dayOf(NOW)}.jsonl`), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as TraceRecord).queueId);
    expect(ids).toEqual(['Q3']);
  });

  it('drops records beyond maxPendingBytes rather than grow without bound', async () => {
    const files = new TraceFiles(path.join(dir, 'trace'));
    const rec = new TraceRecorder({ files, logger: new LogCapture().logger, retentionMs: () => 30 * DAY, clock: new TestClock(NOW), flushMs: 60_000, maxPendingBytes: 1_000 });
    for (let i = 0; i < 20; i++) rec.accepted(meta(`Q${i}`), { listener: 'lan' });
    await rec.close();
    const n = readFileSync(path.join(dir, 'trace', `${dayOf(NOW)}.jsonl`), 'utf8').trim().split('\n').length;
    expect(n).toBeGreaterThan(0);
    expect(n).toBeLessThan(20);
  });
  it('keeps an odd Message-ID only as the log shows it (hashed), and finds it by the id as Google shows it', async () => {
    const files = new TraceFiles(path.join(dir, 'trace'));
    const rec = new TraceRecorder({ files, logger: new LogCapture().logger, retentionMs: () => 30 * DAY, clock: new TestClock(NOW), flushMs: 10 });
    const odd = '<"John Smith DOB 1970-01-01"@scanner.local>';
    rec.accepted({ ...meta('Q1'), messageId: odd }, { listener: 'lan' });
    rec.accepted(meta('Q2'), { listener: 'lan' });
    await rec.close();
    expect(readFileSync(path.join(dir, 'trace', `${dayOf(NOW)}.jsonl`), 'utf8')).not.toContain('John Smith');
    const found = await findTraces(files, { messageId: odd });
    expect(found.traces.map((t) => t.queueId)).toEqual(['Q1']);
    expect(found.traces[0]!.accepted!.messageId).toMatch(/^sha256:[0-9a-f]{16}$/);
    expect(formatTraces(found)).toContain(`Message-ID ${found.traces[0]!.accepted!.messageId} (hashed, as in the log)`);
    // the hash as logged finds it too; a plain id as it is
    expect((await findTraces(files, { messageId: found.traces[0]!.accepted!.messageId! })).traces).toHaveLength(1);
    expect((await findTraces(files, { messageId: '<m@x>' })).traces.map((t) => t.queueId)).toEqual(['Q2']);
  });
});


describe('trace --since / --until', () => {
  it('reads a duration ago, a local date (its end for --until) and a date-time (local unless zoned)', async () => {
    const { parseWhen } = await import('../src/cli/trace.js');
    expect(parseWhen('2h', NOW)).toBe(NOW - 2 * 3_600_000);
    expect(parseWhen('2026-05-01', NOW)).toBe(new Date(2026, 4, 1).getTime());
    expect(parseWhen('2026-05-01', NOW, true)).toBe(new Date(2026, 4, 2).getTime());
    expect(parseWhen('2026-05-01 09:14', NOW)).toBe(new Date(2026, 4, 1, 9, 14).getTime());
    expect(parseWhen('2026-05-01T09:14:00Z', NOW)).toBe(Date.parse('2026-05-01T09:14:00Z'));
    expect(parseWhen('2026-05-01T09:14+02:00', NOW)).toBe(Date.parse('2026-05-01T07:14:00Z'));
    expect(parseWhen('last tuesday', NOW)).toBeNull();
    expect(parseWhen('15', NOW)).toBeNull();
  });
});
