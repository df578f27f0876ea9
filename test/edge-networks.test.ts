/**
 * listen[].allow: which client networks may connect (IPv4, IPv6, IPv4-mapped IPv6), and several
 * listeners with their own settings in one relay.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cidrSchema } from '../src/config/listener-schema.js';
import { clientFilter, unmapIPv4 } from '../src/smtp/client-networks.js';
import { EdgeClient, mail } from './support/edge-client.js';
import { startEdge, type EdgeEnv } from './support/edge.js';

const filter = (...cidrs: string[]) => clientFilter(cidrs.map((c) => cidrSchema.parse(c)));

describe('client networks', () => {
  it('matches IPv4 and IPv6 networks, and nothing else', () => {
    const allowed = filter('192.168.10.0/24', '10.1.2.3', 'fd00:1234::/32');
    expect(allowed('192.168.10.77')).toBe(true);
    expect(allowed('192.168.11.1')).toBe(false);
    expect(allowed('10.1.2.3')).toBe(true);
    expect(allowed('10.1.2.4')).toBe(false);
    expect(allowed('fd00:1234:abcd::1')).toBe(true);
    expect(allowed('FD00:1234::FFFF')).toBe(true);
    expect(allowed('fd00:1235::1')).toBe(false);
    expect(allowed('::1')).toBe(false);
    expect(allowed('not-an-address')).toBe(false);
    expect(allowed('')).toBe(false);
  });

  it('an IPv4 client seen as an IPv4-mapped IPv6 address matches its IPv4 network, in any spelling', () => {
    const allowed = filter('192.168.10.0/24');
    expect(allowed('::ffff:192.168.10.5')).toBe(true);
    expect(allowed('::FFFF:c0a8:0a05')).toBe(true);
    expect(allowed('0:0:0:0:0:ffff:c0a8:a05')).toBe(true);
    expect(allowed('::ffff:192.168.11.5')).toBe(false);
    expect(unmapIPv4('::ffff:7f00:1')).toBe('127.0.0.1');
    expect(unmapIPv4('fd00::1')).toBeNull();
  });

  it('an IPv4-mapped network in the list matches IPv4 clients', () => {
    const allowed = filter('::ffff:10.0.0.0/104');
    expect(allowed('10.200.0.1')).toBe(true);
    expect(allowed('11.0.0.1')).toBe(false);
  });

  it('the default is loopback only', () => {
    const allowed = clientFilter(cidrSchema.array().parse(['127.0.0.0/8', '::1/128']));
    expect(allowed('127.0.0.1')).toBe(true);
    expect(allowed('::1')).toBe(true);
    expect(allowed('::ffff:127.0.0.1')).toBe(true);
    expect(allowed('192.168.1.1')).toBe(false);
  });
});

describe('several listeners, each with its own allowed networks', () => {
  let env: EdgeEnv;
  beforeAll(async () => {
    env = await startEdge({
      listen: () => [
        { port: 0, name: 'lan', allow: ['192.168.10.0/24'] },
        { port: 0, name: 'local', greetingDelay: 0 },
        { port: 0, name: 'v6', host: '::1', allow: ['::1'], greetingDelay: 0 },
        { port: 0, name: 'dual', host: '::', allow: ['127.0.0.1'], greetingDelay: 0 },
      ],
    });
  });
  afterAll(async () => {
    await env.stop();
  });

  it('a client outside the networks gets 554 5.7.1 at connect, the connection is closed, and it is logged', async () => {
    const { client, greeting } = await EdgeClient.connect(env.ports[0]!);
    expect(greeting.code).toBe(554);
    expect(greeting.text).toBe('5.7.1 access denied: 127.0.0.1 is not in the networks allowed to use this listener');
    await client.whenClosed();
    const refused = env.logs.events('session.refused');
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ listener: 'lan', client: '127.0.0.1', reason: 'network', code: 554 });
    expect(env.logs.events('session.connect').filter((l) => l.listener === 'lan')).toHaveLength(0);
  });

  it('a client inside gets the greeting and can send, on another listener of the same relay', async () => {
    const { client } = await EdgeClient.open(env.ports[1]!);
    expect((await client.send('alice@clinic.example', ['bob@clinic.example'], mail({ From: 'alice@clinic.example', To: 'bob@clinic.example' }))).code).toBe(250);
    await client.quit();
  });

  it('IPv6: a listener on ::1 allows ::1', async () => {
    const { client, greeting } = await EdgeClient.connect(env.ports[2]!, { host: '::1' });
    expect(greeting.code).toBe(220);
    await client.quit();
    expect(env.logs.events('session.connect').some((l) => l.listener === 'v6' && l.client === '::1')).toBe(true);
  });

  it('a dual-stack listener sees an IPv4 client as ::ffff:127.0.0.1 and matches it against 127.0.0.1', async () => {
    const { client, greeting } = await EdgeClient.connect(env.ports[3]!, { host: '127.0.0.1' });
    expect(greeting.code).toBe(220);
    await client.quit();
    const refusedV6 = await EdgeClient.connect(env.ports[3]!, { host: '::1' });
    expect(refusedV6.greeting.code).toBe(554);
    refusedV6.client.destroy();
  });
});
