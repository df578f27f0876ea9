/**
 * /metrics of a running relay: each counter moves by the right amount, with the right labels,
 * as messages are accepted, refused, delivered, deferred by a 429 and held by a delegation error
 * (attempts run in the delivery thread: their outcomes are counted in the daemon's thread).
 */
import { describe, expect, it } from 'vitest';
import { EdgeClient, b64 } from './support/edge-client.js';
import { deviceHash } from './support/edge.js';
import { rateLimitError } from './support/fake-google.js';
import { gmailConfig, relayEnv, startTestRelay, waitUntil, type LogCapture } from './support/harness.js';
import { scrape } from './support/prom.js';
import { SmtpClient, message, queueIdOf } from './support/smtp-client.js';
import { GMAIL_SEND_SCOPE } from '../src/config/schema.js';

describe('metrics', () => {
  const env = relayEnv();

  it('counts accepted, refused, delivered, rate-limited and held mail with workspace, listener and transport labels', async () => {
    const doc = gmailConfig(env.dir, env.google, { listen: [{ host: '127.0.0.1', port: 0, name: 'lan' }] });
    // A held message waits for an admin (retried now by hand below), not for the timer.
    doc.queue = { ...doc.queue, heldRetry: '1h' };
    let logs: LogCapture;
    let port: number;
    ({ relay: env.relay, logs, port } = await startTestRelay(doc));
    const relay = env.relay;
    const ws = { workspace: 'clinic' };

    const start = await scrape(relay);
    for (const state of ['queue', 'active', 'hold', 'dead']) expect(start.total('workspace_relay_queue_messages', { ...ws, state })).toBe(0);
    expect(start.total('workspace_relay_queue_oldest_seconds', ws)).toBe(0);
    expect(start.families.has('workspace_relay_messages_accepted_total')).toBe(true);
    expect(start.families.has('process_cpu_user_seconds_total')).toBe(true);
    expect(start.families.has('nodejs_eventloop_lag_seconds')).toBe(true);

    // accepted and delivered
    const c = await SmtpClient.open(port);
    expect((await scrape(relay)).total('workspace_relay_smtp_sessions', { listener: 'lan' })).toBe(1);
    const first = message({ From: 'alice@clinic.example', To: 'bob@clinic.example' });
    expect((await c.send('alice@clinic.example', ['bob@clinic.example'], first)).code).toBe(250);
    // refused at RCPT: outside the workspace
    expect((await c.send('alice@clinic.example', ['someone@outside.example'], first)).code).toBe(550);
    await logs.waitFor('delivery.ok');
    let m = await scrape(relay);
    expect(m.total('workspace_relay_messages_accepted_total', { ...ws, listener: 'lan' })).toBe(1);
    expect(m.total('workspace_relay_messages_rejected_total', { reason: 'policy.recipient_refused', ...ws, listener: 'lan' })).toBe(1);
    expect(m.total('workspace_relay_messages_rejected_total')).toBe(1);
    expect(m.total('workspace_relay_messages_delivered_total', { ...ws, transport: 'gmail-api' })).toBe(1);
    expect(m.total('workspace_relay_delivery_seconds_count', { ...ws, transport: 'gmail-api' })).toBe(1);
    expect(m.total('workspace_relay_message_bytes_count', ws)).toBe(1);
    expect(m.total('workspace_relay_message_bytes_sum', ws)).toBe(Buffer.byteLength(first));
    expect(m.total('workspace_relay_delivery_failures_total')).toBe(0);

    // deferred by a 429: one temporary failure, one rate-limit answer, the user paused, then delivered
    env.google.fake.failNext(rateLimitError(new Date(Date.now() + 2_000)));
    expect((await c.send('bob@clinic.example', ['alice@clinic.example'], message({ From: 'bob@clinic.example', To: 'alice@clinic.example' }))).code).toBe(250);
    await logs.waitFor('delivery.deferred');
    m = await scrape(relay);
    expect(m.total('workspace_relay_delivery_failures_total', { ...ws, kind: 'temporary', code: 'delivery.rate_limited' })).toBe(1);
    expect(m.total('workspace_relay_delivery_failures_total')).toBe(1);
    expect(m.total('workspace_relay_google_rate_limited_total', ws)).toBe(1);
    expect(m.total('workspace_relay_users_paused', { ...ws, reason: 'rate_limited' })).toBe(1);
    // and its pace halved: slowed until clean answers bring it back up
    expect(m.total('workspace_relay_users_slowed', ws)).toBe(1);
    expect(m.total('workspace_relay_queue_messages', { ...ws, state: 'queue' })).toBe(1);
    await logs.waitFor('delivery.ok', 2);
    m = await scrape(relay);
    expect(m.total('workspace_relay_messages_delivered_total', { ...ws, transport: 'gmail-api' })).toBe(2);
    expect(m.total('workspace_relay_users_paused', { ...ws, reason: 'rate_limited' })).toBe(0);

    // held by a delegation error: a held failure with its code, the message counted as held
    env.google.fake.revoke(env.google.sa.clientId);
    const held = await c.send('scans@clinic.example', ['alice@clinic.example'], message({ From: 'scans@clinic.example', To: 'alice@clinic.example' }));
    expect(held.code).toBe(250);
    await logs.waitFor('delivery.held');
    m = await scrape(relay);
    expect(m.total('workspace_relay_delivery_failures_total', { ...ws, kind: 'held', code: 'delivery.token.no_send_scope' })).toBe(1);
    expect(m.total('workspace_relay_delivery_failures_total')).toBe(2);
    expect(m.total('workspace_relay_messages_held', { ...ws, code: 'delivery.token.no_send_scope' })).toBe(1);
    expect(m.total('workspace_relay_queue_messages', { ...ws, state: 'queue' })).toBe(1);
    await waitUntil(async () => (await scrape(relay)).total('workspace_relay_queue_oldest_seconds', ws) > 0, 5_000, 'the queue to age');

    // fixed: retried now, delivered; nothing waits any more
    env.google.fake.authorize(env.google.sa.clientId, [GMAIL_SEND_SCOPE]);
    expect(relay.scheduler.retryNow(queueIdOf(held))).toBe(true);
    await logs.waitFor('delivery.ok', 3);
    await c.quit();
    m = await scrape(relay);
    expect(m.total('workspace_relay_messages_accepted_total', { ...ws, listener: 'lan' })).toBe(3);
    expect(m.total('workspace_relay_messages_delivered_total', { ...ws, transport: 'gmail-api' })).toBe(3);
    expect(m.total('workspace_relay_delivery_seconds_count')).toBe(3);
    expect(m.total('workspace_relay_messages_held')).toBe(0);
    expect(m.total('workspace_relay_messages_dead_total')).toBe(0);
    expect(m.total('workspace_relay_queue_messages', { ...ws, state: 'queue' })).toBe(0);
    expect(m.total('workspace_relay_queue_oldest_seconds', ws)).toBe(0);
    // never a user, subject or Message-ID in a label
    const text = await (await fetch(`http://127.0.0.1:${relay.http!.addresses[0]!.port}/metrics`)).text();
    expect(text).not.toMatch(/alice@|bob@|scans@|@test\.client/);
  });

  it('counts a message moved to dead/, refused logins and refused connections', async () => {
    const hash = await deviceHash('right-pw');
    const doc = gmailConfig(env.dir, env.google, {
      listen: [
        { host: '127.0.0.1', port: 0, name: 'devices', auth: { allowPlaintext: true }, greetingDelay: 0 },
        { host: '127.0.0.1', port: 0, name: 'far', allow: ['10.0.0.0/8'], greetingDelay: 0 },
      ],
      devices: [{ username: 'scanner', passwordHash: hash, workspace: 'clinic' }],
    });
    env.google.fake.addUser('postmaster@clinic.example'); // the failure notice goes out as postmaster
    let logs: LogCapture;
    ({ relay: env.relay, logs } = await startTestRelay(doc));
    const relay = env.relay;
    const [devices, far] = relay.listeners.map((l) => l.address.port) as [number, number];

    const { client } = await EdgeClient.open(devices);
    expect((await client.cmd(`AUTH PLAIN ${b64('\0scanner\0wrong-pw')}`)).code).toBe(535);
    expect((await client.cmd(`AUTH PLAIN ${b64('\0scanner\0right-pw')}`)).code).toBe(235);
    // a user Google does not know: permanent, to dead/
    const r = await client.send('nobody@clinic.example', ['alice@clinic.example'], message({ From: 'nobody@clinic.example', To: 'alice@clinic.example' }));
    expect(r.code).toBe(250);
    await client.quit();
    const refused = await EdgeClient.connect(far);
    expect(refused.greeting.code).toBe(554);
    refused.client.destroy();
    await logs.waitFor('delivery.failed');
    await logs.waitFor('delivery.ok'); // the failure notice to the sender

    await waitUntil(async () => (await scrape(relay)).total('workspace_relay_queue_messages', { workspace: 'clinic', state: 'dead' }) === 1, 10_000, 'dead/ counted');
    const m = await scrape(relay);
    expect(m.total('workspace_relay_auth_failures_total', { listener: 'devices' })).toBe(1);
    expect(m.total('workspace_relay_smtp_connections_refused_total', { listener: 'far', reason: 'session.refused' })).toBe(1);
    expect(m.total('workspace_relay_delivery_failures_total', { workspace: 'clinic', kind: 'permanent', code: 'delivery.no_such_user' })).toBe(1);
    expect(m.total('workspace_relay_messages_dead_total', { workspace: 'clinic', code: 'delivery.no_such_user' })).toBe(1);
    expect(m.total('workspace_relay_delivery_failures_total')).toBe(1);
    expect(m.total('workspace_relay_messages_accepted_total', { workspace: 'clinic', listener: 'devices' })).toBe(1);
    // the notice the relay wrote is delivered mail too (it was never accepted from a client)
    expect(m.total('workspace_relay_messages_delivered_total', { workspace: 'clinic' })).toBe(1);
  });
});
