/**
 * Start-up order (docs/lifecycle.md): what the config decides — ports, directories, files — is
 * checked before the spool is recovered or anything delivered, and a start that fails because of
 * the config exits 78 with `config error: <key>: …`, leaving nothing open.
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startRelay } from '../src/app.js';
import { parseConfig } from '../src/config/load.js';
import type { ConfigInput } from '../src/config/index.js';
import { ConfigError } from '../src/errors.js';
import { bindError } from '../src/lifecycle/index.js';
import { startListener } from '../src/smtp/index.js';
import { Spool, createQueueId } from '../src/spool/index.js';
import { runCli, writeConfigFile } from './support/daemon.js';
import { EdgeClient } from './support/edge-client.js';
import { LogCapture, gmailConfig, relayEnv, sleep, startTestRelay, waitUntil } from './support/harness.js';
import { message } from './support/smtp-client.js';
import { makeMeta } from './support/spool-meta.js';

/** A port something else holds (closed by the caller). */
function holdPort(): Promise<{ port: number; release: () => Promise<void> }> {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      resolve({ port: (srv.address() as net.AddressInfo).port, release: () => new Promise((r) => srv.close(() => r())) });
    });
  });
}

/** A stopped relay's spool: one message in active/ (it stopped mid-delivery), one due in queue/. */
async function leftBehind(spoolDir: string): Promise<{ active: string; queued: string }> {
  const spool = await Spool.open(spoolDir);
  const ids: string[] = [];
  for (let i = 0; i < 2; i++) {
    const id = createQueueId();
    const w = spool.createWriter(id);
    const bytes = Buffer.from(message({ From: 'alice@clinic.example', To: 'bob@clinic.example', 'Message-ID': `<left-${i}@clinic.example>` }));
    await w.write(bytes);
    await w.commit(
      makeMeta(id, {
        receivedAt: new Date().toISOString(),
        nextAttemptAt: new Date(0).toISOString(),
        sender: 'alice@clinic.example',
        mailFrom: 'alice@clinic.example',
        recipients: ['bob@clinic.example'],
        headerRecipients: ['bob@clinic.example'],
        from: 'alice@clinic.example',
        messageId: `left-${i}@clinic.example`,
        size: bytes.length,
        sha256: createHash('sha256').update(bytes).digest('hex'),
      }),
    );
    ids.push(id);
  }
  await spool.claim(ids[0]!);
  return { active: ids[0]!, queued: ids[1]! };
}

const ls = (spoolDir: string, state: string) => readdirSync(path.join(spoolDir, state)).filter((n) => n.endsWith('.json'));

