/**
 * Config gaps closed at the edge: domain names read the way policy reads addresses, a TLS key
 * readable by others refused like every other secret, `0` a duration, the new keys
 * (auth.throttle, limits.commandTimeout, limits.minDataRate) with their defaults, and
 * greetingDelay 0 by default on listeners open only to loopback and private networks (100 ms
 * where a listener is open wider), checked on the wire with an early talker.
 */
import { chmodSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/errors.js';
import { EXAMPLE_CONFIG_PATH, loadConfig, parseConfig } from '../src/config/index.js';
import type { ConfigInput } from '../src/config/index.js';
import { startListener } from '../src/smtp/index.js';
import { Spool } from '../src/spool/index.js';
import { EdgeClient } from './support/edge-client.js';
import { LogCapture, removeDir } from './support/harness.js';
import { makeTestCert } from './support/tls.js';

const base = (extra: Partial<ConfigInput> = {}): ConfigInput => ({
  workspaces: [{ name: 'clinic', domains: ['clinic.example'], transport: 'outbox', outbox: { dir: './var/outbox' } }],
  queue: { dir: './var/spool' },
  ...extra,
});

function errorOf(doc: ConfigInput): string {
  try {
    parseConfig(doc);
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('config at the edge', () => {
  it.each([
    ['clinic..example', /an empty|each label/],
    ['-clinic.example', /each label/],
    ['clinic_1.example', /characters other than|each label/],
    ['clinic\uff0eexample', /canonical form/],
    ['clinic.example.', /ends with a dot/],
    ['10.0.0.1', /IP addresses/],
    ['localhost', /not a domain name/],
  ])('refuses the domain %s, naming the key and why', (domain, why) => {
    const message = errorOf(base({ workspaces: [{ name: 'clinic', domains: [domain], transport: 'outbox', outbox: { dir: 'x' } }] }));
    expect(message).toMatch(/^workspaces\[0\]\.domains\[0\]: ".*" is not a domain name such as clinic\.example/);
    expect(message).toMatch(why);
  });

  it('reads the domains of configured addresses the same way', () => {
    const doc = base({ devices: [{ username: 'x', passwordHash: 'scrypt$x', workspace: 'clinic', allowedRecipients: ['bob@clinic..example'] }] });
    expect(errorOf(doc)).toMatch(/^devices\[0\]\.allowedRecipients\[0\]: expected an email address such as user@clinic\.example/);
    expect(parseConfig(base({ listen: [{ port: 25, senders: ['Scans@Bücher.example'] }] })).listen[0]!.senders).toEqual(['scans@xn--bcher-kva.example']);
  });

  it('takes 0 as a duration (written 0, "0" or "0s"), and refuses it where it cannot work', () => {
    for (const zero of [0, '0', '0s']) {
      const c = parseConfig(base({ listen: [{ port: 25, greetingDelay: zero }], queue: { dir: 'x', shutdownTimeout: zero }, limits: { commandTimeout: zero, minDataRate: 0 } }));
      expect([c.listen[0]!.greetingDelay, c.queue.shutdownTimeout, c.limits.commandTimeout, c.limits.minDataRate]).toEqual([0, 0, 0, 0]);
    }
    expect(errorOf(base({ limits: { idleTimeout: 0 } }))).toMatch(/^limits\.idleTimeout: "0" is too short: use at least 100ms/);
  });

  it('has defaults for the new keys, and reads rates in bytes per second', () => {
    const c = parseConfig(base());
    expect(c.auth.throttle).toEqual({ failures: 5, addressFailures: 20, window: 600_000, block: 600_000 });
    expect(c.limits).toMatchObject({ commandTimeout: 60_000, minDataRate: 1024, idleTimeout: 300_000 });
    expect(parseConfig(base({ limits: { minDataRate: '512B/s' } })).limits.minDataRate).toBe(512);
    expect(parseConfig(base({ limits: { minDataRate: '2KB' } })).limits.minDataRate).toBe(2048);
    expect(errorOf(base({ limits: { minDataRate: 'fast' } }))).toMatch(/^limits\.minDataRate: "fast" is not a rate: use bytes per second/);
    expect(errorOf(base({ auth: { throttle: { failures: 10, addressFailures: 5 } } }))).toMatch(/^auth\.throttle\.addressFailures: 5 is below failures \(10\)/);
    expect(parseConfig(base({ auth: { throttle: { window: '1h', block: '30m' } } })).auth.throttle).toMatchObject({ window: 3_600_000, block: 1_800_000 });
  });

  it('greetingDelay: 0 by default where `allow` is loopback or private networks only, 100 ms where it is open wider', () => {
    const delayOf = (allow?: string[]) => parseConfig(base({ listen: [{ port: 25, ...(allow ? { allow } : {}) }] })).listen[0]!.greetingDelay;
    expect(delayOf()).toBe(0); // loopback by default
    expect(delayOf(['192.168.10.0/24', '10.1.0.0/16', '172.16.4.0/22', 'fd00:10::/64', 'fe80::/64', '::ffff:192.168.1.0/120'])).toBe(0);
    expect(delayOf(['192.168.10.0/24', '0.0.0.0/0'])).toBe(100);
    expect(delayOf(['172.0.0.0/8'])).toBe(100); // wider than 172.16.0.0/12
    expect(delayOf(['100.64.0.0/10'])).toBe(100); // carrier-grade NAT: other customers
    expect(delayOf(['203.0.113.7'])).toBe(100);
    expect(parseConfig(base({ listen: [{ port: 25, allow: ['0.0.0.0/0'], greetingDelay: 0 }] })).listen[0]!.greetingDelay).toBe(0);
    expect(loadConfig(EXAMPLE_CONFIG_PATH).listen[0]!.greetingDelay).toBe(0);
  });
});

describe('at the listener', () => {
  let dir: string;
  let spool: Spool;
  const logs = new LogCapture();
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'wr-edge-config-'));
    spool = await Spool.open(path.join(dir, 'spool'), { logger: logs.logger });
  });
  afterAll(() => removeDir(dir));

  const start = (listen: NonNullable<ConfigInput['listen']>[number]) => {
    const cfg = parseConfig({ ...base(), hostname: 'relay.test', listen: [listen], queue: { dir: path.join(dir, 'spool') } });
    return startListener({ listener: cfg.listen[0]!, config: () => cfg, spool, logger: logs.logger, onAccepted: () => undefined, label: 'listen[0]' });
  };

  it('refuses a TLS private key readable by group or others, naming the key and the fix', async () => {
    const cert = makeTestCert(dir);
    chmodSync(cert.keyFile, 0o644);
    await expect(start({ port: 0, tls: { mode: 'starttls', ...cert } })).rejects.toThrow(
      new RegExp(`^listen\\[0\\]\\.tls\\.keyFile: ${cert.keyFile.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} is readable by group or others \\(mode 644\\); run: chmod 600 `),
    );
    chmodSync(cert.keyFile, 0o600);
    const ok = await start({ port: 0, tls: { mode: 'starttls', ...cert } });
    await ok.close({ graceMs: 100 });
  });

  it('the default greeting delay on the wire: a loopback listener greets at once, a wider one catches early talkers', async () => {
    const local = await start({ port: 0 });
    const open = await start({ port: 0, host: '127.0.0.1', allow: ['127.0.0.0/8', '0.0.0.0/0'] });
    try {
      const fast = await EdgeClient.connect(local.address.port, { early: 'EHLO early.talker\r\n' });
      expect(fast.greeting.code).toBe(220);
      expect((await fast.client.read()).code).toBe(250);
      await fast.client.quit();
      const slow = await EdgeClient.connect(open.address.port, { early: 'EHLO early.talker\r\n' });
      expect(slow.greeting.code).toBe(421);
      expect(slow.greeting.text).toMatch(/You talk too soon/);
      await slow.client.whenClosed();
    } finally {
      await Promise.all([local.close({ graceMs: 500 }), open.close({ graceMs: 500 })]);
    }
  });
});
