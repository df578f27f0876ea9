/**
 * The delivery thread (queue.deliveryThread): sends run in a worker thread, and to the scheduler
 * nothing changes — results, classified errors, aborts, reloads, logs — even when the thread dies.
 * (Every relay test runs with the thread, the default; this file checks the boundary itself.)
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import type { Config } from '../src/config/schema.js';
import { DeliveryThread } from '../src/delivery/thread.js';
import { ConfigError, DeliveryError } from '../src/errors.js';
import type { MessageMeta } from '../src/spool/types.js';
import { rateLimitError, sha256 } from './support/fake-google.js';
import { LogCapture, gmailConfig, relayEnv, startTestRelay, waitUntil } from './support/harness.js';
import { SmtpClient, message } from './support/smtp-client.js';

const SENDER = 'alice@clinic.example';
const MESSAGE = Buffer.from('From: alice@clinic.example\r\nTo: bob@clinic.example\r\nSubject: Lab results for Jane Roe\r\nMessage-ID: <t1@x>\r\n\r\nPatient: Jane Roe\r\n');

describe('delivery thread', () => {
  const env = relayEnv();
  let thread: DeliveryThread | undefined;
  afterEach(async () => {
    await thread?.stop();
    thread = undefined;
  });

  let n = 0;
  function spooled(bytes = MESSAGE): { meta: MessageMeta; path: string } {
    const id = `T${n++}`;
    const file = path.join(env.dir, `${id}.eml`);
    writeFileSync(file, bytes);
    const now = new Date().toISOString();
    return {
      path: file,
      meta: {
        version: 1,
        id,
        receivedAt: now,
        workspace: 'clinic',
        mailFrom: SENDER,
        sender: SENDER,
        recipients: ['bob@clinic.example'],
        bcc: [],
        headerRecipients: ['bob@clinic.example'],
        messageId: 't1@x',
        from: SENDER,
        size: bytes.length,
        sha256: sha256(bytes),
        client: { address: '127.0.0.1' },
        attempts: 0,
        nextAttemptAt: now,
        lastError: null,
      },
    };
  }

  async function started(logs = new LogCapture()): Promise<{ config: Config; logs: LogCapture; thread: DeliveryThread }> {
    const config = parseConfig(gmailConfig(env.dir, env.google));
    thread = await DeliveryThread.start(logs.logger);
    return { config, logs, thread };
  }

  it('sends through the thread: the provider id comes back, the thread logs through the daemon logger', async () => {
    const { config, logs, thread } = await started();
    const transport = (await thread.transports(config)).get('clinic')!;
    expect(transport.name).toBe('gmail-api');
    const result = await transport.deliver(spooled(), new AbortController().signal);
    expect(env.google.fake.sent).toHaveLength(1);
    expect(result.providerId).toBe(env.google.fake.sent[0]!.id);
    expect(env.google.fake.sent[0]!.raw.equals(MESSAGE)).toBe(true);
    // a debug line of the transport, from the thread, with the workspace binding
    expect(logs.events('delivery.gmail_api.sent')).toEqual([expect.objectContaining({ workspace: 'clinic', sender: SENDER, providerId: result.providerId })]);
    expect(logs.raw.join('\n')).not.toMatch(/Jane Roe|Lab results/);
  });

  it('a failure comes back as the same DeliveryError: kind, status, retry time, fix', async () => {
    const { config, thread } = await started();
    const transport = (await thread.transports(config)).get('clinic')!;
    const retryAt = new Date(Date.now() + 60_000);
    env.google.fake.failNext(rateLimitError(retryAt));
    const limited = await transport.deliver(spooled(), new AbortController().signal).catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(DeliveryError);
    expect(limited).toMatchObject({ code: 'delivery.rate_limited', kind: 'temporary', status: 429 });
    expect((limited as DeliveryError).retryAfter?.getTime()).toBe(retryAt.getTime());

    env.google.fake.revoke(env.google.sa.clientId);
    env.google.fake.expireAllTokens();
    const held = await transport.deliver(spooled(), new AbortController().signal).catch((e: unknown) => e);
    expect(held).toBeInstanceOf(DeliveryError);
    expect(held).toMatchObject({ kind: 'held' });
    expect((held as DeliveryError).fix).toContain(env.google.sa.clientId);
  });

  it('an abort reaches the send in the thread', async () => {
    const { config, thread } = await started();
    const transport = (await thread.transports(config)).get('clinic')!;
    env.google.fake.sendLatencyMs = 5_000;
    const controller = new AbortController();
    const started_ = Date.now();
    const pending = transport.deliver(spooled(), controller.signal).catch((e: unknown) => e);
    await waitUntil(() => env.google.fake.requests.some((r) => r.url.pathname.includes('/messages/send')), 5_000, 'the send to start');
    controller.abort(new Error('shutting down'));
    const err = await pending;
    expect(err).toBeInstanceOf(DeliveryError);
    expect((err as DeliveryError).kind).toBe('temporary');
    expect(Date.now() - started_).toBeLessThan(4_000);
  });

  it('a config whose transports cannot be built is refused with the key to fix', async () => {
    const { thread } = await started();
    const doc = gmailConfig(env.dir, env.google);
    doc.workspaces[0]!.gmailApi = { serviceAccountKeyFile: path.join(env.dir, 'missing.json') };
    const bad = parseConfig(doc);
    const err = await thread.transports(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).path).toBe('workspaces[0].gmailApi.serviceAccountKeyFile');
  });

  it('when the thread dies, the send in flight fails as temporary (may have reached Google) and a new thread takes the next', async () => {
    const { config, logs, thread } = await started();
    const transport = (await thread.transports(config)).get('clinic')!;
    env.google.fake.sendLatencyMs = 2_000;
    const pending = transport.deliver(spooled(), new AbortController().signal).catch((e: unknown) => e);
    await waitUntil(() => env.google.fake.requests.some((r) => r.url.pathname.includes('/messages/send')), 5_000, 'the send to start');
    await thread['worker']!.terminate(); // what a crash of the thread looks like from outside
    const err = await pending;
    expect(err).toBeInstanceOf(DeliveryError);
    expect(err).toMatchObject({ code: 'delivery.thread_stopped', kind: 'temporary', outcomeUnknown: true });
    env.google.fake.sendLatencyMs = 0;
    const next = await transport.deliver(spooled(), new AbortController().signal);
    expect(next.providerId).not.toBe('');
    expect(logs.events('delivery.thread_failed')).toEqual([]); // a clean exit is not an error in the thread
  });

  it('a relay delivers with the thread off too (queue.deliveryThread: false)', async () => {
    const doc = gmailConfig(env.dir, env.google);
    doc.queue = { ...doc.queue, deliveryThread: false };
    let port: number;
    ({ relay: env.relay, port } = await startTestRelay(doc));
    const c = await SmtpClient.open(port);
    expect((await c.send(SENDER, ['bob@clinic.example'], message({ From: SENDER, To: 'bob@clinic.example', 'Message-ID': '<off@x>' }))).code).toBe(250);
    await c.quit();
    await waitUntil(() => env.google.fake.sent.length === 1, 5_000, 'the delivery');
    expect(env.google.fake.sent[0]!.user).toBe(SENDER);
  });
});
