/**
 * The message trace: a delivered message is found by each key (queue id, the Message-ID it left
 * with, sender, recipient, time range) with where it came from, each attempt and Google's id;
 * also dead and refused mail; `workspace-relay trace` prints it; no subject or body is kept.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { CliExit, EXIT_USAGE } from '../src/cli/exit-codes.js';
import { registerTraceCommand } from '../src/cli/trace.js';
import type { Config } from '../src/config/index.js';
import { TraceFiles, findTraces, type TraceQuery } from '../src/trace/index.js';
import { messageIdOf } from './support/fake-google.js';
import { gmailConfig, relayEnv, startTestRelay, waitUntil, type LogCapture } from './support/harness.js';
import { SmtpClient, queueIdOf } from './support/smtp-client.js';

/** A scanner's message: no Message-ID (the relay adds one), a subject and body that must stay out of the trace. */
const SCAN = 'From: scanner@printer.local\r\nTo: Bob <bob@clinic.example>\r\nSubject: Fax for Jane Roe\r\nDate: Sun, 22 Nov 2026 08:00:00 +0000\r\n\r\nPatient Jane Roe, results attached.\r\n';

describe('message trace', () => {
  const env = relayEnv();

  async function cli(config: Config, args: string[]): Promise<{ out: string; err: string; exit: number }> {
    let out = '';
    let err = '';
    const program = new Command().exitOverride();
    registerTraceCommand(program, { loadConfig: () => config, stdout: (s) => (out += s), stderr: (s) => (err += s), env: { SUDO_USER: 'admin' } });
    try {
      await program.parseAsync(['node', 'workspace-relay', 'trace', ...args]);
      return { out, err, exit: 0 };
    } catch (e) {
      if (e instanceof CliExit) return { out, err: err + e.message, exit: e.exitCode };
      throw e;
    }
  }

  it('finds a delivered message by queue id, Message-ID, sender, recipient and time range', async () => {
    const doc = gmailConfig(env.dir, env.google, { listen: [{ host: '127.0.0.1', port: 0, name: 'scanners' }], audit: { file: path.join(env.dir, 'audit.log') } });
    let logs: LogCapture;
    let port: number;
    let config: Config;
    ({ relay: env.relay, logs, port, config } = await startTestRelay(doc));
    const before = Date.now() - 1;
    const c = await SmtpClient.open(port);
    const reply = await c.send('scanner@printer.local', ['bob@clinic.example'], SCAN);
    expect(reply.code).toBe(250);
    const id = queueIdOf(reply);
    await logs.waitFor('delivery.ok');
    const after = Date.now() + 1;
    const sent = env.google.fake.sent[0]!;

    // the log's Message-ID is the one Google got (the relay's own, added at accept time)
    const accepted = logs.events('message.accepted')[0]!;
    const messageId = messageIdOf(sent.raw)!;
    expect(accepted).toMatchObject({ queueId: id, workspace: 'clinic', messageId, messageIdAdded: true, outcome: 'accepted', listener: 'scanners' });
    expect(logs.events('delivery.ok')[0]).toMatchObject({ queueId: id, workspace: 'clinic', messageId, outcome: 'delivered', providerId: sent.id });

    const files = TraceFiles.inSpool(path.join(env.dir, 'spool'));
    const find = (q: TraceQuery) => findTraces(files, q);
    await waitUntil(async () => (await find({ queueId: id })).traces[0]?.outcome === 'delivered', 10_000, 'the delivery in the trace');

    const byKey: TraceQuery[] = [
      { queueId: id },
      { messageId: `<${messageId}>` },
      { sender: 'scanner@printer.local' },
      { sender: 'scans@clinic.example' },
      { recipient: 'Bob <BOB@clinic.example>' },
      { since: before, until: after, recipient: 'bob@clinic.example' },
    ];
    for (const q of byKey) {
      const { traces } = await find(q);
      expect(traces.map((t) => t.queueId), JSON.stringify(q)).toEqual([id]);
      const t = traces[0]!;
      expect(t).toMatchObject({ workspace: 'clinic', outcome: 'delivered' });
      expect(t.accepted).toMatchObject({ listener: 'scanners', client: { address: '127.0.0.1' }, mailFrom: 'scanner@printer.local', sender: 'scans@clinic.example', recipients: ['bob@clinic.example'], messageId, messageIdAdded: true });
      expect(t.attempts).toEqual([expect.objectContaining({ outcome: 'delivered', transport: 'gmail-api', providerId: sent.id })]);
    }
    expect((await find({ since: after + 60_000 })).traces).toEqual([]);
    expect((await find({ until: before - 60_000 })).traces).toEqual([]);
    expect((await find({ messageId: 'other@clinic.example' })).traces).toEqual([]);

    // refused at RCPT: in the trace too, by its recipient (and beside the delivered one, by sender)
    expect((await c.send('scanner@printer.local', ['eve@outside.example'], SCAN)).code).toBe(550);
    await c.quit();
    await waitUntil(async () => (await find({ sender: 'scanner@printer.local' })).traces.length === 2, 10_000, 'the refusal in the trace');
    const refused = (await find({ recipient: 'eve@outside.example' })).traces;
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ queueId: null, workspace: 'clinic', outcome: 'rejected', rejected: { stage: 'rcpt', reason: 'policy.recipient_refused', reply: '550 5.7.1', mailFrom: 'scanner@printer.local' } });

    // the command: human and --json, and on the audit record
    const human = await cli(config, ['--message-id', messageId]);
    expect(human.exit).toBe(0);
    expect(human.out).toContain(`${id}  clinic  delivered`);
    expect(human.out).toContain(`Google id ${sent.id}`);
    expect(human.out).toContain(`Message-ID <${messageId}> (added by the relay)`);
    expect(human.out).toContain('from 127.0.0.1 on listener scanners');
    const json = await cli(config, ['--id', id, '--json']);
    expect((JSON.parse(json.out) as { messages: { queueId: string; attempts: { providerId: string }[] }[] }).messages[0]).toMatchObject({ queueId: id, attempts: [{ providerId: sent.id }] });
    const none = await cli(config, ['--recipient', 'nobody@clinic.example']);
    expect(none.exit).toBe(1);
    expect(none.err).toMatch(/no message matches/);
    expect((await cli(config, [])).exit).toBe(EXIT_USAGE);
    expect((await cli(config, ['--since', 'yesterday-ish'])).exit).toBe(EXIT_USAGE);
    const audit = readFileSync(path.join(env.dir, 'audit.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(audit.filter((a) => a.action === 'trace.find')).toHaveLength(3);
    expect(audit[0]).toMatchObject({ action: 'trace.find', query: { messageId }, ids: [id] });

    // the files: no subject or body, owner-only
    const dir = path.join(env.dir, 'spool', 'trace');
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const names = readdirSync(dir);
    expect(names).toEqual([`${new Date().toISOString().slice(0, 10)}.jsonl`]);
    expect(statSync(path.join(dir, names[0]!)).mode & 0o777).toBe(0o600);
    const raw = readFileSync(path.join(dir, names[0]!), 'utf8');
    expect(raw).not.toMatch(/Jane|Roe|Fax|results attached/);
  });

  it('shows a dead message with its reason, and every attempt of a retried one', async () => {
    env.google.fake.addUser('postmaster@clinic.example');
    const doc = gmailConfig(env.dir, env.google);
    let logs: LogCapture;
    let port: number;
    ({ relay: env.relay, logs, port } = await startTestRelay(doc));
    const c = await SmtpClient.open(port);
    const dead = queueIdOf(await c.send('nobody@clinic.example', ['alice@clinic.example'], SCAN.replace('scanner@printer.local', 'nobody@clinic.example')));
    env.google.fake.failNext({ status: 503, body: { error: { code: 503, message: 'Backend Error', status: 'UNAVAILABLE' } } });
    const retried = queueIdOf(await c.send('alice@clinic.example', ['bob@clinic.example'], SCAN.replace('scanner@printer.local', 'alice@clinic.example')));
    await c.quit();
    await logs.waitFor('delivery.failed');
    await logs.waitFor('delivery.ok', 2); // the retried message and the failure notice
    const files = TraceFiles.inSpool(path.join(env.dir, 'spool'));
    await waitUntil(async () => (await findTraces(files, { queueId: retried })).traces[0]?.outcome === 'delivered', 10_000, 'the retry in the trace');
    await waitUntil(async () => (await findTraces(files, { queueId: dead })).traces[0]?.outcome === 'failed', 10_000, 'the failure in the trace');
    const [d] = (await findTraces(files, { sender: 'nobody@clinic.example' })).traces;
    expect(d).toMatchObject({ queueId: dead, outcome: 'failed' });
    expect(d!.attempts).toEqual([expect.objectContaining({ outcome: 'failed', code: 'delivery.no_such_user', kind: 'permanent' })]);
    const [r] = (await findTraces(files, { queueId: retried })).traces;
    expect(r!.attempts.map((a) => a.outcome)).toEqual(['deferred', 'delivered']);
    expect(r!.attempts[0]).toMatchObject({ kind: 'temporary', nextAttemptAt: expect.any(String) });
  });
});
