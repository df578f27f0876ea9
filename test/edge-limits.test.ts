/**
 * Limits at the edge: message size (the rest drained, nothing stored), connections overall and
 * per client address, the idle timeout, backpressure at MAIL FROM, and the greeting delay.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import type { ConfigInput } from '../src/config/index.js';
import { namedReply, type NamedReply } from '../src/replies/index.js';
import { startListener } from '../src/smtp/index.js';
import { checkSmtpServerSources, readSmtpServerSources, smtpServerInternalsInstalled } from '../src/smtp/smtp-server-internals.js';
import { Spool } from '../src/spool/index.js';
import { EdgeClient, mail } from './support/edge-client.js';
import { deviceHash, startEdge, type EdgeEnv } from './support/edge.js';
import { LogCapture, removeDir, waitUntil } from './support/harness.js';

const MSG = mail({ From: 'alice@clinic.example', To: 'bob@clinic.example' });

describe('size, connection and idle limits', () => {
  let env: EdgeEnv;
  beforeAll(async () => {
    env = await startEdge({
      listen: () => [
        { port: 0, greetingDelay: 0 },
        { port: 0, maxConnections: 2, greetingDelay: 0 },
        { port: 0, maxConnectionsPerClient: 2, greetingDelay: 0 },
      ],
    });
  });
  afterAll(async () => {
    await env.stop();
  });

  it('a 30 MB message to the 25 MB limit: 552 5.3.4 after the whole message, nothing stored, the relay goes on', async () => {
    const { client, ehlo } = await EdgeClient.open(env.ports[0]!);
    expect(ehlo.lines).toContain('SIZE 26214400');
    expect((await client.cmd('MAIL FROM:<alice@clinic.example>')).code).toBe(250);
    expect((await client.cmd('RCPT TO:<bob@clinic.example>')).code).toBe(250);
    expect((await client.cmd('DATA')).code).toBe(354);
    const line = Buffer.from(`${'x'.repeat(1022)}\r\n`);
    const chunk = Buffer.concat(Array.from({ length: 64 }, () => line)); // 64 KiB
    function* message() {
      yield Buffer.from('From: alice@clinic.example\r\nTo: bob@clinic.example\r\n\r\n');
      for (let i = 0; i < 480; i++) yield chunk; // 30 MiB
      yield Buffer.from('.\r\n');
    }
    await client.stream(message());
    const r = await client.read(60_000);
    expect(r.code).toBe(552);
    expect(r.text).toMatch(/^5\.3\.4 /);
    expect(env.spoolFiles()).toEqual([]);
    expect((await client.send('alice@clinic.example', ['bob@clinic.example'], MSG)).code).toBe(250);
    await client.quit();
    const other = await EdgeClient.open(env.ports[0]!);
    expect((await other.client.send('alice@clinic.example', ['bob@clinic.example'], MSG)).code).toBe(250);
    await other.client.quit();
  });

  it('maxConnections: the next client gets 421 4.3.2 until one leaves', async () => {
    const a = await EdgeClient.open(env.ports[1]!);
    const b = await EdgeClient.open(env.ports[1]!);
    const third = await EdgeClient.connect(env.ports[1]!);
    expect(third.greeting.code).toBe(421);
    expect(third.greeting.text).toBe('4.3.2 too many connections, try again later');
    await third.client.whenClosed();
    await a.client.quit();
    await waitUntil(() => env.relay.listeners[1]!.sessions === 1);
    const again = await EdgeClient.connect(env.ports[1]!);
    expect(again.greeting.code).toBe(220);
    await Promise.all([b.client.quit(), again.client.quit()]);
    expect(env.logs.events('session.refused').some((l) => l.reason === 'listener_full')).toBe(true);
  });

  it('maxConnectionsPerClient: a third connection from one address gets 421 4.7.0, other addresses still get in', async () => {
    const a = await EdgeClient.open(env.ports[2]!);
    const b = await EdgeClient.open(env.ports[2]!);
    const third = await EdgeClient.connect(env.ports[2]!);
    expect(third.greeting.code).toBe(421);
    expect(third.greeting.text).toBe('4.7.0 too many connections from 127.0.0.1, try again later');
    const elsewhere = await EdgeClient.connect(env.ports[2]!, { localAddress: '127.0.0.2' });
    expect(elsewhere.greeting.code).toBe(220);
    await Promise.all([a.client.quit(), b.client.quit(), elsewhere.client.quit(), third.client.whenClosed()]);
  });
});

describe('listener seams: config checks, idle timeout, backpressure and greeting delay', () => {
  let dir: string;
  let spool: Spool;
  const logs = new LogCapture();
  let full: NamedReply | null = null;

  const doc = (listen: NonNullable<ConfigInput['listen']>[number], extra: Partial<ConfigInput> = {}): ConfigInput => ({
    ...extra,
    hostname: 'relay.test',
    listen: [listen],
    workspaces: [{ name: 'clinic', domains: ['clinic.example'], transport: 'outbox', outbox: { dir: path.join(dir, 'outbox') } }],
    queue: { dir: path.join(dir, 'spool') },
    limits: { idleTimeout: '500ms' },
  });

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'wr-seams-'));
    spool = await Spool.open(path.join(dir, 'spool'), { logger: logs.logger });
  });
  afterAll(() => removeDir(dir));

  async function listen(extra: Omit<NonNullable<ConfigInput['listen']>[number], 'port'> = {}) {
    const cfg = parseConfig(doc({ port: 0, ...extra }));
    return startListener({ listener: cfg.listen[0]!, config: () => cfg, spool, logger: logs.logger, onAccepted: () => undefined, admission: () => full });
  }

  it('refuses to start when auth.required cannot be met, or a device hash is not one it can check', async () => {
    const start = (input: ConfigInput) => {
      const cfg = parseConfig(input);
      return startListener({ listener: cfg.listen[0]!, config: () => cfg, spool, logger: logs.logger, onAccepted: () => undefined, label: 'listen[0]' });
    };
    await expect(start(doc({ port: 0, auth: { required: true } }))).rejects.toThrow(/^listen\[0\]\.auth\.required: no device account can log in here/);
    const device = { username: 'ehr', passwordHash: await deviceHash('pw'), workspace: 'clinic' };
    await expect(start(doc({ port: 0, auth: { required: true } }, { devices: [device] }))).rejects.toThrow(
      /^listen\[0\]\.auth\.required: AUTH is only offered over TLS: set tls\.mode to starttls or implicit/,
    );
    await expect(start(doc({ port: 0 }, { devices: [{ ...device, passwordHash: 'scrypt$plaintext-password' }] }))).rejects.toThrow(
      /^devices\[0\]\.passwordHash: not a valid scrypt hash: use the output of `workspace-relay hash-password`/,
    );
    const ok = await start(doc({ port: 0, auth: { required: true, allowPlaintext: true } }, { devices: [device] }));
    await ok.close();
  });

  it('a client silent for limits.idleTimeout gets 421 4.4.2 and is disconnected', async () => {
    const l = await listen({ greetingDelay: 0 });
    try {
      const { client } = await EdgeClient.open(l.address.port);
      const r = await client.read(10_000);
      expect(r.code).toBe(421);
      expect(r.text).toMatch(/^4\.4\.2 /);
      await client.whenClosed();
    } finally {
      await l.close();
    }
  });

  it('admission is asked at every MAIL FROM: its reply refuses the transaction (e.g. 452 4.3.1 disk full)', async () => {
    const l = await listen({ greetingDelay: 0 });
    try {
      const { client } = await EdgeClient.open(l.address.port);
      expect((await client.cmd('MAIL FROM:<alice@clinic.example>')).code).toBe(250);
      expect((await client.cmd('RSET')).code).toBe(250);
      full = namedReply('spoolDiskFull');
      const r = await client.cmd('MAIL FROM:<alice@clinic.example>');
      expect(r.code).toBe(452);
      expect(r.text).toBe('4.3.1 insufficient system storage, try again later');
      full = null;
      expect((await client.cmd('MAIL FROM:<alice@clinic.example>')).code).toBe(250);
      await client.quit();
      expect(logs.events('message.rejected').at(-1)).toMatchObject({ stage: 'mail', code: 452, enhanced: '4.3.1' });
    } finally {
      await l.close();
    }
  });

  it('greetingDelay replaces smtp-server’s fixed 100 ms (the patched code still matches this smtp-server)', async () => {
    expect(checkSmtpServerSources(readSmtpServerSources())).toEqual([]);
    const none = await listen({ greetingDelay: 0 });
    const long = await listen({ greetingDelay: '10m' });
    expect(smtpServerInternalsInstalled()).toBe(true);
    try {
      // With 0 the greeting is written as the connection is set up: even a client that talks
      // before reading it is served.
      for (let i = 0; i < 5; i++) {
        const { client, greeting } = await EdgeClient.connect(none.address.port, { early: 'EHLO early.talker\r\n' });
        expect(greeting.code).toBe(220);
        expect((await client.read()).code).toBe(250);
        await client.quit();
      }
      // The option reaches each connection of its own listener: with 10 minutes, the early
      // talker is refused before any greeting.
      const { client, greeting } = await EdgeClient.connect(long.address.port, { early: 'EHLO early.talker\r\n' });
      expect(greeting.code).toBe(421);
      expect(greeting.text).toMatch(/You talk too soon/);
      await client.whenClosed();
    } finally {
      await Promise.all([none.close({ graceMs: 1000 }), long.close({ graceMs: 1000 })]);
    }
  });
});
