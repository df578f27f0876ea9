/** SIGTERM on the real daemon: DATA in progress finishes, idle clients get 421, a second signal exits at once. */
import net from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SmtpClient } from './support/smtp-client.js';
import { runCli, startDaemon, writeConfigFile, type Daemon } from './support/daemon.js';
import { type GoogleEnv, freePort, gmailConfig, removeDir, startGoogle, tempDir, waitUntil } from './support/harness.js';

const refused = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('error', () => resolve(true));
    s.once('data', (d) => {
      s.destroy();
      resolve(/^421 /.test(d.toString()));
    });
  });

describe('daemon shutdown', () => {
  let dir: string;
  let google: GoogleEnv;
  let daemon: Daemon;

  beforeEach(async () => {
    dir = tempDir();
    google = await startGoogle(dir);
    const doc = gmailConfig(dir, google);
    doc.queue = { ...doc.queue, shutdownTimeout: '20s' };
    daemon = await startDaemon(writeConfigFile(dir, doc));
  });
  afterEach(async () => {
    daemon.child.kill('SIGKILL');
    await daemon.exited;
    await google.fake.close();
    removeDir(dir);
  });

  async function inData() {
    const c = await SmtpClient.open(daemon.port);
    expect((await c.cmd('MAIL FROM:<alice@clinic.example>')).code).toBe(250);
    expect((await c.cmd('RCPT TO:<bob@clinic.example>')).code).toBe(250);
    expect((await c.cmd('DATA')).code).toBe(354);
    c.write('From: alice@clinic.example\r\nTo: bob@clinic.example\r\nMessage-ID: <inflight@x>\r\nDate: Sun, 22 Nov 2026 08:00:00 +0000\r\n\r\npart one\r\n');
    return c;
  }

  /** A DATA in progress, then SIGTERM: the relay is stopping and waits for that DATA. */
  async function stoppingWithDataInProgress() {
    const sending = await inData();
    daemon.child.kill('SIGTERM');
    await waitUntil(() => daemon.lines.some((l) => l.event === 'relay.stopping'), 10_000, 'relay.stopping');
    return sending;
  }

  /** End the DATA in progress: it gets its 250, and the stop completes cleanly. */
  async function finishDataAndExit(sending: Awaited<ReturnType<typeof SmtpClient.open>>) {
    sending.write('part two\r\n.\r\n');
    expect((await sending.read()).code).toBe(250);
    expect(await daemon.exited).toBe(0);
  }

  it('SIGTERM: new clients are refused, idle ones get 421, the DATA in progress gets its 250, exit 0', async () => {
    const sending = await inData();
    const idle = await SmtpClient.open(daemon.port);
    daemon.child.kill('SIGTERM');
    await waitUntil(() => daemon.lines.some((l) => l.event === 'relay.stopping'), 10_000, 'relay.stopping');
    expect((await idle.read()).code).toBe(421);
    expect(await refused(daemon.port)).toBe(true);
    sending.write('part two\r\n.\r\n');
    const r = await sending.read();
    expect(r.code).toBe(250);
    expect(await daemon.exited).toBe(0);
    expect(daemon.lines.some((l) => l.event === 'message.accepted')).toBe(true);
  });

  it('a SIGHUP during the shutdown opens nothing: the new listener never answers, the stop completes', async () => {
    const sending = await stoppingWithDataInProgress();
    // a config with a second listener, then a reload while the DATA in progress keeps the stop going
    const extra = await freePort();
    const doc = gmailConfig(dir, google);
    doc.listen = [...(doc.listen ?? []), { host: '127.0.0.1', port: extra }];
    doc.queue = { ...doc.queue, shutdownTimeout: '20s' };
    writeConfigFile(dir, doc);
    daemon.child.kill('SIGHUP');
    await waitUntil(() => daemon.lines.some((l) => l.event === 'config.reload_ignored'), 10_000, 'config.reload_ignored');
    expect(await refused(extra)).toBe(true);
    await finishDataAndExit(sending);
    expect(daemon.lines.some((l) => l.event === 'relay.forced_exit')).toBe(false);
  });

  it('a queue command during the shutdown waits (exit 75); it never changes the spool under the stopping relay', async () => {
    const sending = await stoppingWithDataInProgress();
    const doc = gmailConfig(dir, google, { audit: { file: path.join(dir, 'audit.log') } });
    doc.queue = { ...doc.queue, shutdownTimeout: '20s' };
    const cli = await runCli(['--config', writeConfigFile(dir, doc, 'cli.yaml'), 'queue', 'hold', '01HV3K9XZ7QW4M']);
    expect(cli.code).toBe(75);
    expect(cli.stderr).not.toMatch(/changed the spool directly/);
    await finishDataAndExit(sending);
  });

  it('a second signal exits at once, even with a DATA still in progress', async () => {
    await inData();
    daemon.child.kill('SIGTERM');
    await waitUntil(() => daemon.lines.some((l) => l.event === 'relay.stopping'), 10_000, 'relay.stopping');
    const t0 = Date.now();
    daemon.child.kill('SIGTERM');
    expect(await daemon.exited).toBe(1);
    expect(Date.now() - t0).toBeLessThan(5_000); // not the 20 s grace
    expect(daemon.lines.some((l) => l.event === 'relay.forced_exit')).toBe(true);
  });

  it('a SIGHUP while the daemon is still starting is applied once started, not fatal', async () => {
    daemon.child.kill('SIGKILL');
    await daemon.exited;
    const doc = gmailConfig(dir, google);
    let hupped = false;
    daemon = await startDaemon(writeConfigFile(dir, doc), (line, child) => {
      // the spool is recovered before any listener opens: the daemon is mid-start
      if (line.event === 'spool.recovered' && !hupped) {
        hupped = true;
        child.kill('SIGHUP');
      }
    });
    expect(hupped).toBe(true);
    await waitUntil(() => daemon.lines.some((l) => l.event === 'config.reloaded'), 10_000, 'config.reloaded');
    expect(daemon.lines.some((l) => l.event === 'config.reload_deferred')).toBe(true);
    const c = await SmtpClient.open(daemon.port);
    expect((await c.cmd('NOOP')).code).toBe(250);
    await c.quit();
  });
});
