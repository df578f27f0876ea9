/**
 * The operations listener: /healthz and /readyz flip when the spool cannot be written, in
 * backpressure and during shutdown; its allow list, its answers to anything else, and a port
 * already taken.
 */
import { promises as fsp } from 'node:fs';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { startRelay } from '../src/app.js';
import { parseConfig } from '../src/config/load.js';
import { ConfigError } from '../src/errors.js';
import { Health, type HealthDeps } from '../src/ops/index.js';
import type { SpoolFs } from '../src/spool/index.js';
import { LogCapture, gmailConfig, relayEnv, waitUntil } from './support/harness.js';
import { opsUrl } from './support/prom.js';
import { SmtpClient, message } from './support/smtp-client.js';
import { TestClock } from './support/test-clock.js';

const erofs = () => Object.assign(new Error('EROFS: read-only file system, open'), { code: 'EROFS' });

async function get(url: string, init: RequestInit = {}): Promise<{ status: number; body: { status?: string; reasons?: { code: string; message: string }[] } | string }> {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, body: res.headers.get('content-type')?.startsWith('application/json') ? (JSON.parse(text) as { status: string }) : text };
}

const codes = (r: Awaited<ReturnType<typeof get>>) => (typeof r.body === 'string' ? [] : (r.body.reasons ?? []).map((x) => x.code));

describe('/healthz and /readyz', () => {
  const env = relayEnv();

  it('flip to 503 while the spool cannot be written, and back once it can', async () => {
    let readOnly = false;
    const spoolFs: Partial<SpoolFs> = {
      async open(file, flags, mode) {
        if (readOnly) throw erofs();
        return fsp.open(file, flags, mode);
      },
    };
    env.relay = await startRelay({ config: parseConfig(gmailConfig(env.dir, env.google)), logger: new LogCapture().logger, spoolFs });
    const base = opsUrl(env.relay);
    expect(await get(`${base}/healthz`)).toEqual({ status: 200, body: { status: 'ok', reasons: [] } });
    expect((await get(`${base}/readyz`)).status).toBe(200);
    readOnly = true;
    // the probe result is cached for 2 s
    await waitUntil(async () => (await get(`${base}/healthz`)).status === 503, 10_000, '/healthz 503');
    const health = await get(`${base}/healthz`);
    expect(codes(health)).toEqual(['spool.unwritable']);
    expect(JSON.stringify(health.body)).toMatch(/EROFS/);
    const ready = await get(`${base}/readyz`);
    expect(ready.status).toBe(503);
    expect(codes(ready)).toContain('spool.unwritable');
    const gauges = await (await fetch(`${base}/metrics`)).text();
    expect(gauges).toMatch(/^workspace_relay_healthy 0$/m);
    expect(gauges).toMatch(/^workspace_relay_ready 0$/m);
    readOnly = false;
    await waitUntil(async () => (await get(`${base}/healthz`)).status === 200, 10_000, '/healthz 200 again');
    expect((await get(`${base}/readyz`)).status).toBe(200);
  });

  it('/readyz is 503 in backpressure while /healthz stays 200', async () => {
    let free = 10 * 1024 * 1024;
    const doc = gmailConfig(env.dir, env.google);
    doc.queue = { ...doc.queue, minFreeSpace: '100MB' };
    env.relay = await startRelay({ config: parseConfig(doc), logger: new LogCapture().logger, freeBytes: async () => free });
    const base = opsUrl(env.relay);
    expect((await get(`${base}/healthz`)).status).toBe(200);
    const ready = await get(`${base}/readyz`);
    expect(ready.status).toBe(503);
    expect(codes(ready)).toEqual(['spool.disk_full']);
    free = 1024 ** 3;
    await waitUntil(async () => (await get(`${base}/readyz`)).status === 200, 10_000, '/readyz 200 once there is room');
  });

  it('both answer 503 while the relay shuts down, until the listener closes with the rest', async () => {
    env.relay = await startRelay({ config: parseConfig(gmailConfig(env.dir, env.google)), logger: new LogCapture().logger });
    const relay = env.relay;
    const base = opsUrl(relay);
    expect((await get(`${base}/readyz`)).status).toBe(200);
    // a DATA in progress keeps the stop waiting
    const c = await SmtpClient.open(relay.listeners[0]!.address.port);
    expect((await c.cmd('MAIL FROM:<alice@clinic.example>')).code).toBe(250);
    expect((await c.cmd('RCPT TO:<bob@clinic.example>')).code).toBe(250);
    expect((await c.cmd('DATA')).code).toBe(354);
    c.write(message({ From: 'alice@clinic.example', To: 'bob@clinic.example' }).replace(/\r\n$/, ''));
    const stopped = relay.stop();
    env.relay = undefined;
    const ready = await get(`${base}/readyz`);
    expect(ready.status).toBe(503);
    expect(codes(ready)).toContain('relay.stopping');
    const health = await get(`${base}/healthz`);
    expect(health.status).toBe(503);
    expect(codes(health)).toEqual(['relay.stopping']);
    c.write('\r\n.\r\n');
    expect((await c.read()).code).toBe(250);
    await stopped;
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
  });

  it('answers only GET and HEAD on its three paths, and only to allowed clients', async () => {
    env.relay = await startRelay({ config: parseConfig(gmailConfig(env.dir, env.google)), logger: new LogCapture().logger });
    const base = opsUrl(env.relay);
    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const head = await fetch(`${base}/metrics`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    expect((await get(`${base}/`)).status).toBe(404);
    expect((await get(`${base}/metrics/../admin`)).status).toBe(404);
    const post = await fetch(`${base}/healthz`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    await env.relay.stop();

    const doc = gmailConfig(env.dir, env.google, { http: { listen: [{ host: '127.0.0.1', port: 0, allow: ['10.0.0.0/8'] }] } });
    env.relay = await startRelay({ config: parseConfig(doc), logger: new LogCapture().logger });
    const refused = await get(`${opsUrl(env.relay)}/metrics`);
    expect(refused.status).toBe(403);
    expect(refused.body).toMatch(/http\.listen\[\]\.allow/);
  });

  it('refuses to start on a port in use, naming the key and the fix; http: null opens nothing', async () => {
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const doc = gmailConfig(env.dir, env.google, { http: { listen: [{ host: '127.0.0.1', port }] } });
      const err: unknown = await startRelay({ config: parseConfig(doc), logger: new LogCapture().logger }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).message).toMatch(new RegExp(`^http\\.listen\\[0\\]: 127\\.0\\.0\\.1:${port} is in use .*http: null`));
    } finally {
      taken.close();
    }
    // the failed start left nothing behind: the same spool starts now
    env.relay = await startRelay({ config: parseConfig(gmailConfig(env.dir, env.google, { http: null })), logger: new LogCapture().logger });
    expect(env.relay.http).toBeNull();
  });
});

