/** Gmail's per-user limits, as the relay meets them: 429 storms and the daily count. */
import { describe, expect, it } from 'vitest';
import type { ConfigInput } from '../src/config/index.js';
import { SmtpClient, message } from './support/smtp-client.js';
import { relayEnv, LogCapture, gmailConfig, startTestRelay, waitUntil } from './support/harness.js';

describe('pacing under Gmail limits', () => {
  const env = relayEnv();

  async function sendFrom(port: number, from: string, n: number, tag: string) {
    const c = await SmtpClient.open(port);
    for (let i = 0; i < n; i++) {
      const r = await c.send(from, ['bob@clinic.example'], message({ From: from, To: 'bob@clinic.example', 'Message-ID': `<${tag}${i}@x>` }));
      expect(r.code).toBe(250);
    }
    await c.quit();
  }

  it('a 429 storm for one user: nothing lost, no send before the stated time, other users keep flowing', async () => {
    const doc: ConfigInput = gmailConfig(env.dir, env.google);
    let logs: LogCapture;
    let port: number;
    ({ relay: env.relay, logs, port } = await startTestRelay(doc));
    const until = Date.now() + 2_500;
    env.google.fake.rateLimitUser('scans@clinic.example', until);
    await sendFrom(port, 'scans@clinic.example', 20, 'scan');
    await sendFrom(port, 'alice@clinic.example', 5, 'alice');
    // alice's mail goes out while the scanner user is paused
    await waitUntil(() => env.google.fake.sent.filter((s) => s.user === 'alice@clinic.example').length === 5, 5_000, "alice's mail");
    expect(Date.now()).toBeLessThan(until);
    await waitUntil(() => env.google.fake.sent.filter((s) => s.user === 'scans@clinic.example').length === 20, 15_000, 'all scans');
    // the pause was honoured: one refused request (not one per message), nothing sent before the stated time
    expect(env.google.fake.rateLimited.length).toBeLessThanOrEqual(2);
    for (const s of env.google.fake.sent.filter((x) => x.user === 'scans@clinic.example')) expect(s.receivedAt).toBeGreaterThanOrEqual(until);
    expect(env.google.fake.sentByMessageId().size).toBe(25);
    expect(logs.events('delivery.deferred').some((l) => l.code === 'delivery.rate_limited')).toBe(true);
    expect(await env.relay.spool.list('dead')).toHaveLength(0);
  });

  for (const [name, stated] of [
    ['in the past', new Date(Date.now() - 3_600_000).toISOString()],
    ['malformed', 'tomorrow-ish'],
  ] as const) {
    it(`backs off instead of spinning when the stated time is ${name}`, async () => {
      const doc = gmailConfig(env.dir, env.google);
      // one send at a time, so no other send is in flight when Google lifts the limit
      doc.queue = { ...doc.queue, rateLimitBackoff: '1s', perUserConcurrency: 1 };
      let port: number;
      ({ relay: env.relay, port } = await startTestRelay(doc));
      env.google.fake.rateLimitUser('scans@clinic.example', Date.now() + 60_000, stated);
      await sendFrom(port, 'scans@clinic.example', 3, 'b');
      await waitUntil(() => env.google.fake.rateLimited.length > 0, 10_000, 'the first refusal');
      env.google.fake.rateLimitUser('scans@clinic.example', 0, stated); // lifted at once: only the backoff holds the relay now
      await waitUntil(() => env.google.fake.sent.length === 3, 10_000, 'delivered after the backoff');
      const first = env.google.fake.rateLimited[0]!.at;
      // one refusal, then nothing until the backoff has run (Google lifted the limit at once)
      expect(env.google.fake.rateLimited).toHaveLength(1);
      expect(Math.min(...env.google.fake.sent.map((s) => s.receivedAt)) - first).toBeGreaterThanOrEqual(950);
    });
  }

  it('holds a user at its daily limit with a warning, across a restart, while others flow', async () => {
    const doc = gmailConfig(env.dir, env.google);
    doc.queue = { ...doc.queue, dailyMessages: 3 };
    let logs: LogCapture;
    let port: number;
    ({ relay: env.relay, logs, port } = await startTestRelay(doc));
    await sendFrom(port, 'scans@clinic.example', 5, 'd');
    await waitUntil(() => env.google.fake.sent.length === 3, 15_000, 'three sends');
    const warn = await logs.waitFor('pace.daily_limit');
    expect(warn[0]).toMatchObject({ level: 'warn', sender: 'scans@clinic.example', messages: 3 });
    await env.relay.stop();
    ({ relay: env.relay, logs, port } = await startTestRelay(doc));
    await sendFrom(port, 'alice@clinic.example', 1, 'a');
    await waitUntil(() => env.google.fake.sent.some((s) => s.user === 'alice@clinic.example'), 15_000, "alice's mail");
    await logs.waitFor('pace.daily_limit');
    expect(env.google.fake.sent.filter((s) => s.user === 'scans@clinic.example')).toHaveLength(3);
    expect(await env.relay.spool.count('queue')).toBe(2);
  });

  it('keeps each user at its configured pace', async () => {
    const doc = gmailConfig(env.dir, env.google);
    doc.queue = { ...doc.queue, userRate: 5 };
    let port: number;
    ({ relay: env.relay, port } = await startTestRelay(doc));
    const before = Date.now();
    await sendFrom(port, 'scans@clinic.example', 11, 'p');
    await waitUntil(() => env.google.fake.sent.length === 11, 10_000, 'all sent');
    const last = Math.max(...env.google.fake.sent.map((s) => s.receivedAt));
    // a burst of 5, then one per 200 ms: the 6 more take at least 1.2 s from the first send, which
    // was no earlier than `before` (measured from there, a slow first token fetch cannot hide it)
    expect(last - before).toBeGreaterThanOrEqual(1_150);
  });
});
