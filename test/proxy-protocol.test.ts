/**
 * listen[].proxyProtocol on a real relay, with the headers a balancer writes (v1, v2), sent by
 * the test from 127.0.0.1 (the trusted balancer): the carried client address decides allow, the
 * per-client limits and the login throttle, and is what the logs and the spool record; a peer that is not trusted,
 * a trusted one without a header, and a broken header are each dropped and logged; an implicit
 * TLS listener reads the header before its handshake. (Through a real HAProxy: haproxy.test.ts.)
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { EdgeClient, b64, mail } from './support/edge-client.js';
import { deviceHash, startEdge, type EdgeEnv } from './support/edge.js';
import { waitUntil } from './support/harness.js';
import { proxyV1, proxyV2 } from './support/proxy-header.js';

const MSG = mail({ From: 'alice@clinic.example', To: 'bob@clinic.example' });

describe('PROXY protocol on a listener', () => {
  let env: EdgeEnv;
  beforeAll(async () => {
    env = await startEdge({
      limits: { commandTimeout: '1s' },
      listen: (cert) => [
        // devices at 192.0.2.0/24 reach the relay only through the balancer at 127.0.0.1
        { port: 0, name: 'lb', allow: ['192.0.2.0/24', '2001:db8::/32'], proxyProtocol: { trusted: ['127.0.0.1/32'] }, maxConnectionsPerClient: 1, greetingDelay: 0 },
        {
          port: 0, name: 'lbtls', allow: ['192.0.2.0/24'], proxyProtocol: { trusted: ['127.0.0.0/8'] },
          tls: { mode: 'implicit', certFile: cert.certFile, keyFile: cert.keyFile }, greetingDelay: 0,
        },
        { port: 0, name: 'lbself', allow: ['127.0.0.1'], proxyProtocol: { trusted: ['127.0.0.1'] }, greetingDelay: 0 },
      ],
    });
  });
  afterAll(async () => {
    await env?.stop();
  });

  it.each([
    ['v1', proxyV1('192.0.2.7', 50001)],
    ['v2', proxyV2('192.0.2.7', 50002)],
  ])('%s: the session is the carried client: allowed, logged and spooled as 192.0.2.7', async (_v, header) => {
    const before = env.google.fake.sent.length;
    const { client, greeting } = await EdgeClient.connect(env.ports[0]!, { proxy: header });
    expect(greeting.code).toBe(220);
    await client.cmd('EHLO device.test');
    expect((await client.send('alice@clinic.example', ['bob@clinic.example'], MSG)).code).toBe(250);
    await client.quit();
    const accepted = env.logs.events('message.accepted').at(-1)!;
    expect(accepted.client).toBe('192.0.2.7');
    await waitUntil(() => env.google.fake.sent.length > before, 15_000, 'delivery');
    expect(env.logs.events('session.connect').at(-1)).toMatchObject({ listener: 'lb', client: '192.0.2.7' });
  });

  it('IPv6 clients through a v2 header', async () => {
    const { client, greeting } = await EdgeClient.connect(env.ports[0]!, { proxy: proxyV2('2001:db8::42', 1) });
    expect(greeting.code).toBe(220);
    await client.quit();
    expect(env.logs.events('session.connect').at(-1)).toMatchObject({ listener: 'lb', client: '2001:db8::42' });
  });

  it.each([
    ['v1', proxyV1('198.51.100.9')],
    ['v2', proxyV2('198.51.100.9')],
  ])('%s: allow is decided on the carried address: 198.51.100.9 is refused although the balancer is loopback', async (_v, header) => {
    const { client, greeting } = await EdgeClient.connect(env.ports[0]!, { proxy: header });
    expect(greeting.code).toBe(554);
    expect(greeting.text).toBe('5.7.1 access denied: 198.51.100.9 is not in the networks allowed to use this listener');
    await client.whenClosed();
  });

  it('maxConnectionsPerClient counts the carried address, not the balancer', async () => {
    const first = await EdgeClient.connect(env.ports[0]!, { proxy: proxyV2('192.0.2.20') });
    expect(first.greeting.code).toBe(220);
    const second = await EdgeClient.connect(env.ports[0]!, { proxy: proxyV1('192.0.2.20') });
    expect(second.greeting.code).toBe(421);
    expect(second.greeting.text).toBe('4.7.0 too many connections from 192.0.2.20, try again later');
    const other = await EdgeClient.connect(env.ports[0]!, { proxy: proxyV1('192.0.2.21') });
    expect(other.greeting.code).toBe(220);
    await Promise.all([first.client.quit(), other.client.quit(), second.client.whenClosed()]);
  });

  it('a peer not in proxyProtocol.trusted is refused, with a header or without', async () => {
    for (const proxy of [undefined, proxyV1('192.0.2.7'), proxyV2('192.0.2.7')]) {
      const { client, greeting } = await EdgeClient.connect(env.ports[0]!, { localAddress: '127.0.0.2', ...(proxy ? { proxy } : {}) });
      expect(greeting.code).toBe(554);
      expect(greeting.text).toBe('5.7.1 this listener takes connections only through its load balancer');
      await client.whenClosed();
    }
    expect(env.logs.events('proxy.untrusted_peer').slice(-3)).toEqual(
      Array(3).fill(expect.objectContaining({ listener: 'lb', peer: '127.0.0.2', reason: 'not in proxyProtocol.trusted' })),
    );
  });

  it('a trusted balancer that sends no header gets 421 4.7.0 after limits.commandTimeout, and it is logged', async () => {
    const { client, greeting } = await EdgeClient.connect(env.ports[0]!);
    expect(greeting.code).toBe(421);
    expect(greeting.text).toBe('4.7.0 no PROXY protocol header from the load balancer, closing connection');
    await client.whenClosed();
    expect(env.logs.events('proxy.header_missing').at(-1)).toMatchObject({ listener: 'lb', peer: '127.0.0.1' });
  });

  it('a broken header is dropped without a reply, logged with its reason, and the relay goes on', async () => {
    const cases: [Buffer, string][] = [
      [Buffer.from('EHLO x\r\n'), 'not a PROXY protocol header'],
      [Buffer.from('PROXY TCP4 evil.example 127.0.0.1 1 2\r\n'), 'v1 addresses are not IPv4'],
      [Buffer.concat([proxyV2('192.0.2.7').subarray(0, 12), Buffer.from([0x21, 0x31, 0, 12]), Buffer.alloc(12)]), 'v2 address family is not IPv4 or IPv6'],
    ];
    for (const [bytes, reason] of cases) {
      const { client, greeting } = await EdgeClient.connect(env.ports[0]!, { proxy: bytes }).catch(() => ({ client: null, greeting: null }));
      expect(greeting).toBeNull();
      expect(client).toBeNull();
      expect(env.logs.events('proxy.header_invalid').at(-1)).toMatchObject({ listener: 'lb', peer: '127.0.0.1', reason });
    }
    // a header cut short and then silence: timed out
    const cut = await EdgeClient.connect(env.ports[0]!, { proxy: proxyV2('192.0.2.7').subarray(0, 20) }).catch(() => null);
    expect(cut?.greeting.code).toBe(421);
    expect(env.logs.events('proxy.header_timeout').at(-1)).toMatchObject({ listener: 'lb', peer: '127.0.0.1' });
    const { client, greeting } = await EdgeClient.connect(env.ports[0]!, { proxy: proxyV1('192.0.2.8') });
    expect(greeting.code).toBe(220);
    await client.quit();
  });

  it('a header written a byte at a time is read whole', async () => {
    const header = proxyV2('192.0.2.9', 7);
    const socket = net.connect({ port: env.ports[0]!, host: '127.0.0.1' });
    await new Promise((resolve) => socket.once('connect', resolve));
    let got = '';
    socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
    for (const byte of header) {
      socket.write(Buffer.from([byte]));
      await new Promise((r) => setTimeout(r, 2));
    }
    await waitUntil(() => got.includes('\r\n'), 5_000, 'the greeting');
    expect(got).toMatch(/^220 /);
    socket.destroy();
    expect(env.logs.events('session.connect').at(-1)).toMatchObject({ client: '192.0.2.9' });
  });

  it('implicit TLS: the header comes before the handshake, and the session over TLS is the carried client', async () => {
    const { client, greeting } = await EdgeClient.connect(env.ports[1]!, { proxy: proxyV2('192.0.2.30'), tls: {} });
    expect(greeting.code).toBe(220);
    expect(client.tlsProtocol).toMatch(/^TLSv1\.[23]$/);
    expect((await client.cmd('EHLO device.test')).code).toBe(250);
    expect((await client.send('alice@clinic.example', ['bob@clinic.example'], MSG)).code).toBe(250);
    await client.quit();
    expect(env.logs.events('session.connect').at(-1)).toMatchObject({ listener: 'lbtls', client: '192.0.2.30', secure: true });
  });

  it("LOCAL (the balancer's health check) is served as the balancer itself", async () => {
    for (const proxy of [proxyV2('0.0.0.0', 0, { command: 'LOCAL', family: 'UNSPEC' }), Buffer.from('PROXY UNKNOWN\r\n')]) {
      const { client, greeting } = await EdgeClient.connect(env.ports[2]!, { proxy });
      expect(greeting.code).toBe(220);
      await client.quit();
      expect(env.logs.events('session.connect').at(-1)).toMatchObject({ listener: 'lbself', client: '127.0.0.1' });
    }
  });


  it('a reload turns proxyProtocol on or off for the next connection', async () => {
    const listen = env.config.listen.map((l) => ({ ...l }));
    const plain = { ...listen[2]!, proxyProtocol: undefined };
    await env.relay.reload({ ...env.config, listen: [listen[0]!, listen[1]!, plain] });
    const direct = await EdgeClient.connect(env.ports[2]!);
    expect(direct.greeting.code).toBe(220);
    await direct.client.quit();
    await env.relay.reload({ ...env.config, listen });
    const proxied = await EdgeClient.connect(env.ports[2]!, { proxy: proxyV1('127.0.0.1') });
    expect(proxied.greeting.code).toBe(220);
    await proxied.client.quit();
    expect(env.logs.events('proxy.client').at(-1)).toMatchObject({ listener: 'lbself', client: '127.0.0.1' });
  });
});

describe('proxyProtocol in the config', () => {
  const base = { workspaces: [{ name: 'c', domains: ['c.example'], transport: 'gmail-api' as const, gmailApi: { serviceAccountKeyFile: '/k.json' } }], queue: { dir: '/tmp/spool' } };
  it.each([
    [{ trusted: [] }, 'listen[0].proxyProtocol.trusted: list the load balancers\' addresses, e.g. ["10.0.0.2/32"]; or remove proxyProtocol'],
    [{ trusted: ['0.0.0.0/0'] }, 'listen[0].proxyProtocol.trusted[0]: trusting every address lets any client choose the address the relay sees: list the balancers only'],
    [{ trusted: ['10.0.0.0/33'] }, 'listen[0].proxyProtocol.trusted[0]: "10.0.0.0/33" is not a network'],
    [{ trusted: ['10.0.0.2'], send: 'v2' }, 'listen[0].proxyProtocol: unknown key send'],
  ])('%j is refused, naming the key and the fix', (proxyProtocol, message) => {
    expect(() => parseConfig({ ...base, listen: [{ port: 25, proxyProtocol }] })).toThrow(message);
  });

  it('the balancers as networks, IPv4 and IPv6', () => {
    const config = parseConfig({ ...base, listen: [{ port: 25, proxyProtocol: { trusted: ['10.0.0.2', 'fd00::/64'] } }] });
    expect(config.listen[0]!.proxyProtocol!.trusted.map((n) => n.text)).toEqual(['10.0.0.2/32', 'fd00::/64']);
  });
});

describe('the login throttle behind a balancer', () => {
  let env: EdgeEnv;
  beforeAll(async () => {
    env = await startEdge({
      listen: () => [{ port: 0, allow: ['192.0.2.0/24'], proxyProtocol: { trusted: ['127.0.0.1'] }, auth: { allowPlaintext: true }, greetingDelay: 0 }],
      devices: [{ username: 'ehr', passwordHash: await deviceHash('right'), workspace: 'clinic' }],
      auth: { throttle: { failures: 3, addressFailures: 10, window: '10m', block: '10m' } },
    });
  });
  afterAll(async () => {
    await env?.stop();
  });

  async function login(client: string, pass: string) {
    const { client: c, greeting } = await EdgeClient.connect(env.ports[0]!, { proxy: proxyV2(client) });
    expect(greeting.code).toBe(220);
    await c.cmd('EHLO device.test');
    const r = await c.cmd(`AUTH PLAIN ${b64(`\0ehr\0${pass}`)}`);
    await c.quit();
    return r;
  }

  it('counts failures per carried client: one guesser is blocked, a device at another address behind the same balancer is not', async () => {
    for (let i = 0; i < 3; i++) expect((await login('192.0.2.50', `wrong-${i}`)).code).toBe(535);
    expect((await login('192.0.2.50', 'right')).code).toBe(454);
    expect((await login('192.0.2.51', 'right')).code).toBe(235);
    expect(env.logs.events('auth.throttled').at(-1)).toMatchObject({ client: '192.0.2.50' });
  });
});
