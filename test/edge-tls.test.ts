/**
 * TLS at the edge: STARTTLS only where configured, implicit TLS, AUTH only after TLS, the
 * minimum protocol version (TLS 1.0 only for a named legacy device), and reload of the
 * certificate and settings without rebinding.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ListenerConfig } from '../src/config/index.js';
import { EdgeClient, b64 } from './support/edge-client.js';
import { deviceHash, startEdge, type EdgeEnv } from './support/edge.js';
import { makeTestCert } from './support/tls.js';

const TLS1_ONLY = { minVersion: 'TLSv1', maxVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' } as const;
const plain = (user: string, pass: string) => b64(`\0${user}\0${pass}`);
const fingerprint = (file: string) => new X509Certificate(readFileSync(file)).fingerprint256;

describe('TLS and AUTH at the edge', () => {
  let env: EdgeEnv;
  let starttls: number;
  let implicit: number;
  let none: number;
  let legacy: number;
  let starttlsPlainAuth: number;

  beforeAll(async () => {
    env = await startEdge({
      listen: (cert) => [
        { port: 0, name: 'lan', tls: { mode: 'starttls', ...cert }, greetingDelay: 0 },
        { port: 0, tls: { mode: 'implicit', ...cert }, greetingDelay: 0 },
        { port: 0, tls: { mode: 'none' }, greetingDelay: 0 },
        { port: 0, name: 'old-fax', tls: { mode: 'implicit', ...cert, minVersion: 'TLSv1', legacyDevice: 'Fax 3000 in room 2' }, greetingDelay: 0 },
        { port: 0, tls: { mode: 'starttls', ...cert }, auth: { allowPlaintext: true }, greetingDelay: 0 },
      ],
      devices: [{ username: 'ehr', passwordHash: await deviceHash('pw'), workspace: 'clinic' }],
    });
    [starttls, implicit, none, legacy, starttlsPlainAuth] = env.ports as [number, number, number, number, number];
  });
  afterAll(async () => {
    await env.stop();
  });

  it('STARTTLS listener: STARTTLS and no AUTH before TLS; AUTH after, not STARTTLS again', async () => {
    const { client, ehlo } = await EdgeClient.open(starttls);
    expect(ehlo.lines).toContain('STARTTLS');
    expect(ehlo.lines.join(' ')).not.toMatch(/AUTH/);
    const early = await client.cmd(`AUTH PLAIN ${plain('ehr', 'pw')}`);
    expect(early.code).toBe(500);
    expect(early.text).toMatch(/^5\.5\.2 /);
    expect((await client.cmd('MAIL FROM:<alice@clinic.example>')).code).toBe(250);
    const after = await client.starttls();
    expect(client.tlsProtocol).toBe('TLSv1.3');
    expect(after.lines).toContain('AUTH PLAIN LOGIN');
    expect(after.lines).not.toContain('STARTTLS');
    expect((await client.cmd(`AUTH PLAIN ${plain('ehr', 'pw')}`)).code).toBe(235);
    await client.quit();
    expect(env.logs.events('session.tls').at(-1)).toMatchObject({ protocol: 'TLSv1.3' });
  });

  it('implicit TLS: the greeting comes over TLS, AUTH is offered, STARTTLS is not', async () => {
    const { client, ehlo } = await EdgeClient.open(implicit, { tls: { ca: readFileSync(env.cert.certFile) } });
    expect(client.tlsProtocol).toBe('TLSv1.3');
    expect(ehlo.lines).toContain('AUTH PLAIN LOGIN');
    expect(ehlo.lines).not.toContain('STARTTLS');
    expect(client.peerCertificate?.fingerprint256).toBe(fingerprint(env.cert.certFile));
    await client.quit();
  });

  it('no TLS: neither STARTTLS nor AUTH is offered, and STARTTLS is not accepted (no built-in certificate)', async () => {
    const { client, ehlo } = await EdgeClient.open(none);
    expect(ehlo.lines.join(' ')).not.toMatch(/STARTTLS|AUTH/);
    expect((await client.cmd('STARTTLS')).code).toBe(500);
    expect((await client.cmd(`AUTH PLAIN ${plain('ehr', 'pw')}`)).code).toBe(500);
    expect((await client.cmd('NOOP')).code).toBe(250); // still talking plain SMTP
    await client.quit();
  });

  it('auth.allowPlaintext on a STARTTLS listener offers AUTH before TLS', async () => {
    const { client, ehlo } = await EdgeClient.open(starttlsPlainAuth);
    expect(ehlo.lines).toEqual(expect.arrayContaining(['STARTTLS', 'AUTH PLAIN LOGIN']));
    expect((await client.cmd(`AUTH PLAIN ${plain('ehr', 'pw')}`)).code).toBe(235);
    await client.quit();
  });

  it('a TLS 1.0-only client is refused by default (implicit and STARTTLS)', async () => {
    await expect(EdgeClient.connect(implicit, { tls: TLS1_ONLY })).rejects.toThrow(/protocol|version|alert/i);
    const { client } = await EdgeClient.open(starttls);
    await expect(client.starttls(TLS1_ONLY)).rejects.toThrow(/protocol|version|alert/i);
    client.destroy();
  });

  it('a TLS 1.0-only client is accepted where the admin opted in for a named device, with a warning at start', async () => {
    const { client, ehlo } = await EdgeClient.open(legacy, { tls: TLS1_ONLY });
    expect(client.tlsProtocol).toBe('TLSv1');
    expect(ehlo.code).toBe(250);
    expect((await client.cmd(`AUTH LOGIN ${b64('ehr')}`)).code).toBe(334);
    expect((await client.cmd(b64('pw'))).code).toBe(235);
    await client.quit();
    const warn = env.logs.events('tls.legacy_enabled');
    expect(warn).toHaveLength(1);
    expect(warn[0]).toMatchObject({ level: 'warn', listener: 'old-fax', minVersion: 'TLSv1', device: 'Fax 3000 in room 2' });
    expect(env.logs.events('session.tls').some((l) => l.protocol === 'TLSv1')).toBe(true);
  });

  describe('reload', () => {
    it('presents a new certificate to new clients; a bad file is refused and the old one kept', async () => {
      const listener = env.relay.listeners[1]!;
      const before: ListenerConfig = env.config.listen[1]!;
      const next = makeTestCert(env.dir, 'renewed');
      expect(fingerprint(next.certFile)).not.toBe(fingerprint(env.cert.certFile));
      const { client: old } = await EdgeClient.open(implicit, { tls: {} });
      listener.reload({ ...before, tls: { ...before.tls, certFile: next.certFile, keyFile: next.keyFile } });
      const { client: fresh } = await EdgeClient.open(implicit, { tls: {} });
      expect(fresh.peerCertificate?.fingerprint256).toBe(fingerprint(next.certFile));
      expect((await old.cmd('NOOP')).code).toBe(250); // sessions already open go on
      await Promise.all([old.quit(), fresh.quit()]);

      expect(() => listener.reload({ ...before, tls: { ...before.tls, certFile: `${env.dir}/missing.pem` } })).toThrow(/tls\.certFile: cannot read .*missing\.pem/);
      expect(() => listener.reload({ ...before, tls: { ...before.tls, certFile: env.cert.certFile, keyFile: next.keyFile } })).toThrow(/not a usable PEM pair/);
      expect(() => listener.reload({ ...before, port: 1 })).toThrow(/host, port or tls\.mode changed/);
      const { client: after } = await EdgeClient.open(implicit, { tls: {} });
      expect(after.peerCertificate?.fingerprint256).toBe(fingerprint(next.certFile));
      await after.quit();
      expect(env.logs.events('listener.reloaded')).toHaveLength(1);
    });

    it('applies a new minimum TLS version and client networks without rebinding', async () => {
      const listener = env.relay.listeners[1]!;
      const before = env.config.listen[1]!;
      listener.reload({ ...before, tls: { ...before.tls, minVersion: 'TLSv1', legacyDevice: 'label printer' } });
      const { client } = await EdgeClient.open(implicit, { tls: TLS1_ONLY });
      expect(client.tlsProtocol).toBe('TLSv1');
      await client.quit();
      expect(env.logs.events('tls.legacy_enabled').at(-1)).toMatchObject({ device: 'label printer' });

      listener.reload({ ...before, allow: [{ address: '10.0.0.0', prefix: 8, family: 'ipv4', text: '10.0.0.0/8' }] });
      const refused = await EdgeClient.connect(implicit, { tls: {} });
      expect(refused.greeting.code).toBe(554);
      await expect(EdgeClient.connect(implicit, { tls: TLS1_ONLY })).rejects.toThrow(/protocol|version|alert/i);
      listener.reload(before);
      const back = await EdgeClient.open(implicit, { tls: {} });
      expect(back.ehlo.code).toBe(250);
      await back.client.quit();
      expect(listener.address.port).toBe(implicit);
    });
  });
});
