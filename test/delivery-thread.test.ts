/**
 * The delivery thread (queue.deliveryThread): attempts run in a worker thread, and to the
 * scheduler nothing changes — results, classified errors, aborts, reloads, logs, the sent log —
 * even when the thread dies. (Every relay test runs with the thread, the default; this file
 * checks the boundary itself.)
 */
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import type { Config } from '../src/config/index.js';
import { ConfigError, DeliveryError } from '../src/errors.js';
import { loadServiceAccountKey } from '../src/google/index.js';
import { DeliveryThread, type AttemptRun } from '../src/queue/index.js';
import { Spool, createQueueId } from '../src/spool/index.js';
import { rateLimitError } from './support/fake-google.js';
import { LogCapture, gmailConfig, relayEnv, startTestRelay, waitUntil } from './support/harness.js';
import { SmtpClient, message, queueIdOf } from './support/smtp-client.js';
import { makeMeta } from './support/spool-meta.js';
import { sentLogHas } from './support/crash-spool.js';

const SENDER = 'alice@clinic.example';
const MESSAGE = Buffer.from('From: alice@clinic.example\r\nTo: bob@clinic.example\r\nSubject: Lab results for Jane Roe\r\nMessage-ID: <t1@x>\r\n\r\nPatient: Jane Roe\r\n');

