/**
 * Slowloris: smtp-server's idle timer restarts at every byte, so limits.commandTimeout (a command
 * line must be complete this long after its first byte) and limits.minDataRate (after DATA's first
 * 30 s, every 30 s brings at least 30 × this many bytes) are absolute: a client trickling a byte
 * every few hundred ms gets 421 4.4.2 and is disconnected, logged, with nothing stored. The
 * listener runs on a TestClock: the deadlines look (every 500 ms) only as the test moves it.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { Deadlines } from '../src/smtp/deadlines.js';
import { startListener, type Listener } from '../src/smtp/index.js';
import { Spool } from '../src/spool/index.js';
import { EdgeClient } from './support/edge-client.js';
import { LogCapture, removeDir, sleep } from './support/harness.js';
import { TestClock } from './support/test-clock.js';

describe('absolute deadlines at the listener', () => {
  let dir: string;
  let spool: Spool;
  let listener: Listener;
  let port: number;
  const clock = new TestClock();
  const logs = new LogCapture();
  /** Let what was written reach the listener, then move the clock (the deadlines look as it moves). */
  const elapse = async (ms: number) => {
    await sleep(50);
    await clock.advance(ms);
  };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'wr-deadlines-'));
    spool = await Spool.open(path.join(dir, 'spool'), { logger: logs.logger });
    const cfg = parseConfig({
      hostname: 'relay.test',
      listen: [{ port: 0 }],
      workspaces: [{ name: 'clinic', domains: ['clinic.example'], transport: 'outbox', outbox: { dir: path.join(dir, 'outbox') } }],
      queue: { dir: path.join(dir, 'spool') },
      limits: { commandTimeout: '1s', minDataRate: '1KB/s' },
    });
    listener = await startListener({ listener: cfg.listen[0]!, config: () => cfg, spool, logger: logs.logger, onAccepted: () => undefined, clock });
    port = listener.address.port;
  });
  afterAll(async () => {
    await listener.close({ graceMs: 1000 });
    removeDir(dir);
  });

  async function dataPhase() {
    const { client } = await EdgeClient.open(port);
    expect((await client.cmd('MAIL FROM:<alice@clinic.example>')).code).toBe(250);
    expect((await client.cmd('RCPT TO:<bob@clinic.example>')).code).toBe(250);
    expect((await client.cmd('DATA')).code).toBe(354);
    client.write('From: alice@clinic.example\r\nTo: bob@clinic.example\r\n\r\n');
    await elapse(500); // a look sees DATA begin
    return client;
  }

  it('a command line trickled a byte at a time: 421 4.4.2 after commandTimeout, although the idle timer never fires', async () => {
    const { client } = await EdgeClient.open(port);
    const started = clock.now();
    for (const ch of 'MAIL FROM:<alice@clinic.example>') {
      if (client.closed) break;
      client.write(ch);
      await elapse(150);
    }
    const r = await client.read();
    expect(r.code).toBe(421);
    expect(r.text).toBe('4.4.2 command line not completed within 1 seconds, closing connection');
    await client.whenClosed();
    expect(clock.now() - started).toBeLessThan(2000);
    expect(logs.events('session.command_timeout').at(-1)).toMatchObject({ level: 'warn' });
    expect((logs.events('session.command_timeout').at(-1)!.ms as number) >= 1000).toBe(true);
  });

  it('a client that completes each command in time may take as long as it likes between them', async () => {
    const { client } = await EdgeClient.open(port);
    for (let i = 0; i < 4; i++) {
      client.write('NO');
      await elapse(600);
      client.write('OP\r\n');
      expect((await client.read()).code).toBe(250);
      await elapse(30_000);
    }
    expect(client.closed).toBe(false);
    await client.quit();
  });

  it('DATA slower than minDataRate after its first 30 s: 421 4.4.2, logged, nothing kept', async () => {
    const client = await dataPhase();
    client.write('x'.repeat(200));
    await elapse(31_000);
    const r = await client.read(10_000);
    expect(r.code).toBe(421);
    expect(r.text).toBe('4.4.2 message data arriving slower than 1024 bytes per second, closing connection');
    await client.whenClosed();
    expect(logs.events('session.data_too_slow').at(-1)).toMatchObject({ minRate: 1024 });
    await logs.waitFor('message.incomplete');
    expect(await spool.list('queue')).toEqual([]);
  });

  it('DATA that keeps the rate goes on past 30 s and is accepted', async () => {
    const client = await dataPhase();
    for (let i = 0; i < 5; i++) {
      client.write(`${'y'.repeat(1022)}\r\n`.repeat(12)); // 12 KiB per 10 s: 1.2 KiB/s
      await elapse(10_000);
    }
    expect(client.closed).toBe(false);
    client.write('.\r\n');
    const r = await client.read(10_000);
    expect(r.code).toBe(250);
    await client.quit();
  });
});

describe('Deadlines: the relay being slow never counts against the client', () => {
  /** A connection in DATA as deadlines.ts reads it (smtp-server's fields). */
  const conn = (bytes: () => number, behind: () => boolean) => ({
    get _parser() {
      return { _dataMode: true, _remainder: '', dataBytes: bytes(), writableLength: behind() ? 1 : 0 };
    },
    _dataStream: { writableNeedDrain: false },
    _closed: false,
    _closing: false,
    _upgrading: false,
    _handlerPending: false,
  });

  it('a window in which the relay fell behind (backpressure) starts the measure again', () => {
    const clock = new TestClock(0);
    const bytes = 0;
    let behind = false;
    const expired: unknown[] = [];
    const c = conn(() => bytes, () => behind);
    const d = new Deadlines({
      connections: () => [c as never],
      limits: () => ({ commandTimeout: 0, minDataRate: 1000 }),
      clock,
      expire: (_conn, e) => expired.push(e),
    });
    d.tick(); // DATA begins
    clock.set(20_000);
    behind = true; // the spool is slow: the client cannot send
    d.tick();
    behind = false;
    clock.set(45_000); // 25 s since the relay caught up, 45 s since DATA began
    d.tick();
    expect(expired).toEqual([]);
    clock.set(51_000); // 31 s since, with no byte: too slow
    d.tick();
    expect(expired).toEqual([{ kind: 'data', bytes: 0, ms: 31_000, rate: 1000 }]);
  });
});
