/**
 * Closing a listener (first stage of shutdown): new clients are refused, waiting clients get
 * 421 4.3.2, a message in DATA is finished and acknowledged; after the grace time the rest is
 * cut off and nothing half-received is kept.
 */
import { mkdtempSync, readdirSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { startListener, type Listener } from '../src/smtp/index.js';
import { Spool } from '../src/spool/index.js';
import type { MessageMeta } from '../src/spool/types.js';
import { EdgeClient } from './support/edge-client.js';
import { LogCapture, removeDir, waitUntil } from './support/harness.js';

const HEAD = 'From: alice@clinic.example\r\nTo: bob@clinic.example\r\nSubject: x\r\n\r\n';

describe('closing a listener', () => {
  let dir: string;
  let spool: Spool;
  let logs: LogCapture;
  let listener: Listener;
  let accepted: MessageMeta[];

  beforeEach(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'wr-close-'));
    logs = new LogCapture();
    accepted = [];
    const config = parseConfig({
      hostname: 'relay.test',
      listen: [{ port: 0, greetingDelay: 0 }],
      workspaces: [{ name: 'clinic', domains: ['clinic.example'], transport: 'outbox', outbox: { dir: path.join(dir, 'outbox') } }],
      queue: { dir: path.join(dir, 'spool') },
    });
    spool = await Spool.open(path.join(dir, 'spool'), { logger: logs.logger });
    listener = await startListener({ listener: config.listen[0]!, config: () => config, spool, logger: logs.logger, onAccepted: (m) => accepted.push(m) });
  });
  afterEach(async () => {
    await listener.close({ graceMs: 100 });
    removeDir(dir);
  });

  async function inData(): Promise<EdgeClient> {
    const { client } = await EdgeClient.open(listener.address.port);
    expect((await client.cmd('MAIL FROM:<alice@clinic.example>')).code).toBe(250);
    expect((await client.cmd('RCPT TO:<bob@clinic.example>')).code).toBe(250);
    expect((await client.cmd('DATA')).code).toBe(354);
    client.write(`${HEAD}first half\r\n`);
    return client;
  }

  const refused = (port: number) =>
    new Promise<string>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.on('connect', () => {
        s.destroy();
        resolve('connected');
      });
      s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });

  it('refuses new clients, answers idle ones 421 4.3.2, lets DATA in progress finish with its 250, then resolves', async () => {
    const sending = await inData();
    const idle = (await EdgeClient.open(listener.address.port)).client;
    const late = (await EdgeClient.open(listener.address.port)).client;
    await waitUntil(() => listener.sessions === 3);

    let done = false;
    const closing = listener.close({ graceMs: 20_000 }).then(() => {
      done = true;
    });
    const bye = await idle.read();
    expect(bye.code).toBe(421);
    expect(bye.text).toBe('4.3.2 shutting down, try again later');
    await idle.whenClosed();
    expect(await refused(listener.address.port)).toBe('ECONNREFUSED');
    // an accepted client that now starts a transaction is answered 421 4.3.2 too
    late.write('MAIL FROM:<alice@clinic.example>\r\n');
    expect(await late.read()).toMatchObject({ code: 421, text: '4.3.2 shutting down, try again later' });

    expect(done).toBe(false); // the message in DATA holds the close
    sending.write('second half\r\n.\r\n');
    const ok = await sending.read();
    expect(ok.code).toBe(250);
    expect(ok.text).toMatch(/^2\.0\.0 Ok: queued as /);
    expect((await sending.read()).code).toBe(421);
    await sending.whenClosed();
    await closing;
    expect(accepted).toHaveLength(1);
    expect(await spool.list('queue')).toHaveLength(1);
    expect(logs.events('listener.closed')[0]).toMatchObject({ forced: 0 });
  });

  it('after graceMs, a stalled DATA is cut off: no reply, nothing stored', async () => {
    const stalled = await inData();
    const started = Date.now();
    await listener.close({ graceMs: 300 });
    expect(Date.now() - started).toBeLessThan(10_000);
    await stalled.whenClosed();
    await expect(stalled.read(100)).rejects.toThrow();
    expect(accepted).toHaveLength(0);
    expect(logs.events('listener.closed')[0]).toMatchObject({ forced: 1 });
    await waitUntil(() => ['data', 'tmp', 'queue'].every((d) => readdirSync(path.join(dir, 'spool', d)).length === 0), 10_000, 'the cut-off message to be removed');
  });

  it('is idempotent, and resolves at once with no sessions', async () => {
    await Promise.all([listener.close({ graceMs: 5000 }), listener.close()]);
    expect(logs.events('listener.closing')).toHaveLength(1);
    expect(await refused(listener.address.port)).toBe('ECONNREFUSED');
  });
});