describe('delivery thread', () => {
  const env = relayEnv();
  let thread: DeliveryThread | undefined;
  let spool: Spool;
  let config: Config;
  let logs: LogCapture;
  beforeEach(async () => {
    config = parseConfig(gmailConfig(env.dir, env.google));
    spool = await Spool.open(config.queue.dir);
    logs = new LogCapture();
  });
  afterEach(async () => {
    await thread?.stop();
    thread = undefined;
  });

  /** A message committed to the spool, as the listener would (a unique Message-ID each). */
  async function queued(tag = createQueueId()): Promise<string> {
    const id = createQueueId();
    const bytes = Buffer.from(MESSAGE.toString().replace('<t1@x>', `<${tag}@x>`));
    const w = spool.createWriter(id);
    await w.write(bytes);
    await w.commit(makeMeta(id, { sender: SENDER, mailFrom: SENDER, recipients: ['bob@clinic.example'], headerRecipients: ['bob@clinic.example'], messageId: `${tag}@x`, from: SENDER }));
    return id;
  }

  async function thread_generation() {
    thread = await DeliveryThread.start(config, config.queue.dir, logs.logger);
    const generation = await thread.generation(config);
    generation.activate();
    return generation;
  }
  const executor = async () => (await thread_generation()).executor;

  /** Another configuration generation in the running thread, with its own copy of the key file. */
  async function generationWithOwnKey(name: string) {
    const keyFile = path.join(env.dir, name);
    writeFileSync(keyFile, readFileSync(env.google.keyFile), { mode: 0o600 });
    const doc = gmailConfig(env.dir, env.google);
    doc.workspaces[0]!.gmailApi = { serviceAccountKeyFile: keyFile };
    return { generation: await thread!.generation(parseConfig(doc)), keyFile };
  }

  const sent = (run: AttemptRun) => {
    expect(run.kind).toBe('sent');
    return run as Extract<AttemptRun, { kind: 'sent' }>;
  };
  const failure = (run: AttemptRun) => {
    expect(run.kind).toBe('failed');
    const error = (run as Extract<AttemptRun, { kind: 'failed' }>).error;
    expect(error).toBeInstanceOf(DeliveryError);
    return error as DeliveryError;
  };

  it('claims, sends, records and completes in the thread; its log lines reach the daemon logger', async () => {
    const run = await (await executor()).run(await queued('a1'), new AbortController().signal);
    const ok = sent(run);
    expect(ok).toMatchObject({ transport: 'gmail-api', completed: true, outcome: { kind: 'delivered' } });
    expect(env.google.fake.sent).toHaveLength(1);
    expect(ok.outcome.kind === 'delivered' && ok.outcome.result.providerId).toBe(env.google.fake.sent[0]!.id);
    expect(await spool.find(ok.meta.id)).toBeNull(); // completed: gone from the spool
    expect(sentLogHas(config.queue.dir, SENDER, ok.meta.sha256)).toBe(true);
    // a debug line of the transport, from the thread, with the workspace binding
    expect(logs.events('delivery.gmail_api.sent')).toEqual([expect.objectContaining({ workspace: 'clinic', sender: SENDER })]);
    expect(logs.raw.join('\n')).not.toMatch(/Jane Roe|Lab results/);
  });

  it('runs at the lowest priority, nice 19 (accepting comes first under load)', async () => {
    await executor();
    const base = os.getPriority();
    const expected = 19;
    expect(logs.events('delivery.thread_started')).toEqual([expect.objectContaining({ nice: expected })]);
    // the kernel agrees: one thread of this process runs at that nice value (field 19 of its stat)
    const nices = readdirSync('/proc/self/task').map((tid) => Number(readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ')[16]));
    expect(nices.filter((n) => n === expected).length).toBeGreaterThanOrEqual(1);
    expect(os.getPriority()).toBe(base); // the daemon's own thread is untouched
  });

  it('a message already sent (the same bytes again) is suppressed by the thread’s sent log', async () => {
    const run = await executor();
    const a = sent(await run.run(await queued('dup'), new AbortController().signal));
    const b = sent(await run.run(await queued('dup'), new AbortController().signal));
    expect(a.outcome.kind).toBe('delivered');
    expect(b.outcome.kind).toBe('suppressed');
    expect(env.google.fake.sent).toHaveLength(1);
  });

  it('a failure comes back as the same DeliveryError (kind, status, retry time, fix), the message left in active/', async () => {
    const run = await executor();
    const retryAt = new Date(Date.now() + 60_000);
    env.google.fake.failNext(rateLimitError(retryAt));
    const id = await queued();
    const limited = failure(await run.run(id, new AbortController().signal));
    expect(limited).toMatchObject({ code: 'delivery.rate_limited', kind: 'temporary', status: 429 });
    expect(limited.retryAfter?.getTime()).toBe(retryAt.getTime());
    expect((await spool.find(id))?.state).toBe('active');

    env.google.fake.revoke(env.google.sa.clientId);
    env.google.fake.expireAllTokens();
    const held = failure(await run.run(await queued(), new AbortController().signal));
    expect(held.kind).toBe('held');
    expect(held.fix).toContain(env.google.sa.clientId);
  });

  it('a message not in the queue is reported as such', async () => {
    const run = await executor();
    expect(await run.run(createQueueId(), new AbortController().signal)).toEqual({ kind: 'not_queued' });
  });

  it('an abort reaches the send in the thread', async () => {
    const run = await executor();
    env.google.fake.sendLatencyMs = 5_000;
    const controller = new AbortController();
    const t0 = Date.now();
    const pending = run.run(await queued(), controller.signal);
    await waitUntil(() => env.google.fake.requests.some((r) => r.url.pathname.includes('/messages/send')), 5_000, 'the send to start');
    controller.abort(new Error('shutting down'));
    expect(failure(await pending).kind).toBe('temporary');
    expect(Date.now() - t0).toBeLessThan(4_000);
  });

  it('a config whose transports cannot be built is refused with the key to fix', async () => {
    await executor();
    const doc = gmailConfig(env.dir, env.google);
    doc.workspaces[0]!.gmailApi = { serviceAccountKeyFile: path.join(env.dir, 'missing.json') };
    const err = await thread!.generation(parseConfig(doc)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).path).toBe('workspaces[0].gmailApi.serviceAccountKeyFile');
  });

  it('when the thread dies, the run in flight rejects (outcome unknown) and a new thread takes the next', async () => {
    const run = await executor();
    env.google.fake.sendLatencyMs = 2_000;
    const pending = run.run(await queued(), new AbortController().signal).catch((e: unknown) => e);
    await waitUntil(() => env.google.fake.requests.some((r) => r.url.pathname.includes('/messages/send')), 5_000, 'the send to start');
    await thread!['worker']!.terminate(); // what a crash of the thread looks like from outside
    expect(await pending).toMatchObject({ code: 'delivery.thread_stopped', kind: 'temporary', outcomeUnknown: true });
    env.google.fake.sendLatencyMs = 0;
    // runs that arrive while the new thread starts wait for it to have its configuration
    const ids = await Promise.all(Array.from({ length: 5 }, () => queued()));
    const runs = await Promise.all(ids.map((id) => run.run(id, new AbortController().signal)));
    for (const r of runs) expect(sent(r).completed).toBe(true);
    expect(logs.events('delivery.thread_failed')).toEqual([expect.objectContaining({ exitCode: 1 })]);
  });

  it('a restarted thread drops a configuration that no longer builds, and delivers with the current one', async () => {
    const current = await executor();
    // an older configuration whose key file is deleted afterwards (an admin rotated the key)
    const { keyFile } = await generationWithOwnKey('old-key.json');
    rmSync(keyFile);
    await thread!['worker']!.terminate();
    expect(sent(await current.run(await queued(), new AbortController().signal)).completed).toBe(true);
    expect(logs.events('delivery.thread_failed').some((l) => l.generation !== undefined && /old-key\.json/.test(String(l.err)))).toBe(true);
  });

  it('a restarted thread that cannot rebuild the current configuration delivers with the newest one that builds', async () => {
    const older = await executor();
    const { generation: current, keyFile } = await generationWithOwnKey('new-key.json');
    current.activate();
    rmSync(keyFile); // the current configuration's key is gone
    await thread!['worker']!.terminate();
    expect(sent(await older.run(await queued(), new AbortController().signal)).completed).toBe(true);
    expect(logs.events('delivery.thread_failed').some((l) => l.alert === true && /newest one that could/.test(String(l.msg)))).toBe(true);
  });

  it('a restarted thread that can rebuild no configuration stays up without one: attempts wait, and the next configuration (a reload) delivers', async () => {
    thread = await DeliveryThread.start(config, config.queue.dir, logs.logger);
    const { generation: only, keyFile } = await generationWithOwnKey('only-key.json');
    only.activate();
    rmSync(keyFile);
    await thread['worker']!.terminate();
    const waiting = await only.executor.run(await queued(), new AbortController().signal);
    expect(waiting.kind).toBe('claim_failed'); // put back by the scheduler, its attempt not counted
    expect(logs.events('delivery.thread_failed').some((l) => l.alert === true && /could not rebuild any configuration/.test(String(l.msg)))).toBe(true);
    const next = await thread.generation(config);
    next.activate();
    expect(sent(await next.executor.run(await queued(), new AbortController().signal)).completed).toBe(true);
  });

  it("a kept practice's key that the thread never read good (broken in place since) is built from the key as the daemon last read it good, in a new thread too", async () => {
    await executor();
    const keyFile = path.join(env.dir, 'kept-key.json');
    writeFileSync(keyFile, readFileSync(env.google.keyFile), { mode: 0o600 });
    loadServiceAccountKey(keyFile, 'workspaces[0].gmailApi.serviceAccountKeyFile'); // the daemon's check of the practice read it good
    writeFileSync(keyFile, '{ broken');
    const doc = gmailConfig(env.dir, env.google);
    doc.workspaces[0]!.gmailApi = { serviceAccountKeyFile: keyFile };
    const running = parseConfig(doc);
    const practice = { file: path.join(env.dir, 'conf.d/clinic.yaml'), digest: 'sha256', workspaces: running.workspaces, listen: [], devices: [], problem: null };
    // a practice that runs on its settings: its key is read as it is now
    await expect(thread!.generation({ ...running, practices: [practice] })).rejects.toThrow(/kept-key\.json is not JSON/);
    // kept on its running settings at a reload: the key as last read good
    const kept = await thread!.generation({ ...running, practices: [{ ...practice, refused: 'conf.d/clinic.yaml: not valid YAML' }] });
    kept.activate();
    expect(sent(await kept.executor.run(await queued(), new AbortController().signal)).completed).toBe(true);
    await thread!['worker']!.terminate();
    expect(sent(await kept.executor.run(await queued(), new AbortController().signal)).completed).toBe(true);
  });

  it('attempts use the configuration made current last (a reload that removed a domain holds the mail)', async () => {
    const first = await thread_generation();
    const doc = gmailConfig(env.dir, env.google);
    doc.workspaces[0]!.domains = ['elsewhere.example'];
    doc.workspaces[0]!.senders = { map: {}, default: null };
    const narrowed = await thread!.generation(parseConfig(doc));
    narrowed.activate();
    // an attempt ordered through the older generation's executor is still checked against the current one
    const err = failure(await first.executor.run(await queued(), new AbortController().signal));
    expect(err).toMatchObject({ code: 'delivery.outside_workspace_now', kind: 'held' });
    first.activate();
    expect(sent(await first.executor.run(await queued(), new AbortController().signal)).completed).toBe(true);
  });

  it('a relay whose thread dies mid-send puts the message back and delivers it', async () => {
    let port: number;
    ({ relay: env.relay, port } = await startTestRelay(gmailConfig(env.dir, env.google), logs));
    env.google.fake.sendLatencyMs = 1_500;
    const c = await SmtpClient.open(port);
    expect((await c.send(SENDER, ['bob@clinic.example'], message({ From: SENDER, To: 'bob@clinic.example', 'Message-ID': '<cut@x>' }))).code).toBe(250);
    await c.quit();
    await waitUntil(() => env.google.fake.requests.some((r) => r.url.pathname.includes('/messages/send')), 5_000, 'the send to start');
    await env.relay.deliveryThread!['worker']!.terminate();
    env.google.fake.sendLatencyMs = 0;
    // put back and sent again (the first send was cut off before Google answered: not recorded)
    await waitUntil(() => env.google.fake.sent.filter((s) => s.answeredAt !== undefined).length >= 1, 10_000, 'the delivery after the restart');
    await waitUntil(async () => (await env.relay!.spool.list('queue')).length === 0 && (await env.relay!.spool.list('active')).length === 0, 5_000, 'an empty queue');
    expect(logs.events('delivery.possible_duplicate')).toHaveLength(1);
    expect(logs.events('queue.claim_failed')).toEqual([]); // not a claim that failed
    expect(await env.relay.spool.list('dead')).toEqual([]);
  });

  it('a message during which the thread dies every time counts its attempts and ends in dead/, not in a loop', async () => {
    let port: number;
    const doc = gmailConfig(env.dir, env.google);
    doc.queue = { ...doc.queue, maxAge: '4s' };
    ({ relay: env.relay, port } = await startTestRelay(doc, logs));
    env.google.fake.sendLatencyMs = 60_000; // every send hangs until the thread is killed under it
    const c = await SmtpClient.open(port);
    const r = await c.send(SENDER, ['bob@clinic.example'], message({ From: SENDER, To: 'bob@clinic.example', 'Message-ID': '<poison@x>' }));
    await c.quit();
    const id = queueIdOf(r);
    let kills = 0;
    const sends = () => env.google.fake.requests.filter((q) => q.url.pathname.includes('/messages/send')).length;
    while (!(await env.relay.spool.get('dead', id)) && kills < 40) {
      const before = sends();
      const started = await waitUntil(() => sends() > before, 3_000, 'a send').then(() => true, () => false);
      if (started) {
        await env.relay.deliveryThread!['worker']!.terminate();
        kills++;
      }
    }
    const dead = await env.relay.spool.get('dead', id);
    expect(dead).not.toBeNull();
    expect(dead!.attempts).toBe(kills); // each death counted as an attempt
    expect(kills).toBeLessThan(40);
    expect(logs.events('delivery.failed').filter((l) => l.queueId === id)).toEqual([
      expect.objectContaining({ expired: true, code: 'delivery.thread_stopped', attempts: kills }),
    ]);
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
