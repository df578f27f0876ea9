/**
 * PROXY v1 and v2 through a real HAProxy (send-proxy, send-proxy-v2): the client connects to
 * HAProxy from 127.0.0.3 (or .4), HAProxy to the relay from 127.0.0.1 (its trusted balancer), and
 * the relay's allow list (127.0.0.3, and the balancer for its checks) is decided on the address
 * HAProxy carried. HAProxy's SMTP health checks (check-send-proxy: v2 LOCAL) keep the server up.
 * Loopback only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EdgeClient, mail } from './support/edge-client.js';
import { startEdge, type EdgeEnv } from './support/edge.js';
import { freePort, waitUntil } from './support/harness.js';
import { HAPROXY_DEFAULTS, startHaproxy, type Haproxy } from './support/haproxy.js';

const MSG = mail({ From: 'alice@clinic.example', To: 'bob@clinic.example' });

describe('PROXY protocol through a real HAProxy', () => {
  let env: EdgeEnv;
  let haproxy: Haproxy;
  const front = { v1: 0, v2: 0 };
  beforeAll(async () => {
    env = await startEdge({
      // the balancer's own address is allowed too, so its SMTP health check (LOCAL) gets its 220
      listen: () => [{ port: 0, name: 'lb', allow: ['127.0.0.3', '127.0.0.1'], proxyProtocol: { trusted: ['127.0.0.1'] }, greetingDelay: 0 }],
    });
    front.v1 = await freePort();
    front.v2 = await freePort();
    const relay = `127.0.0.1:${env.ports[0]}`;
    haproxy = await startHaproxy(
      env.dir,
      `${HAPROXY_DEFAULTS}
frontend smtp_v1
  bind 127.0.0.1:${front.v1}
  default_backend relay_v1

backend relay_v1
  server relay ${relay} send-proxy

frontend smtp_v2
  bind 127.0.0.1:${front.v2}
  default_backend relay_v2

backend relay_v2
  option smtpchk EHLO haproxy.test
  server relay ${relay} send-proxy-v2 check check-send-proxy inter 300ms
`,
      [front.v1, front.v2],
    );
  }, 30_000);
  afterAll(async () => {
    await haproxy?.stop();
    await env?.stop();
  });

  it.each(['v1', 'v2'] as const)('%s: the client at 127.0.0.3 is allowed, logged as itself, and its mail delivered', async (v) => {
    const before = env.google.fake.sent.length;
    const { client, greeting } = await EdgeClient.connect(front[v], { localAddress: '127.0.0.3' });
    expect(greeting.code).toBe(220);
    await client.cmd('EHLO device.test');
    expect((await client.send('alice@clinic.example', ['bob@clinic.example'], MSG)).code).toBe(250);
    await client.quit();
    await waitUntil(() => env.google.fake.sent.length > before, 15_000, 'delivery');
    const accepted = env.logs.events('message.accepted').at(-1)!;
    expect(accepted).toMatchObject({ client: '127.0.0.3' });
  });

  it.each(['v1', 'v2'] as const)('%s: the client at 127.0.0.4 is refused by allow, although HAProxy (127.0.0.1) is trusted', async (v) => {
    const { client, greeting } = await EdgeClient.connect(front[v], { localAddress: '127.0.0.4' });
    expect(greeting.code).toBe(554);
    expect(greeting.text).toBe('5.7.1 access denied: 127.0.0.4 is not in the networks allowed to use this listener');
    await client.whenClosed();
  });

  it('a client going around HAProxy straight to the relay is refused', async () => {
    const { client, greeting } = await EdgeClient.connect(env.ports[0]!, { localAddress: '127.0.0.3' });
    expect(greeting.code).toBe(554);
    await client.whenClosed();
    expect(env.logs.events('proxy.untrusted_peer').at(-1)).toMatchObject({ peer: '127.0.0.3' });
  });

  it("HAProxy's health checks arrive as v2 LOCAL and are served as the balancer", async () => {
    await waitUntil(() => env.logs.events('proxy.local').length > 1, 10_000, 'health checks');
    expect(env.logs.events('proxy.local').at(-1)).toMatchObject({ peer: '127.0.0.1', version: 2 });
    expect(env.logs.events('proxy.header_invalid')).toEqual([]);
    expect(env.logs.events('proxy.header_missing')).toEqual([]);
    // the checks pass: HAProxy keeps sending clients to the relay
    const { client, greeting } = await EdgeClient.connect(front.v2, { localAddress: '127.0.0.3' });
    expect(greeting.code).toBe(220);
    await client.quit();
  });
});