describe('health checks alone', () => {
  const deps = (over: Partial<HealthDeps> = {}): HealthDeps => ({
    starting: () => false,
    probeSpool: async () => undefined,
    unboundListeners: () => [],
    stopping: () => false,
    backpressure: () => null,
    ...over,
  });

  it('while starting: 503 relay.starting, and the spool is not probed (recovery owns tmp/)', async () => {
    let probes = 0;
    const h = new Health(deps({ starting: () => true, probeSpool: async () => void probes++ }));
    expect(await h.health()).toEqual({ ok: false, reasons: [expect.objectContaining({ code: 'relay.starting' })] });
    expect((await h.readiness()).ok).toBe(false);
    expect(await h.summary()).toEqual({ healthy: false, ready: false });
    expect(probes).toBe(0);
  });

  it('a lost listener fails /healthz by name', async () => {
    const h = new Health(deps({ unboundListeners: () => ['0.0.0.0:587'] }));
    const r = await h.health();
    expect(r.reasons).toEqual([{ code: 'listener.unbound', message: expect.stringContaining('0.0.0.0:587') }]);
  });

  it('a probe that hangs fails after probeTimeoutMs, and no second probe starts beside it', async () => {
    const clock = new TestClock();
    let probes = 0;
    let finish!: () => void;
    const h = new Health(deps({ clock, cacheMs: 1_000, probeTimeoutMs: 2_000, probeSpool: () => (++probes === 1 ? new Promise<void>((r) => (finish = r)) : Promise.resolve()) }));
    const first = h.health();
    await clock.advance(2_000);
    expect((await first).reasons.map((r) => r.code)).toEqual(['spool.unwritable']);
    await clock.advance(5_000); // past the cache: still the hung probe's answer
    expect((await h.health()).reasons[0]!.message).toMatch(/longer than 2000 ms/);
    expect(probes).toBe(1);
    finish();
    await clock.tick();
    expect((await h.health()).ok).toBe(true);
    expect(probes).toBe(2);
  });
});
