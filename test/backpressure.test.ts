/** Never a 250 for mail that is not on disk: full disks and write errors. */
import { readdirSync } from 'node:fs';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startRelay } from '../src/app.js';
import { parseConfig } from '../src/config/load.js';
import type { SpoolFs } from '../src/spool/index.js';
import { SmtpClient, message } from './support/smtp-client.js';
import { relayEnv, LogCapture, gmailConfig, waitUntil } from './support/harness.js';
import { gmailError } from './support/fake-google.js';
import { TestClock } from './support/test-clock.js';

function enospc(): NodeJS.ErrnoException {
  return Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28 });
}

describe('disk trouble', () => {
  const env = relayEnv();

  it('answers 451 4.3.0 when the disk fills during DATA, and leaves nothing in the queue', async () => {
    let failWrites = false;
    const spoolFs: Partial<SpoolFs> = {
      async open(file, flags, mode) {
        const h = await fsp.open(file, flags, mode);
        if (!file.endsWith('.eml')) return h;
        return {
          write: (buf: Buffer, off: number, len: number) => (failWrites ? Promise.reject(enospc()) : h.write(buf, off, len)),
          sync: () => h.sync(),
          close: () => h.close(),
        };
      },
    };
    const logs = new LogCapture();
    env.relay = await startRelay({ config: parseConfig(gmailConfig(env.dir, env.google)), logger: logs.logger, spoolFs });
    const c = await SmtpClient.open(env.relay.listeners[0]!.address.port);
    failWrites = true;
    const r = await c.send('alice@clinic.example', ['bob@clinic.example'], message({ From: 'alice@clinic.example', To: 'bob@clinic.example' }, 'x'.repeat(200_000)));
    expect(r.code).toBe(451);
    expect(r.text).toMatch(/^4\.3\.0 /);
    expect(await env.relay.spool.list('queue')).toHaveLength(0);
    expect(readdirSync(path.join(env.dir, 'spool', 'data'))).toEqual([]);
    expect(logs.events('spool.write_failed')[0]).toMatchObject({ err: expect.stringMatching(/ENOSPC/) });
    // the session goes on: once the disk has room again, mail is accepted
    failWrites = false;
    const ok = await c.send('alice@clinic.example', ['bob@clinic.example'], message({ From: 'alice@clinic.example', To: 'bob@clinic.example' }));
    expect(ok.code).toBe(250);
    await c.quit();
  });

  it('answers 452 4.3.1 at MAIL FROM while the spool disk is nearly full, and accepts again once it is not', async () => {
    let free = 10 * 1024 * 1024;
    const logs = new LogCapture();
    const doc = gmailConfig(env.dir, env.google);
    doc.queue = { ...doc.queue, minFreeSpace: '100MB' };
    const clock = new TestClock();
    env.relay = await startRelay({ config: parseConfig(doc), logger: logs.logger, freeBytes: async () => free, clock });
    const c = await SmtpClient.open(env.relay.listeners[0]!.address.port);
    const r = await c.cmd('MAIL FROM:<alice@clinic.example>');
    expect(r.code).toBe(452);
    expect(r.text).toMatch(/^4\.3\.1 /);
    expect(logs.events('spool.backpressure_on')[0]).toMatchObject({ level: 'error', alert: true, reason: 'disk' });
    free = 10 * 1024 * 1024 * 1024;
    await clock.advance(2_000 - 1); // the free-space reading refreshes every 2 s
    expect((await c.cmd('MAIL FROM:<alice@clinic.example>')).code).toBe(452);
    await c.cmd('RSET');
    await clock.advance(1);
    expect((await c.cmd('MAIL FROM:<alice@clinic.example>')).code).toBe(250);
    await c.quit();
  });

  it('answers 452 4.3.1 at MAIL FROM when the queue holds queue.maxQueued messages', async () => {
    env.google.fake.revoke(env.google.sa.clientId); // nothing leaves: the queue fills
    const doc = gmailConfig(env.dir, env.google);
    doc.queue = { ...doc.queue, maxQueued: 2, heldRetry: '1h' };
    env.relay = await startRelay({ config: parseConfig(doc), logger: new LogCapture().logger });
    const c = await SmtpClient.open(env.relay.listeners[0]!.address.port);
    for (let i = 0; i < 2; i++) {
      expect((await c.send('alice@clinic.example', ['bob@clinic.example'], message({ From: 'alice@clinic.example', To: 'bob@clinic.example' }))).code).toBe(250);
    }
    const r = await c.cmd('MAIL FROM:<alice@clinic.example>');
    expect(r.code).toBe(452);
    expect(r.text).toMatch(/^4\.3\.1 too much mail waiting/);
    await c.quit();
  });

  it('retries a failed state change out of active/ instead of stranding the message', async () => {
    let failRenames = 2;
    const spoolFs: Partial<SpoolFs> = {
      async rename(from, to) {
        // the rewrite of a claimed message's metadata (release after a failed attempt)
        if (from.includes('/spool/tmp/') && to.includes('/spool/active/') && failRenames > 0) {
          failRenames--;
          throw enospc();
        }
        await fsp.rename(from, to);
      },
    };
    env.google.fake.failNext(gmailError(500, 'Backend Error', 'INTERNAL', 'backendError'));
    const logs = new LogCapture();
    const clock = new TestClock();
    env.relay = await startRelay({ config: parseConfig(gmailConfig(env.dir, env.google)), logger: logs.logger, spoolFs, clock });
    const c = await SmtpClient.open(env.relay.listeners[0]!.address.port);
    expect((await c.send('alice@clinic.example', ['bob@clinic.example'], message({ From: 'alice@clinic.example', To: 'bob@clinic.example' }))).code).toBe(250);
    await c.quit();
    // the release is tried again after 1 s, then 2 s (backoff), and then holds
    await logs.waitFor('queue.state_change_failed', 1);
    await clock.advance(1_000);
    await logs.waitFor('queue.state_change_failed', 2);
    await clock.advance(2_000);
    await logs.waitFor('delivery.deferred');
    expect(logs.events('queue.state_change_failed')).toEqual([
      expect.objectContaining({ what: 'release', attempt: 1 }),
      expect.objectContaining({ what: 'release', attempt: 2 }),
    ]);
    // Released with its next attempt due 200 ms (±10 %) after the failure: by now (the test clock
    // has moved 3 s) it is due at once, so the scheduler may already have claimed it again. Move
    // the clock in steps until it is delivered; then nothing is left in active/ or queue/.
    await waitUntil(async () => {
      await clock.advance(220);
      return env.google.fake.sent.length === 1;
    }, 15_000, 'delivered after the release succeeded');
    await waitUntil(async () => (await env.relay!.spool.list('active')).length === 0, 5_000, 'active/ empty: not stranded');
    expect(await env.relay.spool.list('queue')).toEqual([]);
  });

  it('puts a message back when its claim fails, instead of stranding it', async () => {
    let failClaims = 2;
    const spoolFs: Partial<SpoolFs> = {
      async rename(from, to) {
        if (from.includes('/spool/queue/') && to.includes('/spool/active/') && failClaims > 0) {
          failClaims--;
          throw Object.assign(new Error('EIO: i/o error, rename'), { code: 'EIO' });
        }
        await fsp.rename(from, to);
      },
    };
    const logs = new LogCapture();
    const clock = new TestClock();
    env.relay = await startRelay({ config: parseConfig(gmailConfig(env.dir, env.google)), logger: logs.logger, spoolFs, clock });
    const c = await SmtpClient.open(env.relay.listeners[0]!.address.port);
    expect((await c.send('alice@clinic.example', ['bob@clinic.example'], message({ From: 'alice@clinic.example', To: 'bob@clinic.example' }))).code).toBe(250);
    await c.quit();
    // put back, due again a second later, each time
    for (let n = 1; n <= 2; n++) {
      await logs.waitFor('queue.claim_failed', n);
      await waitUntil(async () => (await env.relay!.spool.list('queue')).length === 1, 5_000, 'back in queue/');
      await clock.advance(1_000 - 1);
      expect(env.relay.scheduler.inFlight).toBe(0);
      await clock.advance(1);
    }
    await waitUntil(() => env.google.fake.sent.length === 1, 15_000, 'delivered after the claim succeeded');
    expect(logs.events('queue.claim_failed')).toHaveLength(2);
  });

  it('keeps a message queued while its failure notice cannot be written, and bounces it once it can', async () => {
    let failNotices = true;
    let created = 0;
    const spoolFs: Partial<SpoolFs> = {
      async open(file, flags, mode) {
        // the first .eml is the message itself; the next ones are notices about it
        if (file.endsWith('.eml') && flags === 'wx' && created++ > 0 && failNotices) throw enospc();
        return fsp.open(file, flags, mode);
      },
    };
    const logs = new LogCapture();
    env.relay = await startRelay({ config: parseConfig(gmailConfig(env.dir, env.google)), logger: logs.logger, spoolFs });
    // Gmail refuses every send from here on (the message, and its notice too once written)
    for (let i = 0; i < 50; i++) env.google.fake.failNext(gmailError(400, 'Invalid To header', 'INVALID_ARGUMENT', 'invalidArgument'));
    const c = await SmtpClient.open(env.relay.listeners[0]!.address.port);
    const r = await c.send('alice@clinic.example', ['bob@clinic.example'], message({ From: 'alice@clinic.example', To: 'bob@clinic.example' }));
    await c.quit();
    expect(r.code).toBe(250);
    await logs.waitFor('notify.failure_pending'); // logged once the message is back in queue/
    // read it between attempts (queue.heldRetry is 300 ms here: a loaded machine may see it in active/)
    // (the id taken in the same look: by the next one, a retry may have moved it to active/)
    let queued: { id: string } | undefined;
    await waitUntil(async () => ([queued] = await env.relay!.spool.list('queue')).length === 1, 10_000, 'in queue/');
    expect(await env.relay.spool.list('dead')).toHaveLength(0); // not dead-lettered with its bounce lost
    failNotices = false;
    await waitUntil(async () => (await env.relay!.spool.get('dead', queued!.id)) !== null, 10_000, 'moved to dead/ once the notice is written');
    expect(logs.events('notify.sent').filter((l) => l.kind === 'failure' && l.about === queued!.id)).toHaveLength(1);
  });
});

