/** SIGHUP: a new config takes effect with no message lost; a bad one is refused, the old kept. */
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SmtpClient, message } from './support/smtp-client.js';
import { startDaemon, writeConfigFile, type Daemon } from './support/daemon.js';
import { type GoogleEnv, LogCapture, freePort, gmailConfig, removeDir, startGoogle, startTestRelay, tempDir, waitUntil } from './support/harness.js';
import { parseConfig } from '../src/config/load.js';

const connectRefused = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('error', () => resolve(true));
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
  });

describe('SIGHUP reload', () => {
  let dir: string;
  let google: GoogleEnv;
  let daemon: Daemon | undefined;

  beforeEach(async () => {
    dir = tempDir();
    google = await startGoogle(dir);
  });
  afterEach(async () => {
    if (daemon) {
      daemon.child.kill('SIGTERM');
      await daemon.exited;
      daemon = undefined;
    }
    await google.fake.close();
    removeDir(dir);
  });

  it('applies a new workspace, refuses a broken config and keeps the old one, losing no mail', async () => {
    const doc = gmailConfig(dir, google);
    const file = writeConfigFile(dir, doc);
    daemon = await startDaemon(file);
    const d = daemon;
    const events = (name: string) => d.lines.filter((l) => l.event === name);
    const c = await SmtpClient.open(d.port);
    expect((await c.cmd('MAIL FROM:<x@other.example>')).code).toBe(550);
    await c.cmd('RSET');
    // mail accepted before the reload is delivered after it
    google.fake.revoke(google.sa.clientId);
    expect((await c.send('alice@clinic.example', ['bob@clinic.example'], message({ From: 'alice@clinic.example', To: 'bob@clinic.example', 'Message-ID': '<before@x>' }))).code).toBe(250);

    doc.workspaces.push({ name: 'other', domains: ['other.example'], transport: 'outbox', outbox: { dir: path.join(dir, 'outbox') } });
    writeConfigFile(dir, doc);
    d.child.kill('SIGHUP');
    await waitUntil(() => events('config.reloaded').length === 1, 10_000, 'config.reloaded');
    expect((await c.send('x@other.example', ['y@other.example'], message({ From: 'x@other.example', To: 'y@other.example' }))).code).toBe(250);

    writeFileSync(file, 'workspaces: [ { name: broken } ]\n');
    d.child.kill('SIGHUP');
    await waitUntil(() => events('config.reload_failed').length === 1, 10_000, 'config.reload_failed');
    expect(String(events('config.reload_failed')[0]!.reason)).toMatch(/workspaces\[0\]/);
    expect((await c.send('x@other.example', ['y@other.example'], message({ From: 'x@other.example', To: 'y@other.example' }))).code).toBe(250);

    google.fake.authorize(google.sa.clientId, ['https://www.googleapis.com/auth/gmail.send']);
    await waitUntil(() => google.fake.sent.some((s) => s.raw.toString().includes('<before@x>')), 10_000, 'mail from before the reload');
    await c.quit();
  });

  it('refuses a config whose new listener cannot start, changing nothing (in-process)', async () => {
    const doc = gmailConfig(dir, google);
    const { relay } = await startTestRelay(doc);
    try {
      const before = relay.config();
      const bad = parseConfig({
        ...doc,
        workspaces: [...doc.workspaces, { name: 'other', domains: ['other.example'], transport: 'outbox', outbox: { dir: path.join(dir, 'o') } }],
        listen: [...doc.listen!, { host: '127.0.0.1', port: 0, tls: { mode: 'starttls', certFile: path.join(dir, 'missing.pem'), keyFile: path.join(dir, 'missing-key.pem') } }],
      });
      await expect(relay.reload(bad)).rejects.toThrow(/missing\.pem/);
      expect(relay.config()).toBe(before);
      expect(relay.listeners).toHaveLength(1);
      const c = await SmtpClient.open(relay.listeners[0]!.address.port);
      expect((await c.cmd('MAIL FROM:<x@other.example>')).code).toBe(550); // the new workspace did not apply
      await c.quit();
    } finally {
      await relay.stop();
    }
  });

  it('runs reloads one at a time, and none once a stop has begun (in-process)', async () => {
    const doc = gmailConfig(dir, google);
    const { relay } = await startTestRelay(doc);
    const ports = [await freePort(), await freePort(), await freePort()];
    const withListeners = (n: number) => parseConfig({ ...doc, listen: [...doc.listen!, ...ports.slice(0, n - 1).map((port) => ({ host: '127.0.0.1', port }))] });
    // two at once (two quick SIGHUPs): the second sees the first one's listeners, not a stale list
    await Promise.all([relay.reload(withListeners(2)), relay.reload(withListeners(3))]);
    expect(relay.listeners).toHaveLength(3);
    // a reload that arrives after stop() began is refused and opens nothing
    const stopping = relay.stop();
    await expect(relay.reload(withListeners(4))).rejects.toThrow(/stopping/);
    await stopping;
    for (const l of relay.listeners) expect(await connectRefused(l.address.port)).toBe(true);
  });

  it('says which settings read at start a reload changed (queue.deliveryThread, queue.dedupeRetention)', async () => {
    const doc = gmailConfig(dir, google);
    const logs = new LogCapture();
    const { relay } = await startTestRelay(doc, logs);
    try {
      await relay.reload(parseConfig({ ...doc, queue: { ...doc.queue, deliveryThread: false, dedupeRetention: '2d' } }));
      expect(logs.events('config.restart_needed').map((l) => l.key)).toEqual(['queue.deliveryThread', 'queue.dedupeRetention']);
      expect(relay.deliveryThread).not.toBeNull(); // still running on the thread until a restart
      await relay.reload(parseConfig({ ...doc, queue: { ...doc.queue, deliveryThread: false, dedupeRetention: '2d' } }));
      expect(logs.events('config.restart_needed')).toHaveLength(4); // said again while a restart is pending
      await relay.reload(parseConfig(doc)); // back to what it started with: nothing pending
      expect(logs.events('config.restart_needed')).toHaveLength(4);
    } finally {
      await relay.stop();
    }
  });

  it('checks queued mail against the current config: a domain removed by a reload is no longer sent to', async () => {
    const doc = gmailConfig(dir, google);
    doc.workspaces[0]!.domains = ['clinic.example', 'annex.example'];
    google.fake.addUser('carol@annex.example');
    google.fake.revoke(google.sa.clientId); // held: nothing goes out yet
    const { relay, logs } = await startTestRelay(doc);
    try {
      const c = await SmtpClient.open(relay.listeners[0]!.address.port);
      expect((await c.send('alice@clinic.example', ['carol@annex.example'], message({ From: 'alice@clinic.example', To: 'carol@annex.example' }))).code).toBe(250);
      await c.quit();
      await logs.waitFor('delivery.held');
      doc.workspaces[0]!.domains = ['clinic.example'];
      await relay.reload(parseConfig(doc));
      google.fake.authorize(google.sa.clientId, ['https://www.googleapis.com/auth/gmail.send']);
      await waitUntil(() => logs.events('delivery.held').some((l) => l.code === 'delivery.outside_workspace_now'), 10_000, 'held as outside');
      expect(google.fake.sent).toHaveLength(0);
    } finally {
      await relay.stop();
    }
  });

  it('a reload that lowers the size limit does not turn a DATA in progress into a 552 for mail it keeps', async () => {
    const doc = gmailConfig(dir, google);
    const { relay } = await startTestRelay(doc);
    try {
      const c = await SmtpClient.open(relay.listeners[0]!.address.port);
      await c.cmd('MAIL FROM:<alice@clinic.example>');
      await c.cmd('RCPT TO:<bob@clinic.example>');
      expect((await c.cmd('DATA')).code).toBe(354);
      c.write(`From: alice@clinic.example\r\nTo: bob@clinic.example\r\nMessage-ID: <big@x>\r\n\r\n${'x'.repeat(200_000)}\r\n`);
      await relay.reload(parseConfig({ ...doc, limits: { maxMessageSize: '100KB' } }));
      c.write('.\r\n');
      const r = await c.read();
      expect(r.code).toBe(250);
      await waitUntil(() => google.fake.sent.some((m) => m.raw.includes('<big@x>')), 10_000, 'delivered');
      // the next message is held to the new limit
      expect((await c.send('alice@clinic.example', ['bob@clinic.example'], message({ From: 'alice@clinic.example', To: 'bob@clinic.example' }, 'y'.repeat(200_000)))).code).toBe(552);
      await c.quit();
    } finally {
      await relay.stop();
    }
  });
});