describe('start-up', () => {
  const env = relayEnv();

  it('a port in use: exit 78 naming listen[0].port, with the spool not recovered and nothing delivered', async () => {
    const held = await holdPort();
    try {
      const doc = gmailConfig(env.dir, env.google, { listen: [{ host: '127.0.0.1', port: held.port }] });
      const spoolDir = doc.queue.dir;
      const left = await leftBehind(spoolDir);
      const r = await runCli(['--config', writeConfigFile(env.dir, doc), 'serve']);
      expect(r.stderr).toMatch(new RegExp(`^config error: listen\\[0\\]\\.port: 127\\.0\\.0\\.1:${held.port} is in use by another program`));
      expect(r.code).toBe(78);
      expect(ls(spoolDir, 'active')).toEqual([`${left.active}.json`]); // recovery would have put it back in queue/
      expect(ls(spoolDir, 'queue')).toEqual([`${left.queued}.json`]);
      expect(env.google.fake.requests).toEqual([]); // no token asked for, nothing sent
    } finally {
      await held.release();
    }
  });

  it('in-process: the same refusal leaves nothing open; the spool starts at once on a free port and delivers both', async () => {
    const held = await holdPort();
    const doc = gmailConfig(env.dir, env.google, { listen: [{ host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port: held.port }] });
    const left = await leftBehind(doc.queue.dir);
    const logs = new LogCapture();
    const failed = await startRelay({ config: parseConfig(doc), logger: logs.logger }).catch((err: unknown) => err);
    await held.release();
    expect(failed).toBeInstanceOf(ConfigError);
    expect(failed).toMatchObject({ path: 'listen[1].port' });
    expect(ls(doc.queue.dir, 'active')).toEqual([`${left.active}.json`]);
    expect(logs.events('queue.started')).toEqual([]);
    expect(logs.events('listener.started')).toEqual([]);
    // the first listener, the lock and the rest were closed: a relay starts on the same spool now
    // (a control socket left open would keep it waiting, then refuse it)
    ({ relay: env.relay } = await startTestRelay({ ...doc, listen: [{ host: '127.0.0.1', port: 0 }] }));
    await waitUntil(() => env.google.fake.sent.length === 2, 15_000, 'both left-behind messages delivered');
  });

  it('a queue.dir that cannot be a directory: exit 78 naming queue.dir, before anything is bound', async () => {
    const file = path.join(env.dir, 'not-a-dir');
    writeFileSync(file, '');
    const held = await holdPort(); // were it bound first, this would be the error
    try {
      const doc: ConfigInput = { ...gmailConfig(env.dir, env.google, { listen: [{ host: '127.0.0.1', port: held.port }] }) };
      doc.queue = { ...doc.queue, dir: path.join(file, 'spool') };
      const r = await runCli(['--config', writeConfigFile(env.dir, doc), 'serve']);
      expect(r.stderr).toMatch(/^config error: queue\.dir: .*not-a-dir is not a directory/);
      expect(r.code).toBe(78);
    } finally {
      await held.release();
    }
  });

  it('an SMTP workspace whose caFile cannot be read is a config error naming the key', async () => {
    const pass = path.join(env.dir, 'app-password');
    writeFileSync(pass, 'abcd efgh ijkl mnop\n', { mode: 0o600 });
    const doc = gmailConfig(env.dir, env.google);
    doc.workspaces = [
      {
        name: 'clinic',
        domains: ['clinic.example'],
        transport: 'smtp',
        smtp: { host: '127.0.0.1', port: 1, user: 'alice@clinic.example', appPasswordFile: pass, caFile: path.join(env.dir, 'missing-ca.pem') },
      },
    ];
    await expect(startRelay({ config: parseConfig(doc), logger: new LogCapture().logger })).rejects.toMatchObject({
      path: 'workspaces[0].smtp.caFile',
      message: expect.stringMatching(/missing-ca\.pem: ENOENT/),
    });
    expect(existsSync(path.join(env.dir, 'spool'))).toBe(false); // refused before the spool (or its lock) was touched
  });

  it('a listener bound before the relay is ready holds its greeting until then; 421 if the start fails', async () => {
    const doc = gmailConfig(env.dir, env.google);
    const config = parseConfig(doc);
    const spool = await Spool.open(path.join(env.dir, 'spool'));
    const gate = (() => {
      let open!: () => void;
      let fail!: (e: Error) => void;
      const ready = new Promise<void>((res, rej) => ((open = res), (fail = rej)));
      return { ready, open, fail };
    })();
    const listener = await startListener({ listener: config.listen[0]!, config: () => config, spool, logger: new LogCapture().logger, onAccepted: () => undefined, ready: gate.ready });
    try {
      const early = EdgeClient.connect(listener.address.port);
      const second = EdgeClient.connect(listener.address.port);
      let greeted = false;
      void early.then(() => (greeted = true));
      await sleep(300); // smtp-server greets after 100 ms when nothing holds it
      expect(greeted).toBe(false);
      gate.open();
      const { client, greeting } = await early;
      expect(greeting.code).toBe(220);
      expect((await client.cmd('EHLO client.test')).code).toBe(250);
      await client.quit();
      (await second).client.destroy();
    } finally {
      await listener.close({ graceMs: 0 });
    }

    const failing = (() => {
      let fail!: (e: Error) => void;
      const ready = new Promise<void>((_res, rej) => (fail = rej));
      return { ready, fail };
    })();
    const refused = await startListener({ listener: config.listen[0]!, config: () => config, spool, logger: new LogCapture().logger, onAccepted: () => undefined, ready: failing.ready });
    try {
      const waiting = EdgeClient.connect(refused.address.port);
      await sleep(200);
      failing.fail(new Error('the relay did not start'));
      const { greeting } = await waiting;
      expect(greeting.code).toBe(421);
      expect(greeting.text).toMatch(/^4\.3\.2 /);
    } finally {
      await refused.close({ graceMs: 0 });
    }
  });
});

describe('bind failures read as the config mistake they are', () => {
  const cfg = parseConfig({
    listen: [{ host: '127.0.0.1', port: 0 }],
    workspaces: [{ name: 'clinic', domains: ['clinic.example'], transport: 'outbox', outbox: { dir: '/var/outbox' } }],
    queue: { dir: '/var/spool/relay' },
  }).listen[0]!;
  const errno = (code: string) => Object.assign(new Error(`listen ${code}`), { code });
  it.each([
    ['EADDRINUSE', 'listen[0].port', /127\.0\.0\.1:0 is in use by another program .*choose another port/],
    ['EADDRNOTAVAIL', 'listen[0].host', /127\.0\.0\.1 is not an address of this machine: use one of its addresses, 0\.0\.0\.0/],
    ['ENOTFOUND', 'listen[0].host', /does not resolve to an address of this machine: use an IP address/],
    ['EACCES', 'listen[0].port', /needs privileges: grant CAP_NET_BIND_SERVICE .* or use a port above 1023/],
  ])('%s → %s', (code, key, text) => {
    const e = bindError(errno(code), cfg, 'listen[0]');
    expect(e).toBeInstanceOf(ConfigError);
    expect(e).toMatchObject({ path: key, message: expect.stringMatching(text) });
  });
  it('anything else is left as it is (exit 1, "could not start")', () => {
    const other = errno('EMFILE');
    expect(bindError(other, cfg, 'listen[0]')).toBe(other);
  });
});
